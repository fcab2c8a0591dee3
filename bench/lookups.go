package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// lookupSet is one set of lookups in every form a run sends it.
type lookupSet struct {
	name      string // "hot" or "cold"
	nums      []uint64
	known     []bool
	gets      [][]byte // GET /v1/numbers/{number}, one per number
	batches   [][]byte // POST /v1/numbers/lookup, 100 numbers each
	pathsFile string   // for wrk: one path per line
	bodyFile  string   // for wrk: one batch body per line
}

// wrkLines bounds the paths given to wrk.
const wrkLines = 300_000

// batchSize is the numbers per batch lookup.
const batchSize = 100

func getRequest(path string) []byte {
	return []byte("GET " + path + " HTTP/1.1\r\nHost: bench\r\nUser-Agent: callrep-bench\r\n\r\n")
}

func postRequest(path, token string, body []byte) []byte {
	h := "POST " + path + " HTTP/1.1\r\nHost: bench\r\nUser-Agent: callrep-bench\r\nContent-Type: application/json\r\n"
	if token != "" {
		h += "Authorization: Bearer " + token + "\r\n"
	}
	h += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	return append([]byte(h), body...)
}

// batchBody is {"numbers":[…],"region":"US"} for nums, written in the
// forms of their positions from first on.
func batchBody(nums []uint64, first int) []byte {
	b := []byte(`{"numbers":[`)
	for k, n := range nums {
		if k > 0 {
			b = append(b, ',')
		}
		raw, _ := lookupForm(n, first+k)
		b = strconv.AppendQuote(b, raw)
	}
	return append(b, `],"region":"US"}`...)
}

func (b *bench) newLookupSet(name string, count, offset, uoffset int) (*lookupSet, error) {
	ls := &lookupSet{name: name}
	ls.nums, ls.known = b.ds.lookupSet(count, offset, uoffset)
	var paths, bodies strings.Builder
	for i, n := range ls.nums {
		p := lookupPath(n, i)
		ls.gets = append(ls.gets, getRequest(p))
		// wrk's threads load the file before the clock starts, one after
		// the other, so a long file lets the first thread start early;
		// wrkLines is still more than a cross-check run sends.
		if i < wrkLines {
			paths.WriteString(p)
			paths.WriteByte('\n')
		}
	}
	for i := 0; i < len(ls.nums); i += batchSize {
		body := batchBody(ls.nums[i:min(i+batchSize, len(ls.nums))], i)
		ls.batches = append(ls.batches, postRequest("/v1/numbers/lookup", "", body))
		bodies.Write(body)
		bodies.WriteByte('\n')
	}
	dir := filepath.Join(b.work, "wrk")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ls.pathsFile = filepath.Join(dir, name+"-paths.txt")
	ls.bodyFile = filepath.Join(dir, name+"-batches.txt")
	if err := os.WriteFile(ls.pathsFile, []byte(paths.String()), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(ls.bodyFile, []byte(bodies.String()), 0o644); err != nil {
		return nil, err
	}
	return ls, nil
}

// rotate returns a request function that sends reqs in turn.
func rotate(reqs [][]byte) func(i int64, _ []byte) []byte {
	return func(i int64, _ []byte) []byte { return reqs[i%int64(len(reqs))] }
}

// closedLoad runs a closed-loop peak run.
func (b *bench) closedLoad(ctx context.Context, name, addr string, conns int, reqs [][]byte) (*loadResult, error) {
	return b.closedLoadFor(ctx, name, addr, conns, reqs, b.cfg.duration)
}

// closedLoadFor runs a closed-loop peak run of dur.
func (b *bench) closedLoadFor(ctx context.Context, name, addr string, conns int, reqs [][]byte, dur time.Duration) (*loadResult, error) {
	b.logf("load %s: closed loop, %d connections, %s", name, conns, dur)
	defer b.watch(name, addr)()
	r, err := runLoad(ctx, loadSpec{
		name: name, addr: addr, conns: conns, groups: 2, dur: dur,
		max: int64(500_000 * dur.Seconds()), req: rotate(reqs), progress: b.logf,
	})
	if err != nil {
		return nil, err
	}
	b.logf("load %s: %s/s 2xx, p50 %s, p99 %s, %s", name, num(int64(r.okPerSec())), ms(r.lat.quantile(0.5)), ms(r.lat.quantile(0.99)), r.statusSummary())
	return r, nil
}

// openLoad runs an open-loop run at a fixed rate.
func (b *bench) openLoad(ctx context.Context, name, addr string, conns int, rps float64, reqs [][]byte) (*loadResult, error) {
	return b.openLoadFor(ctx, name, addr, conns, rps, reqs, b.cfg.duration)
}

// openLoadFor runs an open-loop run of dur at a fixed rate.
func (b *bench) openLoadFor(ctx context.Context, name, addr string, conns int, rps float64, reqs [][]byte, dur time.Duration) (*loadResult, error) {
	b.logf("load %s: open loop at %s req/s, %d connections, %s", name, num(int64(rps)), conns, dur)
	defer b.watch(name, addr)()
	r, err := runLoad(ctx, loadSpec{
		name: name, addr: addr, conns: conns, groups: 2, dur: dur, rate: rps,
		max: int64(rps*dur.Seconds()) + 1, req: rotate(reqs), progress: b.logf,
	})
	if err != nil {
		return nil, err
	}
	b.logf("load %s: %s/s 2xx of %s/s asked, p50 %s, p99 %s (from the send: p99 %s), %d not sent, %s", name, num(int64(r.okPerSec())), num(int64(rps)),
		ms(r.lat.quantile(0.5)), ms(r.lat.quantile(0.99)), ms(r.service.quantile(0.99)), r.missed, r.statusSummary())
	return r, nil
}

// runWrk runs wrk -t2 -c64 against addr with the requests of file.
func (b *bench) runWrk(ctx context.Context, name, addr, file string, post bool) (wrkResult, error) {
	d := max(1, int(b.cfg.duration.Seconds()/2+0.5))
	script := filepath.Join(b.work, "wrk", "requests.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		return wrkResult{}, err
	}
	argv := []string{"wrk", "-t2", fmt.Sprintf("-c%d", b.cfg.conns), fmt.Sprintf("-d%ds", d), "--latency", "-s", script, "http://" + addr, "--", file}
	if post {
		argv = append(argv, "POST", "/v1/numbers/lookup")
	}
	b.command(argv...)
	b.logf("wrk %s: %ds", name, d)
	defer b.watch("wrk "+name, addr)()
	cctx, cancel := context.WithTimeout(ctx, time.Duration(d)*time.Second+2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(cctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w: %s", err, lastLinesOf(string(out), 3))
	}
	r, err := parseWrk(string(out))
	if err != nil {
		return r, fmt.Errorf("%w:\n%s", err, out)
	}
	b.logf("wrk %s: %s req/s, p50 %s, p99 %s, non-2xx %d %s", name, num(int64(r.reqPerSec)), ms(r.p50), ms(r.p99), r.non2xx, r.errors)
	return r, nil
}

// startGin starts the gin no-op baseline.
func (b *bench) startGin(ctx context.Context) (*proc, string, error) {
	addr, err := freePort()
	if err != nil {
		return nil, "", err
	}
	b.command(b.ginBin, "-listen", addr)
	p, err := startProc("ginnoop", filepath.Join(b.work, "ginnoop.log"), nil, b.ginBin, "-listen", addr)
	if err != nil {
		return nil, "", err
	}
	b.onCleanup(func() { p.stop(5 * time.Second) })
	for start := time.Now(); time.Since(start) < 30*time.Second; time.Sleep(50 * time.Millisecond) {
		st, _, err := fetchAll(ctx, addr, [][]byte{getRequest("/v1/numbers/%2B14155550199")}, 1)
		if err == nil && st[0] == 200 {
			return p, addr, nil
		}
		if !p.running() {
			break
		}
	}
	p.stop(5 * time.Second)
	return nil, "", fmt.Errorf("gin no-op did not answer: %s", lastOf(p.log.lastLines()))
}

// lookupJSON is the part of a lookup answer the bench checks.
type lookupJSON struct {
	Number    string          `json:"number"`
	Reporters int             `json:"reporters"`
	Error     json.RawMessage `json:"error"`
}

// sanity checks a sample of a set's answers: known numbers have reporters,
// unknown ones none. It returns a line for the report.
func (b *bench) sanity(ctx context.Context, addr string, ls *lookupSet) string {
	n := min(200, len(ls.gets))
	statuses, bodies, err := fetchAll(ctx, addr, ls.gets[:n], 4)
	if err != nil {
		return fmt.Sprintf("sanity check of the %s set failed: %v", ls.name, err)
	}
	var knownOK, known, unknownOK, bad int
	for i := range n {
		var r lookupJSON
		if statuses[i] != 200 || json.Unmarshal(bodies[i], &r) != nil {
			bad++
			continue
		}
		if ls.known[i] {
			known++
			if r.Reporters >= 2 {
				knownOK++
			}
		} else if r.Reporters == 0 {
			unknownOK++
		}
	}
	line := fmt.Sprintf("Sanity (%s set, first %d lookups): %d/%d imported numbers answered with ≥ 2 reporters, %d/%d unknown ones with 0, %d not 200.",
		ls.name, n, knownOK, known, unknownOK, n-known, bad)
	if knownOK != known || unknownOK != n-known || bad > 0 {
		b.note("the lookups do not answer as the data says they should: %s", line)
	}
	return line
}

// singleRun is one set's single-lookup measurements.
type singleRun struct {
	callrep, gin           *loadResult
	wrkCallrep, wrkGin     *wrkResult
	openCallrep, openGin   *loadResult
	batch                  *loadResult
	wrkBatch               *wrkResult
	errCallrep, errOpen    string
	errBatch, errGinClosed string
}

// loads runs every lookup load on s and the baselines, and makes the
// lookup figures.
func (b *bench) loads(ctx context.Context, s *server) {
	names := []struct{ name, target string }{
		{"single lookup, hot: callrep req/s ÷ gin no-op req/s", "≥ 0.8"},
		{"single lookup, cold: callrep req/s ÷ gin no-op req/s", "≥ 0.8"},
		{"batch lookup, hot: numbers/s (100 a request) ÷ redis-benchmark GET req/s", "≥ 5"},
		{"batch lookup, cold: numbers/s (100 a request) ÷ redis-benchmark GET req/s", "≥ 5"},
		{"lookup p99 at half peak, hot", "≤ 5 ms and ≤ 2× gin no-op p99"},
		{"lookup p99 at half peak, cold", "≤ 5 ms and ≤ 2× gin no-op p99"},
	}
	failAll := func(why string) {
		for _, n := range names {
			b.addFigure(notMeasured(n.name, n.target, why))
		}
	}
	if !s.ready || !s.p.running() {
		failAll("callrep is not running (" + s.failure + ")")
		return
	}
	b.logf("preparing the lookup requests")
	hot, err := b.newLookupSet("hot", hotSize, 0, 0)
	if err != nil {
		failAll(err.Error())
		return
	}
	cold, err := b.newLookupSet("cold", b.coldSize, hotSize/2, hotSize/2)
	if err != nil {
		failAll(err.Error())
		return
	}
	b.under = s
	defer func() { b.under = nil }()
	b.detail("%s", b.sanity(ctx, s.addr, hot))
	b.detail("%s", b.sanity(ctx, s.addr, cold))

	useWrk := false
	if b.cfg.wrk {
		if _, err := ensureTool(ctx, "wrk", "wrk", b.logf); err != nil {
			b.note("wrk unavailable, no cross-check: %v", err)
		} else {
			useWrk = true
			b.machine.wrk = firstLine(exec.Command("wrk", "-v").CombinedOutput())
		}
	}
	gin, ginAddr, err := b.startGin(ctx)
	if err != nil {
		failAll(err.Error())
		return
	}
	runs := map[string]*singleRun{}
	for _, ls := range []*lookupSet{hot, cold} {
		r := &singleRun{}
		runs[ls.name] = r
		r.callrep, r.gin, r.errCallrep, r.errGinClosed = bracket(
			func() (*loadResult, error) {
				return b.closedLoad(ctx, "callrep single "+ls.name, s.addr, b.cfg.conns, ls.gets)
			},
			func(half int) (*loadResult, error) {
				return b.closedLoadFor(ctx, fmt.Sprintf("gin no-op single %s (half %d)", ls.name, half), ginAddr, b.cfg.conns, ls.gets, b.cfg.duration/2)
			})
		if useWrk {
			if w, err := b.runWrk(ctx, "callrep single "+ls.name, s.addr, ls.pathsFile, false); err == nil {
				r.wrkCallrep = &w
			} else {
				b.note("wrk callrep single %s: %v", ls.name, err)
			}
			if w, err := b.runWrk(ctx, "gin no-op single "+ls.name, ginAddr, ls.pathsFile, false); err == nil {
				r.wrkGin = &w
			} else {
				b.note("wrk gin no-op single %s: %v", ls.name, err)
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	for _, ls := range []*lookupSet{hot, cold} {
		r := runs[ls.name]
		if r == nil || r.callrep == nil || r.callrep.okPerSec() <= 0 || ctx.Err() != nil {
			continue
		}
		rps := r.callrep.okPerSec() / 2
		var errCallrep, errGin string
		r.openCallrep, r.openGin, errCallrep, errGin = bracket(
			func() (*loadResult, error) {
				return b.openLoad(ctx, "callrep single "+ls.name+" at half peak", s.addr, b.cfg.conns, rps, ls.gets)
			},
			func(half int) (*loadResult, error) {
				return b.openLoadFor(ctx, fmt.Sprintf("gin no-op single %s at callrep's half peak (half %d)", ls.name, half), ginAddr, b.cfg.conns, rps, ls.gets, b.cfg.duration/2)
			})
		if errCallrep != "" || errGin != "" {
			r.errOpen = strings.TrimSpace(errCallrep + " " + errGin)
		}
	}
	gin.stop(5 * time.Second)
	for _, ls := range []*lookupSet{hot, cold} {
		r := runs[ls.name]
		if r == nil || ctx.Err() != nil {
			continue
		}
		if r.batch, err = b.closedLoad(ctx, "callrep batch "+ls.name, s.addr, b.cfg.conns, ls.batches); err != nil {
			r.errBatch = err.Error()
		}
		if useWrk {
			if w, err := b.runWrk(ctx, "callrep batch "+ls.name, s.addr, ls.bodyFile, true); err == nil {
				r.wrkBatch = &w
			} else {
				b.note("wrk callrep batch %s: %v", ls.name, err)
			}
		}
	}
	redis, redisErr := b.redisBaseline(ctx)

	for i, ls := range []*lookupSet{hot, cold} {
		r := runs[ls.name]
		if r == nil {
			r = &singleRun{errCallrep: "not run", errBatch: "not run", errOpen: "not run"}
		}
		b.singleFigure(names[i].name, names[i].target, ls, r)
		b.batchFigure(names[2+i].name, names[2+i].target, ls, r, redis, redisErr)
		b.openFigure(names[4+i].name, names[4+i].target, ls, r)
	}
}

// bracket runs a baseline's first half, callrep's run and the baseline's
// second half, and returns callrep's result and the two halves merged, or
// the errors. The baseline's halves lie symmetrically around callrep's run,
// so a machine that speeds up or slows down steadily during the three
// (other tenants, thermal, the page cache) moves both alike: measured one
// after the other, the gin no-op alone varied by 40% between runs here.
func bracket(callrep func() (*loadResult, error), baseline func(half int) (*loadResult, error)) (c, base *loadResult, errC, errBase string) {
	first, err1 := baseline(1)
	c, err := callrep()
	if err != nil {
		errC = err.Error()
	}
	second, err2 := baseline(2)
	switch {
	case err1 != nil:
		errBase = err1.Error()
	case err2 != nil:
		errBase = err2.Error()
	default:
		base = first
		base.add(second)
	}
	return c, base, errC, errBase
}

// wrkErrs is wrk's socket error line, for the details; wrk counts a
// request as timed out after 2 s.
func wrkErrs(r *wrkResult) string {
	if r.errors == "" {
		return ""
	}
	return "; " + r.errors
}

// watch records the machine's load average at the start of a load run
// and returns a function that, at its end, notes what callrep logged
// meanwhile (background jobs, warnings), if the run was against callrep.
func (b *bench) watch(name, addr string) func() {
	if avg, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(avg)); len(f) > 0 {
			if v, err := strconv.ParseFloat(f[0], 64); err == nil {
				b.loadavgs = append(b.loadavgs, v)
			}
		}
	}
	s := b.under
	if s == nil || s.p == nil || s.addr != addr {
		return func() {}
	}
	_, from := s.p.log.from(1 << 62)
	return func() {
		lines, _ := s.p.log.from(from)
		counts := map[string]int{}
		var order []string
		for _, l := range lines {
			j, ok := parseJSONLog(l.text)
			if !ok || j.Msg == "" {
				continue
			}
			key := j.Msg
			if j.Job != "" {
				key += " (" + j.Job + ")"
			}
			if j.Level != "INFO" && j.Level != "" {
				key = j.Level + " " + key
			}
			if counts[key] == 0 {
				order = append(order, key)
			}
			counts[key]++
		}
		if len(order) == 0 {
			return
		}
		parts := make([]string, len(order))
		for i, k := range order {
			parts[i] = fmt.Sprintf("%s ×%d", k, counts[k])
		}
		b.detail("During %s callrep logged (besides access logs and GC traces): %s.", name, strings.Join(parts, ", "))
	}
}

func firstLine(out []byte, _ error) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return s
}

func latencies(r *loadResult) string {
	return fmt.Sprintf("p50 %s, p99 %s", ms(r.lat.quantile(0.5)), ms(r.lat.quantile(0.99)))
}

// errorNote notes a run whose answers were not all 2xx.
func (b *bench) errorNote(r *loadResult) {
	if r != nil && (r.non2xx() > 0 || r.errors > 0) {
		b.note("%s: not every answer was 2xx (counted out of the rates): %s", r.name, r.statusSummary())
	}
}

func (b *bench) singleFigure(name, target string, ls *lookupSet, r *singleRun) {
	switch {
	case r.callrep == nil:
		b.addFigure(notMeasured(name, target, "callrep run failed: "+r.errCallrep))
		return
	case r.gin == nil:
		b.addFigure(notMeasured(name, target, "gin no-op run failed: "+r.errGinClosed))
		return
	}
	b.errorNote(r.callrep)
	b.errorNote(r.gin)
	v := r.callrep.okPerSec() / r.gin.okPerSec()
	b.addFigure(figure{name: name,
		measured: fmt.Sprintf("%s (%s)", rate(r.callrep.okPerSec(), "req/s"), latencies(r.callrep)),
		baseline: fmt.Sprintf("gin no-op %s (%s)", rate(r.gin.okPerSec(), "req/s"), latencies(r.gin)),
		ratio:    fmt.Sprintf("%.2f", v), target: target, pass: v >= 0.8})
	b.detail("Single %s, closed loop -c%d: p50 ratio callrep/gin no-op %s, p99 ratio %s.", ls.name, b.cfg.conns,
		ratio(float64(r.callrep.lat.quantile(0.5)), float64(r.gin.lat.quantile(0.5))),
		ratio(float64(r.callrep.lat.quantile(0.99)), float64(r.gin.lat.quantile(0.99))))
	if r.wrkCallrep != nil && r.wrkGin != nil {
		b.detail("Cross-check `wrk -t2 -c%d` single %s: callrep %s (p50 %s, p99 %s, non-2xx %d%s), gin no-op %s (p50 %s, p99 %s%s): ratio %s.",
			b.cfg.conns, ls.name, rate(r.wrkCallrep.reqPerSec, "req/s"), ms(r.wrkCallrep.p50), ms(r.wrkCallrep.p99), r.wrkCallrep.non2xx, wrkErrs(r.wrkCallrep),
			rate(r.wrkGin.reqPerSec, "req/s"), ms(r.wrkGin.p50), ms(r.wrkGin.p99), wrkErrs(r.wrkGin), ratio(r.wrkCallrep.reqPerSec, r.wrkGin.reqPerSec))
	}
}

func (b *bench) batchFigure(name, target string, ls *lookupSet, r *singleRun, redis *redisResult, redisErr error) {
	switch {
	case r.batch == nil:
		b.addFigure(notMeasured(name, target, "callrep run failed: "+r.errBatch))
		return
	case redis == nil:
		b.addFigure(notMeasured(name, target, fmt.Sprintf("redis baseline failed: %v", redisErr)))
		return
	}
	b.errorNote(r.batch)
	nps := r.batch.okPerSec() * batchSize
	v := nps / redis.reqPerSec
	b.addFigure(figure{name: name,
		measured: fmt.Sprintf("%s (%s a request of 100; %s)", rate(nps, "numbers/s"), rate(r.batch.okPerSec(), "req/s"), latencies(r.batch)),
		baseline: fmt.Sprintf("redis GET %s (p50 %s, p99 %s)", rate(redis.reqPerSec, "req/s"), ms(redis.p50), ms(redis.p99)),
		ratio:    fmt.Sprintf("%.2f", v), target: target, pass: v >= 5})
	b.detail("Batch %s: p50 ratio callrep batch/redis GET %s, p99 ratio %s.", ls.name,
		ratio(float64(r.batch.lat.quantile(0.5)), float64(redis.p50)), ratio(float64(r.batch.lat.quantile(0.99)), float64(redis.p99)))
	if r.wrkBatch != nil {
		b.detail("Cross-check `wrk -t2 -c%d` batch %s: %s (%s; p50 %s, p99 %s, non-2xx %d%s): ratio to redis %s.", b.cfg.conns, ls.name,
			rate(r.wrkBatch.reqPerSec*batchSize, "numbers/s"), rate(r.wrkBatch.reqPerSec, "req/s"), ms(r.wrkBatch.p50), ms(r.wrkBatch.p99),
			r.wrkBatch.non2xx, wrkErrs(r.wrkBatch), ratio(r.wrkBatch.reqPerSec*batchSize, redis.reqPerSec))
	}
}

func (b *bench) openFigure(name, target string, ls *lookupSet, r *singleRun) {
	switch {
	case r.openCallrep == nil:
		why := r.errOpen
		if why == "" {
			why = "no peak to halve"
		}
		b.addFigure(notMeasured(name, target, why))
		return
	case r.openGin == nil:
		b.addFigure(notMeasured(name, target, "gin no-op run failed: "+r.errOpen))
		return
	}
	b.errorNote(r.openCallrep)
	b.errorNote(r.openGin)
	p99, g99 := r.openCallrep.lat.quantile(0.99), r.openGin.lat.quantile(0.99)
	v := float64(p99) / float64(g99)
	f := figure{name: name,
		measured: fmt.Sprintf("p99 %s at %s (p50 %s; %s/s answered)", ms(p99), rate(r.openCallrep.rate, "req/s"),
			ms(r.openCallrep.lat.quantile(0.5)), num(int64(r.openCallrep.okPerSec()))),
		baseline: fmt.Sprintf("gin no-op p99 %s at the same rate (p50 %s)", ms(g99), ms(r.openGin.lat.quantile(0.5))),
		ratio:    fmt.Sprintf("%.2f", v), target: target, pass: p99 <= 5*time.Millisecond && v <= 2}
	if r.openCallrep.missed > 0 {
		f.measured += fmt.Sprintf("; %d requests not sent in time", r.openCallrep.missed)
		f.pass = false
	}
	b.addFigure(f)
	b.detail("Open loop %s at %s: p99 from the actual send callrep %s, gin no-op %s (the figure counts from the scheduled time).",
		ls.name, rate(r.openCallrep.rate, "req/s"), ms(r.openCallrep.service.quantile(0.99)), ms(r.openGin.service.quantile(0.99)))
}

// redisBaseline starts redis-server, runs redis-benchmark and stops the
// server by its PID.
func (b *bench) redisBaseline(ctx context.Context) (*redisResult, error) {
	server, err := ensureTool(ctx, "redis-server", "redis-server", b.logf)
	if err != nil {
		return nil, err
	}
	benchTool, err := ensureTool(ctx, "redis-benchmark", "redis-tools", b.logf)
	if err != nil {
		return nil, err
	}
	b.machine.redis = firstLine(exec.Command(server, "--version").CombinedOutput())
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	argv := []string{server, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}
	b.command(append([]string{"redis-server"}, argv[1:]...)...)
	p, err := startProc("redis-server", filepath.Join(b.work, "redis.log"), nil, argv...)
	if err != nil {
		return nil, err
	}
	b.onCleanup(func() { p.stop(5 * time.Second) })
	defer p.stop(5 * time.Second)
	if err := waitRedis(ctx, addr, 10*time.Second); err != nil {
		return nil, err
	}
	n := max(100_000, int(50_000*b.cfg.duration.Seconds()))
	bargv := []string{benchTool, "-h", "127.0.0.1", "-p", port, "-t", "get", "-c", "64", "-P", "1", "-n", strconv.Itoa(n), "--csv"}
	b.command(append([]string{"redis-benchmark"}, bargv[1:]...)...)
	b.logf("redis-benchmark: %s GETs", num(n))
	cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(cctx, bargv[0], bargv[1:]...).Output()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark: %w", err)
	}
	r, err := parseRedisCSV(string(out))
	if err != nil {
		return nil, err
	}
	b.logf("redis-benchmark: %s req/s, p50 %s, p99 %s", num(int64(r.reqPerSec)), ms(r.p50), ms(r.p99))
	return &r, nil
}
