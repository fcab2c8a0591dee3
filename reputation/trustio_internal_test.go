package reputation

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkTrustDecode decodes the stored trust estimate of a million app
// reporters with ten classes, in the binary form and in the JSON form of
// earlier builds, and reports the blob's size and the decoded estimate's
// live heap. Run it alone:
//
//	go test -run '^$' -bench TrustDecode -benchtime 3x ./reputation
func BenchmarkTrustDecode(b *testing.B) {
	const workers = 1_000_000
	classes := []string{"delivery", "financial", "fraud", "harassment", "promotion", "real_estate", "safe", "spam", "survey", "telemarketing"}
	t := &Trust{Classes: classes, Prior: map[string]float64{}, Workers: make(map[string]WorkerTrust, workers),
		cohortOf: cohortOf, table: make(map[string][]float64, workers)}
	for _, c := range classes {
		t.Prior[c] = 1 / float64(len(classes))
	}
	for i := range workers {
		name := fmt.Sprintf("firebase:u%07d", i)
		ws := make([]float64, len(classes))
		for j := range ws {
			ws[j] = float64(i%97)/50 - float64(j)/10
		}
		t.Workers[name], t.table[name] = WorkerTrust{Accuracy: 0.8, Labels: 3 + i%5}, ws
	}
	bin, err := EncodeTrust(t)
	if err != nil {
		b.Fatal(err)
	}
	st := storedTrust{Classes: classes, Prior: t.Prior, Workers: make(map[string]storedWorker, workers)}
	for name, w := range t.Workers {
		st.Workers[name] = storedWorker{Accuracy: w.Accuracy, Labels: w.Labels, Weights: t.table[name]}
	}
	js, err := json.Marshal(st)
	if err != nil {
		b.Fatal(err)
	}
	st, t = storedTrust{}, nil
	for _, form := range []struct {
		name string
		blob []byte
	}{{"binary", bin}, {"json", js}} {
		b.Run(form.name, func(b *testing.B) {
			var heap uint64
			for range b.N {
				runtime.GC()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				got, err := DecodeTrust(form.blob)
				if err != nil || len(got.Workers) != workers {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&m1)
				heap = m1.HeapAlloc - min(m0.HeapAlloc, m1.HeapAlloc)
				runtime.KeepAlive(got)
			}
			b.ReportMetric(float64(len(form.blob))/(1<<20), "blob-MiB")
			b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
		})
	}
}
