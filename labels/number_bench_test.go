package labels_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
)

// BenchmarkNormalizeKey measures the lookup path on the inputs lookups see:
// E.164 mostly, national format for a fifth, half of them valid.
func BenchmarkNormalizeKey(b *testing.B) {
	scenarios := []struct{ name, input, region, def string }{
		{"CN_E164", "+8613800138000", "CN", "CN"},
		{"US_E164", "+14155550123", "US", "CN"},
		{"CA_E164", "+14165550123", "US", "CN"},
		{"GB_E164", "+442079460958", "GB", "CN"},
		{"DE_E164", "+49301234567", "DE", "CN"},
		{"CN_National", "138 0013 8000", "CN", "CN"},
		{"US_National", "(415) 555-0123", "US", "CN"},
		{"GB_National", "020 7946 0958", "GB", "CN"},
		{"CN_Invalid", "+8612345678901", "CN", "CN"},
		{"US_Invalid", "+12120551234", "US", "CN"},
		{"CN_NoRegion", "+8613800138000", "", ""},
	}
	for _, s := range scenarios {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := labels.NormalizeKey(s.input, s.region, s.def); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("Cold1M_Production", func(b *testing.B) {
		// The production mix (prodGen): a million distinct inputs, so that
		// no cache of recent inputs can help; errors are part of the mix.
		benchCold(b, distinctInputs(1_000_000, newProdGen(b, 1).next), newProdGen(b, 2).next)
	})
	b.Run("Cold1M", func(b *testing.B) {
		// Every region alike (numberGen).
		benchCold(b, distinctInputs(1_000_000, newNumberGen(b, 1).next), newNumberGen(b, 2).next)
	})
}

type input struct{ raw, region string }

// distinctInputs draws n distinct inputs from next.
func distinctInputs(n int, next func() (raw, region string)) []input {
	inputs := make([]input, n)
	seen := make(map[input]bool, n)
	for i := range inputs {
		for {
			raw, region := next()
			in := input{raw, region}
			if !seen[in] {
				seen[in] = true
				inputs[i] = in
				break
			}
		}
	}
	return inputs
}

// benchCold runs NormalizeKey over inputs, from the start again if b.N is
// larger; run it with -benchtime=1000000x to average over all of them.
// Before the clock starts, the automata of every code are built and 20,000
// inputs from warm run through, as on a server that has been up a while.
// The machine is shared, so besides wall time it reports the process's CPU
// time per lookup, GC included.
func benchCold(b *testing.B, inputs []input, warm func() (raw, region string)) {
	b.Helper()
	labels.BuildAllRules()
	for range 20_000 {
		raw, region := warm()
		labels.NormalizeKey(raw, region, "CN")
	}
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	i := 0
	for b.Loop() {
		in := inputs[i]
		labels.NormalizeKey(in.raw, in.region, "CN")
		if i++; i == len(inputs) {
			i = 0
		}
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
