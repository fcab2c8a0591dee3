package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// figure is one line of the results table: a figure of the performance
// issue, what was measured, against what, and whether it meets its target.
type figure struct {
	name     string
	measured string
	baseline string
	ratio    string
	target   string
	pass     bool
}

func (f figure) result() string {
	if f.pass {
		return "PASS"
	}
	return "FAIL"
}

// notMeasured is the figure for a step that could not run: a FAIL that
// says why.
func notMeasured(name, target, why string) figure {
	return figure{name: name, measured: "not measured: " + why, baseline: "—", ratio: "—", target: target}
}

// machineInfo describes where the run happened.
type machineInfo struct {
	nproc      int
	memTotal   string
	cpuModel   string
	kernel     string
	goVersion  string
	commit     string
	dirty      bool
	gin        string
	wrk        string
	redis      string
	gomaxprocs int
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// size formats a file size.
func size(b int64) string {
	if b < 10<<20 {
		return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10))
	}
	return mib(uint64(b))
}

func mibf(b float64) string { return fmt.Sprintf("%.0f MiB", b/(1<<20)) }

// ms formats a latency in milliseconds with three significant digits.
func ms(d time.Duration) string {
	v := d.Seconds() * 1000
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// num formats an integer with thousands separators.
func num[T int | int64 | uint64](v T) string {
	s := fmt.Sprint(v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// rate formats a per-second rate.
func rate(v float64, unit string) string { return num(int64(v+0.5)) + " " + unit }

func ratio(a, b float64) string {
	if b <= 0 || a < 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// cell escapes a table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// writeResults writes the report as Markdown.
func (b *bench) writeResults() error {
	var w bytes.Buffer
	m := b.machine
	fmt.Fprintf(&w, "# callrep benchmark results\n\n")
	if b.interrupted {
		fmt.Fprintf(&w, "**This run was interrupted; the figures not measured are marked so.**\n\n")
	}
	fmt.Fprintf(&w, "Written by `%s` on %s; the run took %s. Regenerate with the same command (see\n",
		b.invocation, b.started.UTC().Format("2006-01-02 15:04 MST"), time.Since(b.started).Round(time.Second))
	fmt.Fprintf(&w, "README.md, Benchmarks). Every figure is measured in this one run, each against its baseline measured in\n")
	fmt.Fprintf(&w, "the same run on the same machine; a FAIL is a target not met today, not a fault of the bench.\n\n")

	fmt.Fprintf(&w, "## Machine\n\n| | |\n|---|---|\n")
	dirty := ""
	if m.dirty {
		dirty = " (with uncommitted changes)"
	}
	for _, kv := range [][2]string{
		{"nproc", fmt.Sprint(m.nproc)},
		{"memory", m.memTotal},
		{"CPU", m.cpuModel},
		{"kernel", m.kernel},
		{"Go", m.goVersion},
		{"git commit", "`" + m.commit + "`" + dirty},
		{"gin", m.gin},
		{"wrk", m.wrk},
		{"redis", m.redis},
		{"numbers imported", num(b.cfg.numbers) + " (2 FTC complaints each)"},
		{"load duration", b.cfg.duration.String() + " per run"},
	} {
		fmt.Fprintf(&w, "| %s | %s |\n", kv[0], cell(kv[1]))
	}
	fmt.Fprintf(&w, "\nThe machine is shared: other work on its %d cores during the run shows up as noise in every figure, and\n", m.nproc)
	fmt.Fprintf(&w, "the load generators run on the same cores as the servers they load.\n\n")

	fmt.Fprintf(&w, "## Figures\n\n| figure | measured | baseline | ratio | target | result |\n|---|---|---|---|---|---|\n")
	pass := 0
	for _, f := range b.figures {
		if f.pass {
			pass++
		}
		fmt.Fprintf(&w, "| %s | %s | %s | %s | %s | **%s** |\n", cell(f.name), cell(f.measured), cell(f.baseline), cell(f.ratio), cell(f.target), f.result())
	}
	fmt.Fprintf(&w, "\n%d of %d figures meet their targets.\n\n", pass, len(b.figures))

	if len(b.details) > 0 {
		fmt.Fprintf(&w, "## Cross-checks and details\n\n")
		for _, d := range b.details {
			fmt.Fprintf(&w, "- %s\n", d)
		}
		fmt.Fprintln(&w)
	}

	fmt.Fprintf(&w, "## How it was measured\n\n")
	for _, d := range b.method() {
		fmt.Fprintf(&w, "- %s\n", d)
	}
	fmt.Fprintln(&w)

	if len(b.notes) > 0 {
		fmt.Fprintf(&w, "## Notes from this run\n\n")
		for _, n := range b.notes {
			fmt.Fprintf(&w, "- %s\n", n)
		}
		fmt.Fprintln(&w)
	}

	fmt.Fprintf(&w, "## Commands\n\nRun from the repository root, in this order (`$W` is the work directory, `$DATA` = `$W/data`):\n\n```sh\n")
	for _, c := range b.commands {
		fmt.Fprintln(&w, c)
	}
	fmt.Fprintf(&w, "```\n")

	if err := os.MkdirAll(filepath.Dir(b.cfg.out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(b.cfg.out, w.Bytes(), 0o644)
}

// method describes the conditions of every measurement, for the report.
func (b *bench) method() []string {
	return []string{
		"**Data.** A synthetic FTC Do-Not-Call complaint file in the FTC's columns (`Company_Phone_Number,Created_Date,Violation_Date," +
			"Consumer_City,Consumer_State,Consumer_Area_Code,Subject,Recorded_Message_Or_Robocall`), two complaints per number, subjects " +
			"in the proportions of the FTC's file of 2019-12-16, numbers drawn from a seeded generator among the area codes and exchanges " +
			"that libphonenumber holds valid (mostly US, some Canadian and Caribbean +1), one row in ten with `+1` or `1` in front. It is " +
			"imported with `callrep import ftc` into a fresh data directory on the embedded FerretDB.",
		"**Server.** `callrep serve` on the embedded FerretDB default, on 127.0.0.1, with the rate limits and report quotas raised " +
			"so that they never refuse the bench (`" + strings.Join(benchLimits, " ") + "`), everything else default (log level info: " +
			"one access-log line per request, read and counted by the bench), and `GODEBUG=gctrace=1` so that the live heap of each " +
			"GC cycle can be read. The leased rescore runs on the first start, 5 s after it; the restart after it finds the lease " +
			"held (2×interval + 10 min), so no rescore runs there.",
		"**Start-up** is the time from starting the process to the first `/readyz` 200 (polled every 100 ms), on the first start after " +
			"the import (a populated data directory). **Restart after the rescore** stops that server (SIGTERM) once its leased rescore " +
			"is done and starts it again on the same directory.",
		"**Memory.** RSS is VmRSS from /proc/PID/status at the first `/readyz` 200; the peak during the rescore is the highest VmRSS " +
			"sampled every 100 ms while it runs (VmHWM is reported too). The live heap is the heap marked live by the first GC cycle " +
			"that ends after `/readyz` 200 on the restart (gctrace's third heap figure, in MiB; if the restart fails, the first cycle " +
			"after the first start's rescore); callrep has no endpoint that forces a " +
			"GC, so the bench makes one happen by scraping `/metrics` until a cycle ends (the runtime forces one every 2 min at the " +
			"latest). `go_memstats_heap_alloc_bytes`/`heap_inuse_bytes` from `/metrics` at ready are reported beside it. Figures " +
			"per million numbers divide by the numbers the server reported at start-up (the `numbers` of its \"callrep serving\" line).",
		fmt.Sprintf("**Lookups.** Hot: %s numbers sent in rotation; cold: %s distinct numbers, each sent at most once unless a run "+
			"outpaces the set. Both are half imported numbers and half valid numbers nobody reported, shuffled; one in five is in "+
			"national format, `(415) 555-0123` with `?region=US`, the others E.164 (`+` as `%%2B`). Batch requests carry 100 of "+
			"these numbers (`{\"numbers\":[…],\"region\":\"US\"}`) to `POST /v1/numbers/lookup`.", num(hotSize), num(b.coldSize)),
		fmt.Sprintf("**Load generator** (bench/load.go): HTTP/1.1 keep-alive, precomputed request bytes, one request in flight per "+
			"connection, %d connections in 2 goroutine groups (like `wrk -t2 -c%d`), latencies in an HDR-style histogram (1.6%% "+
			"resolution). Peak: closed loop for %s. Latency at half peak: open loop at half of callrep's own peak rate for that set, "+
			"each connection sending on a fixed schedule, latency counted from the scheduled time (queueing behind a slow response "+
			"counts, as in wrk2); the gin no-op gets the identical schedule and requests. Each gin no-op run is split in two halves "+
			"run just before and just after callrep's (their counts and histograms merged), so that the machine speeding up or "+
			"slowing down during the pair moves both alike.", b.cfg.conns, b.cfg.conns, b.cfg.duration),
		"**Baselines.** gin no-op: bench/ginnoop, gin from this module's go.mod, `gin.New()` without middleware, " +
			"`GET /v1/numbers/:number` answering a constant 174-byte JSON body (callrep's answer for an unknown number), the same " +
			"server timeouts as callrep. Redis: `redis-server --port N --bind 127.0.0.1 --save '' --appendonly no` from Debian, " +
			"`redis-benchmark -t get -c 64 -P 1` (its own client, one request in flight per connection). `wrk -t2 -c64 --latency` " +
			"repeats the peak runs as a cross-check, with a Lua script sending the same requests (of the cold set, the first " +
			"300,000, more than a wrk run sends: wrk loads the file in each thread before its clock starts).",
		fmt.Sprintf("**Reports.** %d users with tokens from `callrep token --uid userN --data DIR` (the local Ed25519 issuer; new "+
			"accounts, so low weights), %d connections, closed loop, `POST /v1/reports` with a fresh number per request, categories "+
			"in turn from `GET /v1/categories`, a unique `client_report_id` each. Durable reports/s counts 2xx answers only, and "+
			"only those whose number the restarted server still knows (checked with batch lookups after the restart); p99 is over "+
			"all report requests.", b.cfg.users, b.cfg.reportConns),
	}
}
