package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callrep/callrep/api"
	"github.com/callrep/callrep/labels"
)

// lookupEnv is a server without rate limits whose index holds 100,000
// numbers +86138…, each labelled fraud by perNumber reporters of src.
func lookupEnv(b *testing.B, perNumber int, src labels.Source) *testEnv {
	b.Helper()
	e := newEnv(b, withLimits(api.Limits{
		RequestsPerMinute: 1e12, RequestBurst: 1 << 30, SignedInRequestsPerMinute: 1e12, SignedInRequestBurst: 1 << 30,
		ReportsPerMinute: 100, ReportBurst: 100, MaxBodyBytes: 1 << 20,
	}))
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100_000 {
		for r := range perNumber {
			e.index.LabelChanged(nil, &labels.Label{Reporter: fmt.Sprint(src, ":", r), Key: fmt.Sprintf("+86138%08d", i),
				Category: "fraud", Source: src, Valid: true, CreatedAt: at, FirstAt: at})
		}
	}
	return e
}

// BenchmarkLookupHandler measures GET /v1/numbers/{number} through the
// whole in-process stack (routing, limits, normalisation, index, JSON) on
// an index of 100,000 labelled numbers, without the network.
func BenchmarkLookupHandler(b *testing.B) {
	e := lookupEnv(b, 3, labels.SourceApp)
	h := e.api.Handler()
	for _, bc := range []struct{ name, path string }{
		{"Hit", "/v1/numbers/%2B8613800004242"},
		{"Miss", "/v1/numbers/%2B8613900004242"},
		{"National", "/v1/numbers/138%200000%204242?region=CN"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, bc.path, nil)
			req.RemoteAddr = "192.0.2.1:1234"
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkReportHTTP measures POST /v1/reports over loopback HTTP, with
// local tokens, the labels service and the reputation index on an
// embedded FerretDB: 200 users on 32 connections. It reports durable
// reports/s and the latency percentiles of one request.
func BenchmarkReportHTTP(b *testing.B) {
	e := newEnv(b, withLimits(api.Limits{
		RequestsPerMinute: 1e12, RequestBurst: 1 << 30, SignedInRequestsPerMinute: 1e12, SignedInRequestBurst: 1 << 30,
		ReportsPerMinute: 1e12, ReportBurst: 1 << 30, MaxBodyBytes: 1 << 20,
	}))
	tokens := make([]string, 200)
	for i := range tokens {
		tokens[i] = e.token(b, fmt.Sprint("user-", i))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	var (
		next atomic.Int64
		mu   sync.Mutex
		lat  []time.Duration
	)
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			i := next.Add(1)
			body := fmt.Sprintf(`{"number":"+86138%08d","category":"fraud","client_report_id":"b-%d"}`, i%50_000, i)
			req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/reports", bytes.NewReader([]byte(body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tokens[i%int64(len(tokens))])
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "reports/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkLookupBatch measures POST /v1/numbers/lookup with 100 numbers,
// half labelled, a fifth in national format, through the in-process stack.
func BenchmarkLookupBatch(b *testing.B) {
	e := lookupEnv(b, 2, labels.ImportSource("ftc"))
	var nums []string
	for i := range 100 {
		switch {
		case i%5 == 0:
			nums = append(nums, fmt.Sprintf("138 %04d %04d", i/2, 4000+i))
		case i%2 == 0:
			nums = append(nums, fmt.Sprintf("+86138%08d", i*97))
		default:
			nums = append(nums, fmt.Sprintf("+86139%08d", i*97))
		}
	}
	body, _ := json.Marshal(map[string]any{"numbers": nums, "region": "CN"})
	h := e.api.Handler()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/numbers/lookup", bytes.NewReader(body))
		req.RemoteAddr = "192.0.2.1:1234"
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(b.N*len(nums))/b.Elapsed().Seconds(), "numbers/s")
}
