package mongotest

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ferretservePkg is the command StartProcess builds and runs.
const ferretservePkg = "github.com/callrep/callrep/labels/mongotest/ferretserve"

var (
	buildMu  sync.Mutex
	buildBin string // the ferretserve binary built by this test process
)

// StartProcess builds ferretserve, runs it as a child process on a fresh
// temporary directory, and returns the MongoDB URI it listens on (TCP on
// loopback). The process is stopped when tb ends; it also stops by itself
// if the test process dies, because its stdin closes.
func StartProcess(tb testing.TB) string {
	tb.Helper()
	return Start(tb).URI
}

// Process is a FerretDB run as its own process by Start, for tests that
// freeze it (SIGSTOP), kill it and start it again.
type Process struct {
	// URI is the MongoDB URI it serves, the same across restarts.
	URI string

	tb     testing.TB
	dir    string
	listen string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start is StartProcess returning the process.
func Start(tb testing.TB) *Process {
	tb.Helper()
	p := &Process{tb: tb, dir: tb.TempDir(), listen: "127.0.0.1:0"}
	p.URI = p.run()
	// Restarts listen where the first run did, so that clients reconnect.
	p.listen = strings.TrimSuffix(strings.TrimPrefix(p.URI, "mongodb://"), "/")
	if i := strings.IndexAny(p.listen, "/?"); i >= 0 {
		p.listen = p.listen[:i]
	}
	tb.Cleanup(p.stop)
	return p
}

// Signal sends sig to the process: SIGSTOP freezes it, SIGCONT thaws it.
func (p *Process) Signal(sig os.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Signal(sig)
}

// Kill kills the process with SIGKILL and waits for it to exit.
func (p *Process) Kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	_ = cmd.Process.Kill()
	<-exited
}

// Restart starts the process again on the same files and address, after
// Kill.
func (p *Process) Restart() {
	p.tb.Helper()
	if uri := p.run(); uri != p.URI {
		p.tb.Fatalf("ferretserve restarted on %s, want %s", uri, p.URI)
	}
}

// stop asks the process for a clean stop, and kills it if that does not
// come; stdin closing and SIGTERM both ask.
func (p *Process) stop() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGCONT) // a frozen process cannot stop
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// run starts ferretserve and returns the URI it prints.
func (p *Process) run() string {
	tb := p.tb
	tb.Helper()
	bin := ferretserve(tb)

	var stderr lockedBuffer
	cmd := exec.Command(bin, "--dir", p.dir, "--listen", p.listen)
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatalf("ferretserve stdin: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("ferretserve stdout: %v", err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start ferretserve: %v", err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	tb.Cleanup(func() {
		_ = stdin.Close()
		if tb.Failed() && stderr.Len() > 0 {
			tb.Logf("ferretserve stderr:\n%s", stderr.String())
		}
	})

	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		lines <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, r)
		_ = cmd.Wait() // after stdout is drained, as exec.Cmd requires
		close(exited)
	}()
	select {
	case uri := <-lines:
		if !strings.HasPrefix(uri, "mongodb://") {
			tb.Fatalf("ferretserve printed %q, want a mongodb:// uri; stderr:\n%s", uri, stderr.String())
		}
		return uri
	case <-time.After(30 * time.Second):
		tb.Fatalf("ferretserve printed no uri within 30s; stderr:\n%s", stderr.String())
		return ""
	}
}

// ferretserve returns the path of the ferretserve binary, building it on
// first use. The binary lives in the temporary directory of the test that
// built it, so it is rebuilt (from the build cache) once that test's
// directory is gone.
func ferretserve(tb testing.TB) string {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildBin != "" {
		if _, err := os.Stat(buildBin); err == nil {
			return buildBin
		}
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		if root := os.Getenv("GOROOT"); root != "" {
			goCmd, err = exec.LookPath(filepath.Join(root, "bin", "go"))
		}
	}
	if err != nil {
		tb.Skipf("building ferretserve needs the go command: %v", err)
	}
	bin := filepath.Join(tb.TempDir(), "ferretserve")
	out, err := exec.Command(goCmd, "build", "-buildvcs=false", "-o", bin, ferretservePkg).CombinedOutput()
	if err != nil {
		tb.Fatalf("go build %s: %v\n%s", ferretservePkg, err, out)
	}
	buildBin = bin
	return bin
}

// lockedBuffer is a bytes.Buffer that the exec package can write to while a
// test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
