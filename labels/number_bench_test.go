package labels_test

import (
	"testing"

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
	b.Run("Cold1M", func(b *testing.B) {
		// A million distinct generated inputs, so that no cache of recent
		// inputs can help; errors are part of the mix.
		g := newNumberGen(b, 1)
		type input struct{ raw, region string }
		inputs := make([]input, 1_000_000)
		seen := make(map[input]bool, len(inputs))
		for i := range inputs {
			for {
				raw, region := g.next()
				in := input{raw, region}
				if !seen[in] {
					seen[in] = true
					inputs[i] = in
					break
				}
			}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			in := inputs[i]
			labels.NormalizeKey(in.raw, in.region, "CN")
			if i++; i == len(inputs) {
				i = 0
			}
		}
	})
}
