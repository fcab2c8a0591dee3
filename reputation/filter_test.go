package reputation_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/callrep/callrep/reputation"
)

var built = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func numbers(r *rand.Rand, n int, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%09d", prefix, r.IntN(1_000_000_000))
	}
	return out
}

// TestFilterSizeAndRate: m within 1% of the Bloom optimum for the
// capacity, and the measured false-positive rate on a million absent
// numbers at full capacity at most 1.2 × the target.
func TestFilterSizeAndRate(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, p := range []float64{0.01, 0.001} {
		spec := reputation.FilterSpec{Name: "fraud", FPRate: p, Headroom: 0}
		keys := numbers(r, 200_000, "+86138")
		s, err := reputation.BuildFilter(spec, keys, 1, 0, built)
		if err != nil {
			t.Fatal(err)
		}
		opt := -float64(s.Capacity) * math.Log(p) / (math.Ln2 * math.Ln2)
		if math.Abs(float64(s.M)-opt)/opt > 0.01 {
			t.Fatalf("p=%v: m=%d, optimum %.0f", p, s.M, opt)
		}
		for _, k := range keys {
			if !s.Test(k) {
				t.Fatalf("false negative for %s", k)
			}
		}
		fp := 0
		for _, k := range numbers(r, 1_000_000, "+1415") { // another range: absent
			if s.Test(k) {
				fp++
			}
		}
		if rate := float64(fp) / 1e6; rate > 1.2*p {
			t.Fatalf("p=%v: measured false-positive rate %.5f", p, rate)
		} else {
			t.Logf("p=%v: m=%d k=%d, %.1f KiB, measured rate %.5f", p, s.M, s.K, float64(len(s.Bytes))/1024, rate)
		}
	}
}

func TestParseFilter(t *testing.T) {
	s, err := reputation.BuildFilter(reputation.FilterSpec{Name: "spam", FPRate: 0.01, Headroom: 0.25}, []string{"+8613800138000", "CN:95588"}, 3, 0, built)
	if err != nil {
		t.Fatal(err)
	}
	good := s.Bytes
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, tc := range []struct {
		name string
		b    []byte
		sha  string
	}{
		{"Empty", nil, ""},
		{"Magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b }), ""},
		{"Format", mutate(func(b []byte) []byte { b[4] = 9; return b }), ""},
		{"Flags", mutate(func(b []byte) []byte { b[5] = 0x80; return b }), ""},
		{"Truncated", good[:len(good)-1], ""},
		{"TruncatedHeader", good[:20], ""},
		{"Trailing", append(bytes.Clone(good), 0), ""},
		{"WrongSHA", good, s.SHA256[:63] + "0"},
		{"HugeM", mutate(func(b []byte) []byte {
			copy(b[7+4+48:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
			return b
		}), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := reputation.ParseFilter(tc.b, tc.sha); !errors.Is(err, reputation.ErrBadFilter) {
				t.Fatalf("got %v, want ErrBadFilter", err)
			}
		})
	}
	p, err := reputation.ParseFilter(good, s.SHA256)
	if err != nil || p.Name != "spam" || p.Version != 3 || !p.Test("CN:95588") || p.Entries != 2 || p.Capacity != 1024 {
		t.Fatalf("got %+v, %v", p, err)
	}
}

// FuzzParseFilter: no input makes ParseFilter panic or accept bytes whose
// parts disagree. Run longer with go test -fuzz FuzzParseFilter ./reputation.
func FuzzParseFilter(f *testing.F) {
	s, _ := reputation.BuildFilter(reputation.FilterSpec{Name: "fraud", FPRate: 0.01}, []string{"+8613800138000"}, 1, 0, built)
	d, _ := reputation.BuildFilter(reputation.FilterSpec{Name: "fraud", FPRate: 0.01}, []string{"+8613800138001"}, 2, 1, built)
	f.Add(s.Bytes)
	f.Add(d.Bytes)
	f.Add(s.Bytes[:len(s.Bytes)/2])
	f.Add([]byte("CRBF"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := reputation.ParseFilter(b, "")
		if err != nil {
			return
		}
		if p.M == 0 || p.K == 0 || p.Entries > p.Capacity || !bytes.Equal(p.Bytes, b) {
			t.Fatalf("accepted inconsistent filter %+v", p)
		}
		p.Test("+8613800138000")
	})
}

func BenchmarkFilter(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	keys := numbers(r, 1_000_000, "+86138")
	s, _ := reputation.BuildFilter(reputation.FilterSpec{Name: "fraud", FPRate: 0.001}, keys, 1, 0, built)
	probe := numbers(r, 1<<16, "+1415")
	b.Run("Test", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			s.Test(probe[i&(1<<16-1)])
		}
	})
	set := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		set[k] = struct{}{}
	}
	b.Run("MapMiss", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			_ = set[probe[i&(1<<16-1)]]
		}
	})
}

// BenchmarkBuild10M builds a filter of 10 million numbers: the issue's
// target is ≤ 10 s and ≤ 1 GiB peak. Run with -bench Build10M -benchtime 1x.
func BenchmarkBuild10M(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	keys := numbers(r, 10_000_000, "+86")
	b.ResetTimer()
	for b.Loop() {
		if _, err := reputation.BuildFilter(reputation.FilterSpec{Name: "fraud", FPRate: 0.001, Headroom: 0.25}, keys, 1, 0, built); err != nil {
			b.Fatal(err)
		}
	}
}
