// Command bench measures callrep against baselines in one run and writes
// bench/RESULTS.md: memory per million numbers, start-up and restart
// after a rescore, the FTC import, single and batch lookups against a gin
// no-op server and Redis, latency at half of the peak rate, and durable
// reports per second.
//
//	go run ./bench                      # the full run: a million numbers
//	go run ./bench -numbers 200000      # smaller
//	go run ./bench -quick               # a smoke run: 2,000 numbers, 2 s loads
//
// It builds callrep and the gin no-op from this checkout, generates its
// data, starts every server on 127.0.0.1 and stops each by its PID when
// done, also on failure or Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the command line.
type config struct {
	numbers     int
	duration    time.Duration
	out         string
	quick       bool
	work        string
	keep        bool
	conns       int
	reportConns int
	users       int
	cold        int
	wrk         bool
	seed        uint64
	timeouts    float64
}

// hotSize is the size of the hot lookup set.
const hotSize = 10_000

func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.numbers, "numbers", 1_000_000, "numbers to import, two complaints each")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "length of each load run")
	fs.StringVar(&c.out, "out", "bench/RESULTS.md", "where to write the results (relative to the repository root)")
	fs.BoolVar(&c.quick, "quick", false, "smoke run: 2,000 numbers and 2 s loads unless -numbers/-duration say otherwise; writes bench/results/quick.md unless -out is given")
	fs.StringVar(&c.work, "work", "", "work directory for binaries, data and logs (default: a new directory under bench/results/)")
	fs.BoolVar(&c.keep, "keep", false, "keep the work directory (data and logs) afterwards")
	fs.IntVar(&c.conns, "c", 64, "connections of the lookup loads")
	fs.IntVar(&c.reportConns, "report-c", 32, "connections of the report load")
	fs.IntVar(&c.users, "users", 200, "users filing reports")
	fs.IntVar(&c.cold, "cold", 1_000_000, "distinct numbers of the cold lookup set (at most twice -numbers)")
	fs.BoolVar(&c.wrk, "wrk", true, "cross-check the peak runs with wrk (installed from Debian if missing)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the synthetic data")
	fs.Float64Var(&c.timeouts, "timeouts", 1, "multiplier of the step timeouts (import, start-up, rescore), which scale with -numbers")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("bench takes no arguments, got %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.quick {
		if !set["numbers"] {
			c.numbers = 2000
		}
		if !set["duration"] {
			c.duration = 2 * time.Second
		}
		if !set["out"] {
			c.out = "bench/results/quick.md"
		}
	}
	switch {
	case c.numbers < 100:
		return c, fmt.Errorf("-numbers must be at least 100")
	case c.duration < time.Second:
		return c, fmt.Errorf("-duration must be at least 1s")
	case c.conns < 2 || c.reportConns < 2 || c.users < 1:
		return c, fmt.Errorf("-c and -report-c must be at least 2, -users at least 1")
	case !(c.timeouts > 0):
		return c, fmt.Errorf("-timeouts must be positive")
	}
	c.cold = max(200, min(c.cold, 2*c.numbers))
	return c, nil
}

// run is main without the exit: 0 when the run completed (whatever the
// figures say), 1 when it could not, 2 for a bad command line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	if !filepath.IsAbs(cfg.out) {
		cfg.out = filepath.Join(root, cfg.out)
	}
	b := &bench{cfg: cfg, root: root, stdout: stdout, started: time.Now(), invocation: "go run ./bench " + strings.Join(args, " ")}
	b.invocation = strings.TrimSpace(b.invocation)
	err = b.run(ctx)
	b.interrupted = ctx.Err() != nil
	b.cleanup()
	if err != nil {
		b.logf("run failed: %v", err)
	}
	if b.machine.goVersion != "" {
		if werr := b.writeResults(); werr != nil {
			fmt.Fprintln(stderr, "bench: writing results:", werr)
			return 1
		}
		b.printSummary()
		b.logf("results written to %s", b.cfg.out)
	}
	if err != nil {
		return 1
	}
	return 0
}

// moduleRoot is the directory of the callrep module.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the callrep module; run go run ./bench from the repository root")
	}
	return filepath.Dir(mod), nil
}
