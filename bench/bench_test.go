package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
)

func TestHistQuantiles(t *testing.T) {
	scenarios := []struct {
		name   string
		values func(i int) time.Duration
		n      int
	}{
		{"Uniform", func(i int) time.Duration { return time.Duration(i+1) * time.Microsecond }, 10_000},
		{"Small", func(i int) time.Duration { return time.Duration(i + 1) }, 100},
		{"Wide", func(i int) time.Duration { return time.Duration(math.Pow(1.001, float64(i))) * time.Microsecond }, 20_000},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var h hist
			for i := range sc.n {
				h.record(sc.values(i))
			}
			for _, q := range []float64{0.5, 0.9, 0.99, 1} {
				want := sc.values(int(math.Ceil(q*float64(sc.n))) - 1)
				got := h.quantile(q)
				if got < want || float64(got) > float64(want)*1.016+1 {
					t.Errorf("q%.2f: got %v, want %v (to +1.6%%)", q, got, want)
				}
			}
			if h.max() != sc.values(sc.n-1) {
				t.Errorf("max: got %v, want %v", h.max(), sc.values(sc.n-1))
			}
		})
	}
	t.Run("Merge", func(t *testing.T) {
		var a, b hist
		a.record(time.Millisecond)
		b.record(3 * time.Millisecond)
		a.merge(&b)
		if a.n != 2 || a.mean() != 2*time.Millisecond || a.max() != 3*time.Millisecond {
			t.Errorf("got n=%d mean=%v max=%v, want 2, 2ms, 3ms", a.n, a.mean(), a.max())
		}
	})
	t.Run("Index", func(t *testing.T) {
		for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 1e6, 1e9, 1 << 62, math.MaxInt64} {
			i := histIndex(v)
			if i < 0 || i >= histSize || histUpper(i) < v || (i > 0 && histUpper(i-1) >= v) {
				t.Errorf("%d: index %d, upper %d, previous upper %d", v, i, histUpper(i), histUpper(max(i-1, 0)))
			}
		}
	})
}

func TestReadResponse(t *testing.T) {
	scenarios := []struct {
		name, raw, body string
		status          int
		closing         bool
	}{
		{"ContentLength", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: application/json\r\n\r\nhello", "hello", 200, false},
		{"Chunked", "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nTrailer: 1\r\n\r\n", "hello world", 201, false},
		{"Close", "HTTP/1.1 429 Too Many Requests\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}", "{}", 429, true},
		{"NoContent", "HTTP/1.1 204 No Content\r\n\r\n", "", 204, false},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			// Two responses in a row: the first must be read exactly.
			br := bufio.NewReader(strings.NewReader(sc.raw + sc.raw))
			for range 2 {
				status, body, closing, err := readResponse(br, true)
				if err != nil {
					t.Fatal(err)
				}
				if status != sc.status || string(body) != sc.body || closing != sc.closing {
					t.Errorf("got %d %q close=%v, want %d %q close=%v", status, body, closing, sc.status, sc.body, sc.closing)
				}
			}
		})
	}
	t.Run("ErrMalformed", func(t *testing.T) {
		if _, _, _, err := readResponse(bufio.NewReader(strings.NewReader("SSH-2.0\r\n\r\n")), false); err == nil {
			t.Error("got no error for a non-HTTP answer")
		}
	})
}

func TestParseWrk(t *testing.T) {
	out := `Running 10s test @ http://127.0.0.1:8080
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.38ms    3.01ms  50.12ms   89.01%
    Req/Sec    15.38k     1.99k   20.35k    70.50%
  Latency Distribution
     50%    1.52ms
     75%    2.61ms
     90%    4.85ms
     99%   15.23ms
  306164 requests in 10.01s, 77.08MB read
  Socket errors: connect 0, read 0, write 0, timeout 3
  Non-2xx or 3xx responses: 12
Requests/sec:  30593.37
Transfer/sec:      7.70MB
`
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.reqPerSec != 30593.37 || r.requests != 306164 || r.p50 != 1520*time.Microsecond || r.p99 != 15230*time.Microsecond || r.non2xx != 12 ||
		!strings.Contains(r.errors, "timeout 3") {
		t.Errorf("got %+v", r)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused"); err == nil {
		t.Error("got no error for output without a rate")
	}
}

func TestParseRedisCSV(t *testing.T) {
	out := `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"GET","45444.22","0.880","0.160","0.583","2.655","6.143","68.159"
`
	r, err := parseRedisCSV(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.reqPerSec != 45444.22 || r.p50 != 583*time.Microsecond || r.p99 != 6143*time.Microsecond {
		t.Errorf("got %+v", r)
	}
}

func TestParseGCTrace(t *testing.T) {
	g, ok := parseGCTrace("gc 12 @3.456s 2%: 0.017+15+0.27 ms clock, 0.034+0.83/0.55/5.6+0.55 ms cpu, 3->4->2 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P")
	if !ok || g.n != 12 || g.uptime != 3.456 || g.liveMB != 2 {
		t.Errorf("got %+v %v, want gc 12 @3.456 live 2", g, ok)
	}
	if _, ok := parseGCTrace(`{"msg":"gc 1 @1s"}`); ok {
		t.Error("a log line was read as a gctrace line")
	}
}

func TestParseStatus(t *testing.T) {
	rss, hwm, err := parseStatus([]byte("Name:\tcallrep\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t9\n"))
	if err != nil || rss != 100<<20 || hwm != 200<<20 {
		t.Errorf("got %d %d %v, want 100 MiB and 200 MiB", rss, hwm, err)
	}
	if _, _, err := parseStatus([]byte("Name:\tx\n")); err == nil {
		t.Error("got no error without VmRSS")
	}
}

func TestAtMillion(t *testing.T) {
	scenarios := []struct {
		measured, empty float64
		n               int
		want            float64
	}{
		{300, 20, 1_000_000, 300},
		{76, 20, 200_000, 300},
		{20, 20, 2000, 20},
	}
	for _, sc := range scenarios {
		if got := atMillion(sc.measured, sc.empty, sc.n); math.Abs(got-sc.want) > 1e-9 {
			t.Errorf("atMillion(%v, %v, %d): got %v, want %v", sc.measured, sc.empty, sc.n, got, sc.want)
		}
	}
}

// TestFTCFile reads the generated file with callrep's own FTC reader: every
// row a well-formed complaint, each its own id, each number normalising to
// the known number it was written for.
func TestFTCFile(t *testing.T) {
	ds := newDataset(7, 500, 100, 100)
	var buf bytes.Buffer
	rows, err := ds.writeFTC(&buf, 7)
	if err != nil {
		t.Fatal(err)
	}
	if rows != 1000 {
		t.Fatalf("rows: got %d, want 1000", rows)
	}
	known := map[string]bool{}
	for _, n := range ds.known {
		known[e164(n)] = true
	}
	ids := map[string]bool{}
	perNumber := map[string]int{}
	st, err := labels.ReadFTC(&buf, func(c labels.FTCComplaint) error {
		if ids[c.ID] {
			return fmt.Errorf("row %d: id %s twice", c.Row, c.ID)
		}
		ids[c.ID] = true
		n, err := labels.NormalizeKey(c.Number, "US", "US")
		if err != nil {
			return fmt.Errorf("row %d: %q: %w", c.Row, c.Number, err)
		}
		if !known[n.Key] {
			return fmt.Errorf("row %d: %q normalises to %s, not a known number", c.Row, c.Number, n.Key)
		}
		perNumber[n.Key]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 1000 || st.Complaints != 1000 || st.Malformed != 0 || st.BadDates != 0 {
		t.Errorf("got %+v, want 1000 clean complaints", st)
	}
	for k, c := range perNumber {
		if c != 2 {
			t.Errorf("%s: got %d complaints, want 2", k, c)
		}
	}
	if share := ds.validShare(1000); share < 0.98 {
		t.Errorf("valid share: got %.3f, want ≥ 0.98", share)
	}
	seen := map[uint64]bool{}
	for _, set := range [][]uint64{ds.known, ds.unknown, ds.reports} {
		for _, n := range set {
			if seen[n] {
				t.Fatalf("%d drawn twice", n)
			}
			seen[n] = true
		}
	}
}

func TestLookupForms(t *testing.T) {
	if got, want := lookupPath(4155550123, 0), "/v1/numbers/%2B14155550123"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got, want := lookupPath(4155550123, 4), "/v1/numbers/%28415%29%20555-0123?region=US"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got, want := string(batchBody([]uint64{4155550123, 2125550199}, 3)), `{"numbers":["+14155550123","(212) 555-0199"],"region":"US"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestRunLoad drives a real HTTP server on loopback, closed and open
// loop, with answers of both lengths (chunked and not).
func TestRunLoad(t *testing.T) {
	big := strings.Repeat("x", 5000) // net/http chunks bodies past 2 KiB
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			io.WriteString(w, big)
		case "/missing":
			http.NotFound(w, r)
		default:
			io.WriteString(w, "{}")
		}
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	reqs := [][]byte{getRequest("/small"), getRequest("/big"), getRequest("/missing")}
	t.Run("Closed", func(t *testing.T) {
		r, err := runLoad(context.Background(), loadSpec{name: "closed", addr: addr, conns: 4, groups: 2, dur: 300 * time.Millisecond, max: 3000, req: rotate(reqs)})
		if err != nil {
			t.Fatal(err)
		}
		if r.errors != 0 || r.responses == 0 || r.statuses[404] == 0 || r.ok != r.statuses[200] || r.lat.n != r.responses {
			t.Errorf("got %d responses, %s", r.responses, r.statusSummary())
		}
		if r.responses > 3000 {
			t.Errorf("got %d responses, want at most the bound 3000", r.responses)
		}
	})
	t.Run("Open", func(t *testing.T) {
		r, err := runLoad(context.Background(), loadSpec{name: "open", addr: addr, conns: 4, groups: 2, dur: 500 * time.Millisecond, rate: 400, max: 1000, req: rotate(reqs)})
		if err != nil {
			t.Fatal(err)
		}
		if r.responses+r.missed+r.errors != 200 {
			t.Errorf("got %d responses, %d missed, %d errors; want 200 in all", r.responses, r.missed, r.errors)
		}
		if r.service.n != r.responses || r.lat.quantile(0.5) < r.service.quantile(0.5)/2 {
			t.Errorf("latencies: scheduled p50 %v, service p50 %v", r.lat.quantile(0.5), r.service.quantile(0.5))
		}
	})
	t.Run("ServerGone", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { // accept and hang up: every request is a transport error
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		defer ln.Close()
		r, err := runLoad(context.Background(), loadSpec{name: "gone", addr: ln.Addr().String(), conns: 2, groups: 2, dur: 200 * time.Millisecond, max: 100, req: rotate(reqs)})
		if err != nil {
			t.Fatal(err)
		}
		if r.ok != 0 || r.errors == 0 {
			t.Errorf("got %d ok, %d errors; want 0 ok and errors", r.ok, r.errors)
		}
	})
}

// TestSmoke runs the whole bench in quick mode: it builds callrep, imports
// 2,000 numbers and runs every load for a second, which takes a minute or
// two, so it runs only with CALLREP_BENCH_SMOKE=1.
func TestSmoke(t *testing.T) {
	if os.Getenv("CALLREP_BENCH_SMOKE") != "1" {
		t.Skip("set CALLREP_BENCH_SMOKE=1 to run the bench in quick mode (1–2 minutes)")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "RESULTS.md")
	var stdout bytes.Buffer
	code := run(context.Background(), []string{"-quick", "-duration", "1s", "-out", out, "-work", filepath.Join(dir, "work")}, &stdout, os.Stderr)
	if code != 0 {
		t.Fatalf("exit code %d\n%s", code, stdout.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range figureOrder {
		if !strings.Contains(string(b), "| "+name) {
			t.Errorf("no %q figure in the results:\n%s", name, b)
		}
	}
	if strings.Contains(string(b), "not measured") {
		t.Errorf("a figure was not measured:\n%s", b)
	}
}

// TestWatch checks that what callrep logs during a load run lands in the
// details, and that access logs and GC traces do not.
func TestWatch(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lw := newLogWatch(f)
	bw := bufio.NewWriter(io.Discard)
	b := &bench{stdout: io.Discard, started: time.Now()}
	b.under = &server{addr: "127.0.0.1:1", p: &proc{log: lw}}
	lw.add([]byte(`{"level":"INFO","msg":"callrep serving"}`+"\n"), bw)
	stop := b.watch("run", "127.0.0.1:1")
	for _, l := range []string{
		`{"level":"INFO","msg":"request","route":"/v1/numbers/:number"}`,
		"gc 3 @1.0s 1%: 0.1+1+0.1 ms clock, 0.1+0/0/0+0.1 ms cpu, 4->5->2 MB, 5 MB goal, 0 MB stacks, 0 MB globals, 2 P",
		`{"level":"INFO","msg":"labels snapshot","component":"labels"}`,
		`{"level":"ERROR","msg":"job failed","job":"rescore","err":"x"}`,
		`{"level":"INFO","msg":"labels snapshot","component":"labels"}`,
	} {
		lw.add([]byte(l+"\n"), bw)
	}
	stop()
	want := "During run callrep logged (besides access logs and GC traces): labels snapshot ×2, ERROR job failed (rescore) ×1."
	if len(b.details) != 1 || b.details[0] != want {
		t.Errorf("got %q, want %q", b.details, want)
	}
	if lw.requests != 1 || len(lw.gcs) != 1 {
		t.Errorf("got %d requests and %d GC traces, want 1 and 1", lw.requests, len(lw.gcs))
	}
	b.loadavgs = nil
	b.watch("gin", "127.0.0.1:2")() // not the server under load: nothing noted
	if len(b.details) != 1 {
		t.Errorf("got %q for a run against another server", b.details[1:])
	}
}

// TestBracket checks that the baseline's halves run around callrep's run
// and merge into one result: counts, statuses, time and latencies.
func TestBracket(t *testing.T) {
	var order []string
	run := func(name string, ok int64, d time.Duration) *loadResult {
		order = append(order, name)
		r := &loadResult{name: name, responses: ok + 1, ok: ok, statuses: map[int]int64{200: ok, 503: 1}, elapsed: time.Second}
		for range ok {
			r.lat.record(d)
		}
		return r
	}
	c, base, errC, errBase := bracket(
		func() (*loadResult, error) { return run("callrep", 50, time.Millisecond), nil },
		func(half int) (*loadResult, error) {
			if half == 1 {
				return run("gin 1", 100, time.Millisecond), nil
			}
			return run("gin 2", 300, 10*time.Millisecond), nil
		})
	if errC != "" || errBase != "" {
		t.Fatalf("errors %q, %q", errC, errBase)
	}
	if !slices.Equal(order, []string{"gin 1", "callrep", "gin 2"}) {
		t.Fatalf("ran %v", order)
	}
	if c.ok != 50 || base.ok != 400 || base.responses != 402 || base.statuses[503] != 2 || base.elapsed != 2*time.Second || base.okPerSec() != 200 {
		t.Fatalf("merged: %+v", base)
	}
	if base.lat.n != 400 || base.lat.quantile(0.25) > 2*time.Millisecond || base.lat.quantile(0.99) < 9*time.Millisecond {
		t.Fatalf("merged latencies: n %d, p25 %v, p99 %v", base.lat.n, base.lat.quantile(0.25), base.lat.quantile(0.99))
	}
	_, base, _, errBase = bracket(
		func() (*loadResult, error) { return run("callrep", 1, time.Millisecond), nil },
		func(half int) (*loadResult, error) {
			if half == 2 {
				return nil, errors.New("gin died")
			}
			return run("gin", 1, time.Millisecond), nil
		})
	if base != nil || errBase != "gin died" {
		t.Fatalf("a failed half: %v, %q", base, errBase)
	}
}
