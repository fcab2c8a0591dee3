package reputation

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
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

// TestDeciderMatchesDecide: the decider over category indexes picks what
// Trust.Decide picks from the same evidence by name, on random trusts
// (spillover, ties, classes the engine does not know, categories the trust
// does not know) and random sparse evidence; a spillover that is not
// finite leaves the decision to Decide.
func TestDeciderMatchesDecide(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	cats := []string{"fraud", "harassment", "promotion", "delivery", "safe", "unwanted", "crowd-only"}
	for round := range 2000 {
		classes := []string{"fraud", "harassment", "promotion", "delivery", "safe", "trust-only"}
		r.Shuffle(len(classes), func(i, j int) { classes[i], classes[j] = classes[j], classes[i] })
		classes = classes[:2+r.IntN(len(classes)-1)]
		tr := &Trust{Classes: classes, Prior: map[string]float64{}, Spillover: map[string]map[string]float64{}}
		for _, c := range classes {
			tr.Prior[c] = []float64{0.1, 0.25, 0.25, 0.4}[r.IntN(4)] // ties happen
			if r.IntN(2) == 0 {
				tr.Spillover[c] = map[string]float64{}
				for _, l := range classes {
					if l != c && r.IntN(2) == 0 {
						tr.Spillover[c][l] = float64(r.IntN(5)) / 4
					}
				}
			}
		}
		d := newDecider(tr, cats)
		if d.inexact {
			t.Fatalf("round %d: finite spillover built an inexact decider", round)
		}
		for range 20 {
			ev := make([]float64, len(cats))
			raw := map[string]float64{}
			scale := 0.5 + r.Float64()
			for i := range ev {
				if r.IntN(3) == 0 {
					ev[i] = float64(r.IntN(8)) / 2
					if ev[i] != 0 {
						raw[cats[i]] = ev[i] * scale
					}
				}
			}
			if got, want := d.decide(ev, scale), tr.Decide(raw); got != want {
				t.Fatalf("round %d: decider %q, Decide %q (classes %v, prior %v, spillover %v, evidence %v)",
					round, got, want, classes, tr.Prior, tr.Spillover, raw)
			}
		}
	}
	inf := &Trust{Classes: []string{"fraud", "safe"}, Prior: map[string]float64{"fraud": 0.5, "safe": 0.5},
		Spillover: map[string]map[string]float64{"safe": {"fraud": math.Inf(1)}}}
	if d := newDecider(inf, cats); !d.inexact {
		t.Error("an infinite spillover built an exact decider")
	}
}

// TestCompactTrust: the compact estimate the engine keeps weighs every
// worker, known or not, exactly as the full one, and keeps each worker's
// record, but no confusion matrix.
func TestCompactTrust(t *testing.T) {
	classes := []string{"delivery", "fraud", "promotion", "safe"}
	rng := rand.New(rand.NewPCG(7, 8))
	var votes []Vote
	for i := range 300 {
		truth := classes[i%len(classes)]
		for w := range 12 {
			if rng.IntN(3) == 0 {
				continue
			}
			class := truth
			if rng.IntN(10) < w%5 { // workers 4, 9 mostly wrong, 0, 5, 10 never
				class = classes[rng.IntN(len(classes))]
			}
			worker := "local:w" + string(rune('a'+w))
			if w >= 10 {
				worker = "ftc:" + string(rune('a'+w))
			}
			votes = append(votes, Vote{Item: string(rune(i)) + "item", Worker: worker, Class: class})
		}
	}
	opts := TrustOptions{Cohort: cohortOf, Gold: map[string]string{string(rune(0)) + "item": classes[0]}}
	full := EstimateTrust(votes, opts)
	opts.compact = true
	compact := EstimateTrust(votes, opts)
	if len(compact.Workers) != len(full.Workers) || len(full.Workers) != 12 {
		t.Fatalf("workers: compact %d, full %d; want 12", len(compact.Workers), len(full.Workers))
	}
	for name, fw := range full.Workers {
		cw := compact.Workers[name]
		if cw.Confusion != nil || cw.Accuracy != fw.Accuracy || cw.Labels != fw.Labels || cw.GoldLabels != fw.GoldLabels {
			t.Fatalf("%s: compact %+v, full accuracy %v labels %d gold %d", name, cw, fw.Accuracy, fw.Labels, fw.GoldLabels)
		}
	}
	varied := false
	for _, name := range append(slices.Sorted(maps.Keys(full.Workers)), "local:new", "ftc:new", "other") {
		for _, c := range append(slices.Clone(classes), "unknown") {
			f, got := full.Weight(name, c), compact.Weight(name, c)
			if f != got {
				t.Fatalf("Weight(%s, %s): compact %v, full %v", name, c, got, f)
			}
			varied = varied || (f > 0 && f != full.Weight("local:wa", c))
		}
	}
	if !varied {
		t.Fatal("every worker weighs the same: the test data teaches nothing")
	}
}
