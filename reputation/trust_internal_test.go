package reputation

import (
	"math"
	"testing"
)

// TestEstimateGroupedItems: items with the same votes estimated once and
// counted mult times give the trust of estimating each.
func TestEstimateGroupedItems(t *testing.T) {
	classes := []string{"a", "b", "c"}
	workers := []string{"r-1", "r-2", "r-3", "import:ftc"}
	var flat, grouped []trustVote
	var flatGold, groupedGold []int8
	var mult []float64
	// Ten items with app votes, each its own.
	for i := range 10 {
		for w := range 3 {
			v := trustVote{item: int32(i), worker: int32(w), class: int32((i + w*(i%2)) % 3), w: 1}
			flat, grouped = append(flat, v), append(grouped, v)
		}
		g := int8(-1)
		if i < 3 {
			g = int8(i % 3)
		}
		flatGold, groupedGold, mult = append(flatGold, g), append(groupedGold, g), append(mult, 1)
	}
	// Three import-only signatures, repeated 40, 25 and 7 times.
	sigs := [][]int32{{0, 0}, {0, 1}, {2, 2}}
	for s, reps := range []int{40, 25, 7} {
		for r := range reps {
			item := int32(len(flatGold))
			for _, c := range sigs[s] {
				flat = append(flat, trustVote{item: item, worker: 3, class: c, w: 1})
			}
			flatGold = append(flatGold, -1)
			if r == 0 {
				gi := int32(len(groupedGold))
				for _, c := range sigs[s] {
					grouped = append(grouped, trustVote{item: gi, worker: 3, class: c, w: 1})
				}
				groupedGold, mult = append(groupedGold, -1), append(mult, float64(reps))
			}
		}
	}
	opts := TrustOptions{Cohort: cohortOf}.withDefaults()
	want := estimate(flat, flatGold, nil, workers, classes, opts)
	got := estimate(grouped, groupedGold, mult, workers, classes, opts)
	for _, w := range workers {
		for _, c := range classes {
			if a, b := got.Weight(w, c), want.Weight(w, c); math.Abs(a-b) > 1e-6 {
				t.Errorf("Weight(%s, %s): got %v, want %v", w, c, a, b)
			}
		}
		if got.Workers[w].Labels != want.Workers[w].Labels {
			t.Errorf("labels of %s: got %d, want %d", w, got.Workers[w].Labels, want.Workers[w].Labels)
		}
	}
	for _, c := range classes {
		if a, b := got.Prior[c], want.Prior[c]; math.Abs(a-b) > 1e-6 {
			t.Errorf("prior of %s: got %v, want %v", c, a, b)
		}
	}
}
