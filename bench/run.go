package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// benchLimits raise callrep's rate limits and report quotas so that they
// never refuse the bench's load, which comes from one address and 200
// reporters.
var benchLimits = []string{
	"--rate", "100000000", "--burst", "100000000",
	"--signed-in-rate", "100000000", "--signed-in-burst", "100000000",
	"--reports-per-minute", "100000000", "--report-burst", "100000000",
	"--daily-reports", "0",
}

// bench is one run.
type bench struct {
	cfg         config
	root        string
	stdout      io.Writer
	started     time.Time
	invocation  string
	interrupted bool

	work, bin, dataDir string
	machine            machineInfo
	figures            []figure
	details            []string
	notes              []string
	commands           []string
	cleanups           []func()

	callrepBin, ginBin string
	empty              emptyReading
	under              *server   // the callrep under load, whose log watch notes
	loadavgs           []float64 // 1-min load average at the start of each load run
	ds                 *dataset
	coldSize           int
	csvRows            int
}

// logf prints a progress line with the time since the start.
func (b *bench) logf(format string, args ...any) {
	el := time.Since(b.started)
	fmt.Fprintf(b.stdout, "[%3d:%02d] %s\n", int(el.Minutes()), int(el.Seconds())%60, fmt.Sprintf(format, args...))
}

func (b *bench) detail(format string, args ...any) {
	b.details = append(b.details, fmt.Sprintf(format, args...))
}

func (b *bench) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	b.notes = append(b.notes, s)
	b.logf("note: %s", s)
}

func (b *bench) command(argv ...string) {
	parts := make([]string, len(argv))
	for i, a := range argv {
		a = strings.ReplaceAll(a, b.dataDir, "$DATA")
		a = strings.ReplaceAll(a, b.work, "$W")
		if a == "" || strings.ContainsAny(a, " '\"$()*?") && !strings.HasPrefix(a, "$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts[i] = a
	}
	b.commands = append(b.commands, strings.Join(parts, " "))
}

// rawCommand records a shell line as it is.
func (b *bench) rawCommand(line string) { b.commands = append(b.commands, line) }

func (b *bench) addFigure(f figure) {
	b.figures = append(b.figures, f)
	b.logf("figure: %s: %s (target %s) %s", f.name, f.measured, f.target, f.result())
}

// onCleanup registers fn to run at the end, last registered first.
func (b *bench) onCleanup(fn func()) { b.cleanups = append(b.cleanups, fn) }

func (b *bench) cleanup() {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
	b.cleanups = nil
}

// scaled is a step timeout: base plus perMillion for each million numbers,
// times -timeouts.
func (b *bench) scaled(base, perMillion time.Duration) time.Duration {
	d := base + time.Duration(float64(perMillion)*float64(b.cfg.numbers)/1e6)
	return time.Duration(float64(d) * b.cfg.timeouts)
}

// run does every step. Only a failure that leaves nothing to measure (no
// binary) is returned; the others become FAIL figures and notes.
func (b *bench) run(ctx context.Context) error {
	if err := b.setup(); err != nil {
		return err
	}
	b.machineInfo(ctx)
	if err := b.build(ctx); err != nil {
		return err
	}
	b.emptyBaseline(ctx)
	if err := b.generate(); err != nil {
		return err
	}
	b.importFTC(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}

	// First start after the import: start-up, memory at ready, then the
	// leased rescore, then the loads.
	first := b.startCallrep(ctx, "first start", "serve1", b.dataDir)
	var mem1 memReading
	var resc rescoreReading
	if first.ready {
		mem1 = b.readMemory(ctx, first)
		resc = b.waitRescore(ctx, first)
		if !resc.failed {
			// For the record, and in case the restart fails: the live heap
			// with the trust estimate in place, before any load.
			mem1.live, mem1.haveLive = b.liveHeap(ctx, first, time.Now())
		}
	}
	b.startupFigure(first)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	b.loads(ctx, first)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rep := b.reports(ctx, first)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	b.stopCallrep(first)

	// The restart after the rescore.
	second := b.startCallrep(ctx, "restart after the rescore", "serve2", b.dataDir)
	b.restartFigure(first, second, resc)
	var mem2 memReading
	if second.ready {
		mem2 = b.readMemory(ctx, second)
		mem2.live, mem2.haveLive = b.liveHeap(ctx, second, second.readyAt)
		b.verifyReports(ctx, second, &rep)
	} else if rep.attempted {
		b.note("the restart did not become ready, so the stored reports could not be read back; " +
			"durable reports/s relies on callrep_reports_accepted_total of the first server")
		rep.verifiedBy = "callrep_reports_accepted_total of the server that took them (the restart failed)"
		rep.durable = min(rep.acked, rep.metricsAccepted)
	}
	b.memoryFigures(first, second, mem1, mem2, resc)
	b.reportFigures(rep)
	b.stopCallrep(second)
	b.reorderFigures()
	if len(b.loadavgs) > 0 {
		lo, hi := b.loadavgs[0], b.loadavgs[0]
		for _, v := range b.loadavgs {
			lo, hi = min(lo, v), max(hi, v)
		}
		b.detail("Machine load: the 1-minute load average at the start of the %d load runs was %.1f to %.1f on %d CPUs "+
			"(the bench's own load generator and servers included).", len(b.loadavgs), lo, hi, b.machine.nproc)
	}
	return ctx.Err()
}

// setup creates the work directory.
func (b *bench) setup() error {
	b.work = b.cfg.work
	if b.work == "" {
		dir := filepath.Join(b.root, "bench", "results")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		w, err := os.MkdirTemp(dir, "run-"+time.Now().Format("20060102-150405")+"-")
		if err != nil {
			return err
		}
		b.work = w
	} else if err := os.MkdirAll(b.work, 0o755); err != nil {
		return err
	}
	b.work, _ = filepath.Abs(b.work)
	b.bin = filepath.Join(b.work, "bin")
	b.dataDir = filepath.Join(b.work, "data")
	for _, d := range []string{b.dataDir, filepath.Join(b.work, "empty")} { // a reused -work starts afresh
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(b.bin, 0o755); err != nil {
		return err
	}
	b.logf("work directory %s", b.work)
	if !b.cfg.keep {
		b.onCleanup(func() {
			if err := os.RemoveAll(b.work); err != nil {
				b.logf("removing %s: %v", b.work, err)
			}
		})
	}
	return nil
}

// machineInfo records nproc, memory, CPU, Go, the commit and tool versions.
func (b *bench) machineInfo(ctx context.Context) {
	m := &b.machine
	m.nproc = runtime.NumCPU()
	m.gomaxprocs = runtime.GOMAXPROCS(0)
	if mi, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(mi), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if kb, err := strconv.ParseUint(strings.Fields(v)[0], 10, 64); err == nil {
					m.memTotal = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	if ci, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(ci), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.cpuModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if k, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(k))
	}
	out := func(name string, args ...string) string {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = b.root
		o, err := cmd.CombinedOutput()
		if err != nil {
			return "unavailable (" + err.Error() + ")"
		}
		return strings.TrimSpace(string(o))
	}
	m.goVersion = out("go", "version")
	m.commit = out("git", "rev-parse", "HEAD")
	m.dirty = out("git", "status", "--porcelain", "--untracked-files=no") != ""
	m.gin = out("go", "list", "-m", "-f", "{{.Path}} {{.Version}}", "github.com/gin-gonic/gin")
	b.logf("machine: %d CPUs (%s), %s, %s, commit %s", m.nproc, m.cpuModel, m.memTotal, m.goVersion, m.commit)
}

// build compiles callrep and the gin no-op from this checkout.
func (b *bench) build(ctx context.Context) error {
	b.callrepBin = filepath.Join(b.bin, "callrep")
	b.ginBin = filepath.Join(b.bin, "ginnoop")
	for _, t := range []struct{ out, pkg string }{{b.callrepBin, "./cmd/callrep"}, {b.ginBin, "./bench/ginnoop"}} {
		argv := []string{"go", "build", "-o", t.out, t.pkg}
		b.logf("building %s", t.pkg)
		b.command(argv...)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = b.root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", t.pkg, err, out)
		}
	}
	return nil
}

// generate draws the numbers and writes the FTC file.
func (b *bench) generate() error {
	n := b.cfg.numbers
	b.coldSize = b.cfg.cold
	coldHalf := b.coldSize / 2
	// The report load stops when it runs out of fresh numbers; this many
	// last at 25,000 reports/s, eight times the target.
	reportCap := max(20_000, int(25_000*b.cfg.duration.Seconds()))
	b.logf("generating %s known, %s unknown and %s report numbers", num(n), num(hotSize/2+coldHalf), num(reportCap))
	start := time.Now()
	b.ds = newDataset(b.cfg.seed, n, hotSize/2+coldHalf, reportCap)
	share := b.ds.validShare(2000)
	csv := filepath.Join(b.work, "ftc.csv")
	rows, err := b.ds.writeFTCFile(csv, b.cfg.seed)
	if err != nil {
		return fmt.Errorf("bench: writing %s: %w", csv, err)
	}
	b.csvRows = rows
	fi, _ := os.Stat(csv)
	var fsize int64
	if fi != nil {
		fsize = fi.Size()
	}
	b.logf("wrote %s: %s rows, %s, in %s", csv, num(rows), size(fsize), secs(time.Since(start)))
	regions := []string{}
	for _, r := range []string{"US", "CA"} {
		regions = append(regions, fmt.Sprintf("%s %.1f%%", r, 100*float64(b.ds.regions[r])/float64(n)))
	}
	b.detail("Data: %s numbers × 2 complaints = %s rows (%s); regions of the imported numbers: %s, other +1 regions %.1f%%; "+
		"%.1f%% of a sample of the generated numbers are valid by libphonenumber's full check.",
		num(n), num(rows), size(fsize), strings.Join(regions, ", "),
		100-100*float64(b.ds.regions["US"]+b.ds.regions["CA"])/float64(n), 100*share)
	return nil
}

// importFTC runs callrep import ftc and makes its figure.
func (b *bench) importFTC(ctx context.Context) {
	const name = "`callrep import ftc` of the synthetic file"
	const target = "completes (exit 0, all rows stored) or fails loudly"
	csv := filepath.Join(b.work, "ftc.csv")
	argv := []string{b.callrepBin, "import", "ftc", "--data", b.dataDir, csv}
	b.command(argv...)
	timeout := b.scaled(2*time.Minute, 40*time.Minute)
	b.logf("importing %s rows (timeout %s)", num(b.csvRows), timeout)
	p, err := startProc("import", filepath.Join(b.work, "import.log"), nil, argv...)
	if err != nil {
		b.addFigure(notMeasured(name, target, err.Error()))
		return
	}
	b.onCleanup(func() { p.stop(10 * time.Second) })
	next := 0
	deadline := p.started.Add(timeout)
	timedOut := false
	for p.running() {
		if ctx.Err() != nil || time.Now().After(deadline) {
			timedOut = ctx.Err() == nil
			p.stop(30 * time.Second)
			break
		}
		p.wait(5 * time.Second)
		var lines []logLine
		lines, next = p.log.from(next)
		last := ""
		for _, l := range lines {
			if strings.Contains(l.text, "complaints read") {
				last = l.text
			}
		}
		el := time.Since(p.started)
		if last != "" {
			b.logf("import: %s: %s", secs(el), last)
		} else if p.running() {
			b.logf("import: %s", secs(el))
		}
	}
	took := time.Since(p.started)
	code := p.exitCode()
	summary, _ := p.log.find(func(s string) bool { return strings.HasPrefix(s, "import ftc:") })
	stored := -1
	if m := regexp.MustCompile(`\bstored=(\d+)\b`).FindStringSubmatch(summary.text); m != nil {
		stored, _ = strconv.Atoi(m[1])
	}
	rps := float64(b.csvRows) / took.Seconds()
	b.detail("Import: `%s` (exit %d, %s wall, %s rows/s including the final write of labels and reputations).", summary.text, code, secs(took), num(int64(rps)))
	f := figure{name: name, baseline: fmt.Sprintf("%s rows in the file", num(b.csvRows)), target: target}
	switch {
	case timedOut:
		f.measured = fmt.Sprintf("timed out after %s (stopped); last: %s", secs(took), lastOf(p.log.lastLines()))
	case code == 0 && stored == b.csvRows:
		f.measured = fmt.Sprintf("exit 0, %s of %s rows stored in %s (%s rows/s)", num(stored), num(b.csvRows), secs(took), num(int64(rps)))
		f.ratio = ratio(float64(stored), float64(b.csvRows))
		f.pass = true
	case code == 0:
		f.measured = fmt.Sprintf("exit 0 but %s of %s rows stored (summary: %q)", num(stored), num(b.csvRows), summary.text)
		f.ratio = ratio(float64(max(stored, 0)), float64(b.csvRows))
	default:
		errLine := lastOf(p.log.lastLines())
		f.measured = fmt.Sprintf("exit %d after %s: %s", code, secs(took), errLine)
		// A failure that says so is what the target allows; a silent one is not.
		f.pass = strings.Contains(errLine, "callrep:") || strings.Contains(strings.ToLower(errLine), "error")
	}
	if f.ratio == "" {
		f.ratio = "—"
	}
	b.addFigure(f)
}

func lastOf(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(lines[i]); s != "" {
			if len(s) > 300 {
				s = s[:300] + "…"
			}
			return s
		}
	}
	return "(no output)"
}

// server is a callrep serve process.
type server struct {
	label   string
	p       *proc
	addr    string
	ready   bool
	readyIn time.Duration
	readyAt time.Time
	failure string
	numbers int // as the server reported at start-up; -1 if unknown
	stopped bool
}

// freePort asks the kernel for an unused loopback port.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startCallrep starts callrep serve on the data directory and waits for
// /readyz 200, the process to exit, or the timeout.
func (b *bench) startCallrep(ctx context.Context, label, logName, dataDir string) *server {
	s := &server{label: label, numbers: -1}
	addr, err := freePort()
	if err != nil {
		s.failure = err.Error()
		return s
	}
	s.addr = addr
	argv := append([]string{b.callrepBin, "serve", "--data", dataDir, "--listen", addr}, benchLimits...)
	b.command(append([]string{"GODEBUG=gctrace=1"}, argv...)...)
	timeout := b.scaled(time.Minute, 20*time.Minute)
	b.logf("%s: starting callrep serve on %s (timeout %s)", label, addr, timeout)
	p, err := startProc("callrep", filepath.Join(b.work, logName+".log"), []string{"GODEBUG=gctrace=1"}, argv...)
	if err != nil {
		s.failure = err.Error()
		return s
	}
	s.p = p
	b.onCleanup(func() { b.stopCallrep(s) })
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := p.started.Add(timeout)
	lastProgress := time.Now()
	for {
		if !p.running() {
			s.failure = fmt.Sprintf("exited with code %d after %s: %s", p.exitCode(), secs(time.Since(p.started)), lastOf(p.log.lastLines()))
			break
		}
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.readyAt = time.Now()
				s.readyIn = s.readyAt.Sub(p.started)
				s.ready = true
				break
			}
		}
		if ctx.Err() != nil {
			s.failure = "interrupted"
			break
		}
		if time.Now().After(deadline) {
			s.failure = fmt.Sprintf("not ready after %s; last: %s", secs(time.Since(p.started)), lastOf(p.log.lastLines()))
			b.stopCallrep(s)
			break
		}
		if time.Since(lastProgress) >= 5*time.Second {
			lastProgress = time.Now()
			rss, _, _ := p.memory()
			b.logf("%s: waiting for /readyz: %s, RSS %s; last log: %s", label, secs(time.Since(p.started)), mib(rss), lastOf([]string{p.log.lastLog()}))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The "callrep serving" line, which counts the numbers, is written as
	// the listener starts: it may arrive just after the first 200.
	for wait := time.Now(); s.ready && time.Since(wait) < 5*time.Second; time.Sleep(50 * time.Millisecond) {
		l, ok := p.log.find(func(t string) bool { return strings.Contains(t, `"msg":"callrep serving"`) })
		if !ok {
			continue
		}
		if j, ok := parseJSONLog(l.text); ok && j.Numbers != nil {
			s.numbers = *j.Numbers
		}
		break
	}
	if s.ready {
		b.logf("%s: ready in %s with %s numbers", label, secs(s.readyIn), num(s.numbers))
	} else {
		b.logf("%s: FAILED: %s", label, s.failure)
	}
	return s
}

// stopCallrep stops the server by its PID (SIGTERM, then SIGKILL).
func (b *bench) stopCallrep(s *server) {
	if s.p == nil || s.stopped {
		return
	}
	s.stopped = true
	if !s.p.running() {
		return
	}
	grace := b.scaled(time.Minute, 5*time.Minute)
	b.logf("%s: stopping callrep (PID %d, SIGTERM, SIGKILL after %s)", s.label, s.p.pid, grace)
	took, killed := s.p.stop(grace)
	if killed {
		b.note("%s: callrep did not exit within %s of SIGTERM and was killed", s.label, grace)
	} else {
		b.detail("Shutdown of the %s (SIGTERM to exit, writing the labels snapshot): %s.", s.label, secs(took))
	}
}

// memReading is the memory of a server at ready.
type memReading struct {
	ok                  bool
	rss, hwm            uint64
	heapAlloc, heapUse  float64
	live                gcTrace
	haveLive            bool
	lastGCBeforeReady   gcTrace
	haveLastBeforeReady bool
}

// readMemory reads RSS and the heap gauges right after ready.
func (b *bench) readMemory(ctx context.Context, s *server) memReading {
	var m memReading
	rss, hwm, err := s.p.memory()
	if err != nil {
		b.note("%s: reading /proc status: %v", s.label, err)
		return m
	}
	m.ok, m.rss, m.hwm = true, rss, hwm
	if vals, err := scrapeMetrics(ctx, s.addr); err == nil {
		m.heapAlloc = vals["go_memstats_heap_alloc_bytes"]
		m.heapUse = vals["go_memstats_heap_inuse_bytes"]
	} else {
		b.note("%s: /metrics: %v", s.label, err)
	}
	gcs, _ := s.p.log.gcsFrom(0)
	for _, g := range gcs {
		if g.at.Before(s.readyAt) {
			m.lastGCBeforeReady, m.haveLastBeforeReady = g, true
		}
	}
	b.logf("%s: at ready RSS %s (peak so far %s), heap alloc %s, heap in use %s", s.label, mib(rss), mib(hwm), mibf(m.heapAlloc), mibf(m.heapUse))
	return m
}

// liveHeap makes the server run a GC cycle by scraping /metrics (callrep
// has no way to force one) and returns the live heap of the first cycle
// that ends after since.
func (b *bench) liveHeap(ctx context.Context, s *server, since time.Time) (gcTrace, bool) {
	gcs, _ := s.p.log.gcsFrom(0)
	for _, g := range gcs {
		if g.at.After(since) {
			return g, true
		}
	}
	_, next := s.p.log.gcsFrom(0)
	b.logf("%s: scraping /metrics until a GC cycle ends (at most 150 s; the runtime forces one every 2 min)", s.label)
	start := time.Now()
	var scrapes atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-done:
					return
				default:
				}
				resp, err := client.Get("http://" + s.addr + "/metrics")
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				scrapes.Add(1)
			}
		})
	}
	defer func() { close(done); wg.Wait() }()
	lastProgress := start
	for time.Since(start) < 150*time.Second && ctx.Err() == nil && s.p.running() {
		if g, _ := s.p.log.gcsFrom(next); len(g) > 0 {
			b.logf("%s: GC %d ended after %d scrapes: %d MiB live", s.label, g[0].n, scrapes.Load(), g[0].liveMB)
			return g[0], true
		}
		if time.Since(lastProgress) >= 5*time.Second {
			lastProgress = time.Now()
			b.logf("%s: waiting for a GC cycle: %s, %d scrapes", s.label, secs(time.Since(start)), scrapes.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if g, _ := s.p.log.gcsFrom(next); len(g) > 0 {
		return g[0], true
	}
	return gcTrace{}, false
}

// scrapeMetrics reads the unlabelled samples of /metrics.
func scrapeMetrics(ctx context.Context, addr string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	vals := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, v, ok := strings.Cut(line, " ")
		if !ok || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			vals[name] = f
		}
	}
	return vals, sc.Err()
}

// rescoreReading is what the leased rescore of the first server did.
type rescoreReading struct {
	done, failed     bool
	why              string
	took             time.Duration
	peakRSS, hwm     uint64
	reporters, label int
	logTook          string
}

// waitRescore waits for the leased rescore, which starts 5 s after the
// server's jobs do, sampling RSS every 100 ms.
func (b *bench) waitRescore(ctx context.Context, s *server) rescoreReading {
	var r rescoreReading
	timeout := b.scaled(2*time.Minute, 30*time.Minute)
	b.logf("%s: waiting for the leased rescore (timeout %s)", s.label, timeout)
	start := time.Now()
	lastProgress := start
	next := 0
	for {
		if rss, hwm, err := s.p.memory(); err == nil {
			r.peakRSS = max(r.peakRSS, rss)
			r.hwm = hwm
		}
		var lines []logLine
		lines, next = s.p.log.from(next)
		for _, l := range lines {
			j, ok := parseJSONLog(l.text)
			if !ok {
				continue
			}
			switch {
			case j.Msg == "rescored":
				if j.Reporters != nil {
					r.reporters = *j.Reporters
				}
				if j.Labels != nil {
					r.label = *j.Labels
				}
				r.logTook = j.Took
			case j.Msg == "job done" && j.Job == "rescore":
				r.done = true
			case j.Msg == "job failed" && j.Job == "rescore":
				r.done, r.failed, r.why = true, true, j.Err
			case j.Msg == "job lease" && j.Job == "rescore":
				r.why = "lease: " + j.Err
			}
		}
		if r.done {
			break
		}
		if !s.p.running() {
			r.failed, r.why = true, "the server exited: "+lastOf(s.p.log.lastLines())
			break
		}
		if ctx.Err() != nil {
			r.failed, r.why = true, "interrupted"
			break
		}
		if time.Since(start) > timeout {
			r.failed, r.why = true, fmt.Sprintf("no end of the rescore logged within %s", timeout)
			break
		}
		if time.Since(lastProgress) >= 5*time.Second {
			lastProgress = time.Now()
			rss, _, _ := s.p.memory()
			b.logf("%s: rescore: %s, RSS %s (peak %s)", s.label, secs(time.Since(start)), mib(rss), mib(r.peakRSS))
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.took = time.Since(start)
	if r.failed {
		b.note("%s: the leased rescore failed or did not end: %s", s.label, r.why)
	} else {
		b.logf("%s: rescore done (%s reporters, %s labels, took %s by its log); peak RSS %s", s.label, num(r.reporters), num(r.label), r.logTook, mib(r.peakRSS))
		b.detail("Rescore on the first start: %s labels, %s reporters, %s by its log (%s from ready to its end, which includes the 5 s delay of the leased job); peak RSS sampled %s, VmHWM %s.",
			num(r.label), num(r.reporters), r.logTook, secs(r.took), mib(r.peakRSS), mib(r.hwm))
	}
	return r
}

// startupFigure is the time to /readyz on the first start.
func (b *bench) startupFigure(s *server) {
	const name = "start-up to `/readyz` 200 at 1M numbers (first start of the populated data dir)"
	const target = "≤ 10 s per million numbers"
	if !s.ready {
		b.addFigure(notMeasured(name, target, "the server did not become ready: "+s.failure))
		return
	}
	desc, v := b.perMillion(s.readyIn.Seconds(), b.empty.readyS, s.count(b.cfg.numbers), "s")
	b.addFigure(figure{name: name, measured: desc, baseline: b.emptyText(fmt.Sprintf("%.1f s", b.empty.readyS)),
		ratio: "—", target: target, pass: v <= 10})
}

// count is the numbers the server reported, or n if it did not say.
func (s *server) count(n int) int {
	if s.numbers > 0 {
		return s.numbers
	}
	return n
}

// emptyText is the baseline column of a per-million figure.
func (b *bench) emptyText(v string) string {
	if !b.empty.ok {
		return "— (no empty start)"
	}
	return "empty start " + v
}

// restartFigure is whether the restart after the rescore became ready.
func (b *bench) restartFigure(first, second *server, r rescoreReading) {
	const name = "restart after the first rescore"
	const target = "always starts"
	switch {
	case !first.ready:
		b.addFigure(notMeasured(name, target, "the first start did not become ready"))
	case r.failed:
		f := figure{name: name, baseline: "—", ratio: "—", target: target}
		f.measured = "the rescore before it did not complete (" + r.why + "); restart "
		if second.ready {
			f.measured += "ready in " + secs(second.readyIn)
		} else {
			f.measured += "failed: " + second.failure
		}
		b.addFigure(f)
	case second.ready:
		b.addFigure(figure{name: name, measured: fmt.Sprintf("ready in %s with %s reporters in the stored trust estimate", secs(second.readyIn), num(r.reporters)),
			baseline: "—", ratio: "—", target: target, pass: true})
	default:
		b.addFigure(figure{name: name, measured: fmt.Sprintf("FAILED with %s reporters in the trust estimate: %s", num(r.reporters), second.failure),
			baseline: "—", ratio: "—", target: target})
	}
}

// memoryFigures makes the three memory figures: from the restart when it
// became ready (no rescore or load there), else from the first start.
func (b *bench) memoryFigures(first, second *server, m1, m2 memReading, r rescoreReading) {
	const heapName = "live heap after GC per million numbers (2 labels each)"
	const rssName = "RSS at ready per million numbers"
	const rescoreName = "peak RSS during the rescore per million numbers"
	const heapTarget, rssTarget, rescoreTarget = "≤ 250 MiB", "≤ 400 MiB", "≤ 600 MiB (1.5 × 400)"
	src, m := second, m2
	if !second.ready || !m2.ok {
		src, m = first, m1
	}
	emptyRSS := float64(b.empty.rss) / (1 << 20)
	if !src.ready || !m.ok {
		b.addFigure(notMeasured(heapName, heapTarget, "no server became ready"))
		b.addFigure(notMeasured(rssName, rssTarget, "no server became ready"))
	} else {
		n := src.count(b.cfg.numbers)
		emptyLive := "—"
		if b.empty.haveLive {
			emptyLive = fmt.Sprintf("%d MiB", b.empty.liveMB)
		}
		when := "after ready"
		if src == first {
			when = "after its rescore; the restart did not become ready"
		}
		switch {
		case m.haveLive:
			desc, v := b.perMillion(float64(m.live.liveMB), float64(b.empty.liveMB), n, "MiB")
			b.addFigure(figure{name: heapName, measured: fmt.Sprintf("%s (GC %d, %s, %s)", desc, m.live.n, src.label, when),
				baseline: b.emptyText(emptyLive), ratio: "—", target: heapTarget, pass: v <= 250})
		case m.haveLastBeforeReady:
			desc, v := b.perMillion(float64(m.lastGCBeforeReady.liveMB), float64(b.empty.liveMB), n, "MiB")
			b.addFigure(figure{name: heapName, measured: fmt.Sprintf("%s (the last GC before ready; none after it was seen; %s)", desc, src.label),
				baseline: b.emptyText(emptyLive), ratio: "—", target: heapTarget, pass: v <= 250})
			b.note("the live heap comes from the last GC cycle before ready, which may have run before loading finished")
		default:
			b.addFigure(notMeasured(heapName, heapTarget, "no GC cycle was seen"))
		}
		desc, v := b.perMillion(float64(m.rss)/(1<<20), emptyRSS, n, "MiB")
		b.addFigure(figure{name: rssName, measured: fmt.Sprintf("%s (%s)", desc, src.label),
			baseline: b.emptyText(mib(b.empty.rss)), ratio: "—", target: rssTarget, pass: v <= 400})
		b.detail("Memory at ready, %s (%s numbers): RSS %s, VmHWM %s, go_memstats_heap_alloc_bytes %s, heap_inuse %s.",
			src.label, num(n), mib(m.rss), mib(m.hwm), mibf(m.heapAlloc), mibf(m.heapUse))
		if src != first && m1.ok {
			b.detail("Memory at ready, %s (%s numbers, before its rescore): RSS %s, VmHWM %s (the peak of start-up), heap alloc %s, heap in use %s.",
				first.label, num(first.count(b.cfg.numbers)), mib(m1.rss), mib(m1.hwm), mibf(m1.heapAlloc), mibf(m1.heapUse))
			if m1.haveLive {
				b.detail("Live heap of the %s after its rescore, before any load: %d MiB (GC %d).", first.label, m1.live.liveMB, m1.live.n)
			}
		}
	}
	switch {
	case !first.ready || !m1.ok:
		b.addFigure(notMeasured(rescoreName, rescoreTarget, "the first start did not become ready"))
	case r.peakRSS == 0:
		b.addFigure(notMeasured(rescoreName, rescoreTarget, "no RSS sample"))
	default:
		desc, v := b.perMillion(float64(r.peakRSS)/(1<<20), emptyRSS, first.count(b.cfg.numbers), "MiB")
		f := figure{name: rescoreName, measured: desc + " (" + first.label + ")",
			baseline: "RSS at ready " + mib(m1.rss), ratio: ratio(float64(r.peakRSS), float64(m1.rss)), target: rescoreTarget, pass: v <= 600 && !r.failed}
		if r.failed {
			f.measured += "; the rescore did not complete: " + r.why
		}
		b.addFigure(f)
	}
}

// figureOrder is the order of the table.
var figureOrder = []string{
	"live heap", "RSS at ready", "peak RSS", "start-up", "restart after", "`callrep import ftc`",
	"single lookup, hot", "single lookup, cold", "batch lookup, hot", "batch lookup, cold",
	"lookup p99 at half peak, hot", "lookup p99 at half peak, cold", "durable reports/s", "report p99",
}

func (b *bench) reorderFigures() {
	rank := func(f figure) int {
		for i, p := range figureOrder {
			if strings.HasPrefix(f.name, p) {
				return i
			}
		}
		return len(figureOrder)
	}
	out := make([]figure, 0, len(b.figures))
	for r := 0; r <= len(figureOrder); r++ {
		for _, f := range b.figures {
			if rank(f) == r {
				out = append(out, f)
			}
		}
	}
	b.figures = out
}

// printSummary prints the figures table to stdout.
func (b *bench) printSummary() {
	fmt.Fprintln(b.stdout)
	for _, f := range b.figures {
		fmt.Fprintf(b.stdout, "%-4s  %s: %s (baseline %s, ratio %s, target %s)\n", f.result(), f.name, f.measured, f.baseline, f.ratio, f.target)
	}
	fmt.Fprintln(b.stdout)
}

// httpGetJSON fetches a JSON document from a server under test.
func httpGetJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// runAll runs fn for each index with n goroutines and returns the first
// error.
func runAll(n, count int, fn func(i int) error) error {
	var mu sync.Mutex
	var first error
	var next int
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil
				mu.Unlock()
				if i >= count || stop {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return first
}
