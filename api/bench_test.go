package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/callrep/callrep/api"
	"github.com/callrep/callrep/labels"
)

// BenchmarkLookupHandler measures GET /v1/numbers/{number} through the
// whole in-process stack (routing, limits, normalisation, index, JSON) on
// an index of 100,000 labelled numbers, without the network.
func BenchmarkLookupHandler(b *testing.B) {
	e := newEnv(b, withLimits(api.Limits{
		RequestsPerMinute: 1e12, RequestBurst: 1 << 30, SignedInRequestsPerMinute: 1e12, SignedInRequestBurst: 1 << 30,
		ReportsPerMinute: 100, ReportBurst: 100, MaxBodyBytes: 1 << 20,
	}))
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100_000 {
		for r := range 3 {
			e.index.LabelChanged(nil, &labels.Label{Reporter: fmt.Sprint("u", r), Key: fmt.Sprintf("+86138%08d", i),
				Category: "fraud", Valid: true, CreatedAt: at, FirstAt: at})
		}
	}
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
