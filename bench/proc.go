package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a child process of the bench. Children get their own process
// group, so that a Ctrl-C reaches only the bench, which then stops them by
// PID; and they are killed if the bench dies without stopping them.
type proc struct {
	name    string
	cmd     *exec.Cmd
	pid     int
	started time.Time
	exited  chan struct{} // closed when the process has exited
	waitErr error
	log     *logWatch
}

// startProc starts argv with stdout and stderr read by a logWatch that
// writes them to logPath.
func startProc(name, logPath string, env []string, argv ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	pr, pw, err := os.Pipe()
	if err != nil {
		f.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &proc{name: name, cmd: cmd, exited: make(chan struct{}), log: newLogWatch(f)}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		f.Close()
		return nil, fmt.Errorf("bench: starting %s: %w", name, err)
	}
	pw.Close() // the child holds its own copy
	p.pid = cmd.Process.Pid
	scanned := make(chan struct{})
	go func() {
		p.log.scan(pr)
		pr.Close()
		close(scanned)
	}()
	go func() {
		p.waitErr = cmd.Wait()
		<-scanned
		f.Close()
		close(p.exited)
	}()
	return p, nil
}

// running reports whether the process has not exited.
func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// exitCode is the exit status once exited, -1 for a signal.
func (p *proc) exitCode() int {
	if p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// wait waits for the process to exit, at most d; it reports whether it did.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.exited:
		return true
	case <-time.After(d):
		return false
	}
}

// stop sends SIGTERM and, after grace, SIGKILL, to this process's PID only.
// It returns how long the process took to exit and whether it had to be
// killed.
func (p *proc) stop(grace time.Duration) (took time.Duration, killed bool) {
	if !p.running() {
		return 0, false
	}
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if p.wait(grace) {
		return time.Since(start), false
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(10 * time.Second)
	return time.Since(start), true
}

// memory reads VmRSS and VmHWM (the peak RSS) from /proc/PID/status.
func (p *proc) memory() (rss, hwm uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return 0, 0, err
	}
	return parseStatus(b)
}

func parseStatus(b []byte) (rss, hwm uint64, err error) {
	found := 0
	for _, line := range strings.Split(string(b), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(value) // "123456 kB"
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("bench: unexpected %s line %q", name, line)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("bench: no VmRSS/VmHWM in /proc status")
	}
	return rss, hwm, nil
}

// logWatch reads a child's output, writes it to a file and keeps what the
// bench looks for. callrep writes one access-log line per request; those
// are counted, not kept or written, so that a load run neither fills the
// disk nor the bench's memory.
type logWatch struct {
	f *os.File

	mu       sync.Mutex
	lines    []logLine
	gcs      []gcTrace
	requests int64
	tail     []string // the last lines of any kind, for error reports
	lastText string   // the last line that is not a gctrace line
}

// logLine is one kept line of output.
type logLine struct {
	at   time.Time
	text string
}

// gcTrace is one line of GODEBUG=gctrace=1: a finished GC cycle.
type gcTrace struct {
	at     time.Time // when the bench read it
	n      int
	uptime float64 // seconds since the process started
	// liveMB is the heap marked live by the cycle, in MiB (the runtime
	// prints megabytes as 2^20 bytes).
	liveMB int
}

func newLogWatch(f *os.File) *logWatch { return &logWatch{f: f} }

var accessLog = []byte(`"msg":"request"`)

func (w *logWatch) scan(r io.Reader) {
	br := bufio.NewReaderSize(r, 256<<10)
	bw := bufio.NewWriterSize(w.f, 64<<10)
	defer bw.Flush()
	lastFlush := time.Now()
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			w.add(line, bw)
		}
		if time.Since(lastFlush) > time.Second {
			bw.Flush()
			lastFlush = time.Now()
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			// An overlong line: the rest of it arrives as the next slices.
			continue
		}
		if err != nil {
			return
		}
	}
}

func (w *logWatch) add(line []byte, bw *bufio.Writer) {
	if bytes.Contains(line, accessLog) {
		w.mu.Lock()
		w.requests++
		w.mu.Unlock()
		return
	}
	bw.Write(line)
	text := strings.TrimRight(string(line), "\r\n")
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tail = append(w.tail, text)
	if len(w.tail) > 20 {
		w.tail = w.tail[len(w.tail)-20:]
	}
	if g, ok := parseGCTrace(text); ok {
		g.at = now
		w.gcs = append(w.gcs, g)
		return
	}
	w.lastText = text
	if len(w.lines) < 100_000 {
		w.lines = append(w.lines, logLine{at: now, text: text})
	}
}

// from returns the kept lines from index i on, and the next index.
func (w *logWatch) from(i int) ([]logLine, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i >= len(w.lines) {
		return nil, len(w.lines)
	}
	return append([]logLine(nil), w.lines[i:]...), len(w.lines)
}

// gcsFrom returns the GC cycles from index i on, and the next index.
func (w *logWatch) gcsFrom(i int) ([]gcTrace, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i >= len(w.gcs) {
		return nil, len(w.gcs)
	}
	return append([]gcTrace(nil), w.gcs[i:]...), len(w.gcs)
}

// lastLog returns the last line of output that is not a gctrace line, for
// progress reports.
func (w *logWatch) lastLog() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastText
}

// lastLines returns the last lines of output, access log excluded.
func (w *logWatch) lastLines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.tail...)
}

// find returns the first kept line for which match is true.
func (w *logWatch) find(match func(text string) bool) (logLine, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.lines {
		if match(l.text) {
			return l, true
		}
	}
	return logLine{}, false
}

var gcTraceRE = regexp.MustCompile(`^gc (\d+) @([0-9.]+)s .*?, (\d+)->(\d+)->(\d+) MB`)

// parseGCTrace reads a gctrace line such as
// "gc 7 @0.580s 3%: 3.3+20+0.21 ms clock, 6.6+0/6.6/0+0.43 ms cpu, 14->15->7 MB, 16 MB goal, ...".
func parseGCTrace(s string) (gcTrace, bool) {
	m := gcTraceRE.FindStringSubmatch(s)
	if m == nil {
		return gcTrace{}, false
	}
	n, _ := strconv.Atoi(m[1])
	up, _ := strconv.ParseFloat(m[2], 64)
	live, _ := strconv.Atoi(m[5])
	return gcTrace{n: n, uptime: up, liveMB: live}, true
}

// jsonLog is the part of a callrep log line the bench reads.
type jsonLog struct {
	Msg       string  `json:"msg"`
	Level     string  `json:"level"`
	Job       string  `json:"job"`
	Err       string  `json:"err"`
	Took      string  `json:"took"`
	Numbers   *int    `json:"numbers"`
	Reporters *int    `json:"reporters"`
	Labels    *int    `json:"labels"`
	Startup   string  `json:"startup"`
	Seconds   float64 `json:"seconds"`
}

// parseJSONLog parses a JSON log line; ok is false for anything else.
func parseJSONLog(s string) (jsonLog, bool) {
	if !strings.HasPrefix(s, "{") {
		return jsonLog{}, false
	}
	var l jsonLog
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return jsonLog{}, false
	}
	return l, true
}
