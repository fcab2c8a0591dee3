package reputation_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/callrep/callrep/reputation"
)

// crowdOf builds votes: items item0…item(n-1) of class truth(i), labelled
// by each worker with label(worker, i, truth), "" meaning no label.
func crowdOf(n int, truth func(i int) string, workers []string, label func(w string, i int, truth string) string) []reputation.Vote {
	var votes []reputation.Vote
	for i := range n {
		for _, w := range workers {
			if l := label(w, i, truth(i)); l != "" {
				votes = append(votes, reputation.Vote{Item: fmt.Sprint("item", i), Worker: w, Class: l})
			}
		}
	}
	return votes
}

var abc = []string{"a", "b", "c"}

func cycleABC(i int) string { return abc[i%3] }

// TestWeight checks the evidence weight of workers of known behaviour in
// one crowd: honest workers count, spammers, lazy workers and adversaries
// count (almost) nothing, and no weight leaves [0, MaxWeight].
func TestWeight(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	workers := []string{"honest1", "honest2", "honest3", "honest4", "sloppy", "spammer", "lazy", "adversary"}
	votes := crowdOf(60, cycleABC, workers, func(w string, i int, truth string) string {
		switch w {
		case "sloppy":
			if i%4 == 0 {
				return abc[(i+1)%3]
			}
		case "spammer":
			return abc[r.IntN(3)]
		case "lazy":
			return "a"
		case "adversary":
			return abc[(i+1)%3]
		}
		return truth
	})
	trust := reputation.EstimateTrust(votes, reputation.TrustOptions{})
	for _, tc := range []struct {
		worker, class string
		min, max      float64
	}{
		{"honest1", "a", 2, reputation.MaxWeight},
		{"honest1", "c", 2, reputation.MaxWeight},
		{"sloppy", "b", 1, 3},
		{"spammer", "a", 0, 0.5},
		{"spammer", "b", 0, 0.5},
		{"lazy", "a", 0, 0.1},
		{"adversary", "a", 0, 0},
		{"adversary", "b", 0, 0},
		{"honest1", "unknown-class", 0, 0},
	} {
		t.Run(tc.worker+"/"+tc.class, func(t *testing.T) {
			got := trust.Weight(tc.worker, tc.class)
			if got < tc.min || got > tc.max {
				t.Errorf("got %.3f, want in [%g, %g]", got, tc.min, tc.max)
			}
		})
	}
	if h, s := trust.Weight("honest1", "b"), trust.Weight("sloppy", "b"); s >= h {
		t.Errorf("sloppy worker weighs %.3f, want less than the honest one's %.3f", s, h)
	}
	if h, s := trust.Workers["honest1"].Accuracy, trust.Workers["spammer"].Accuracy; s > 0.5 || h < 0.9 {
		t.Errorf("accuracies: honest %.3f, spammer %.3f; want ≥ 0.9 and ≤ 0.5", h, s)
	}
}

// TestWeightBounds checks Weight ≥ 0 and ≤ MaxWeight for every worker,
// known or not, and class, on a crowd with every kind of worker.
func TestWeightBounds(t *testing.T) {
	votes, _ := syntheticCrowd(7, false)
	trust := reputation.EstimateTrust(votes, reputation.TrustOptions{})
	workers := []string{"never-seen"}
	for w := range trust.Workers {
		workers = append(workers, w)
	}
	for _, w := range workers {
		for _, c := range append(trust.Classes, "unknown-class") {
			if got := trust.Weight(w, c); !(got >= 0 && got <= reputation.MaxWeight) {
				t.Errorf("Weight(%q, %q) = %v, want in [0, MaxWeight]", w, c, got)
			}
		}
	}
	one := reputation.EstimateTrust([]reputation.Vote{{Item: "x", Worker: "w", Class: "a"}}, reputation.TrustOptions{})
	if got := one.Weight("w", "a"); got != 0 {
		t.Errorf("with a single class, Weight = %v, want 0", got)
	}
	none := reputation.EstimateTrust(nil, reputation.TrustOptions{})
	if got := none.Weight("w", "a"); got != 0 {
		t.Errorf("with no votes, Weight = %v, want 0", got)
	}
	if got := none.Decide(map[string]float64{"a": 1}); got != "" {
		t.Errorf("with no votes, Decide = %q, want \"\"", got)
	}
}

// TestGoldDominates: three followers agree with each other and disagree
// with an expert on ten items. Without gold the consensus makes the
// followers look right; once a moderator has decided those items for the
// expert's answer, the expert is the trusted one.
func TestGoldDominates(t *testing.T) {
	workers := []string{"follower1", "follower2", "follower3", "expert"}
	votes := crowdOf(40, cycleABC, workers, func(w string, i int, truth string) string {
		if i < 10 && w != "expert" {
			return abc[(i+1)%3]
		}
		return truth
	})
	gold := map[string]string{}
	for i := range 10 {
		gold[fmt.Sprint("item", i)] = cycleABC(i)
	}
	for _, tc := range []struct {
		name        string
		gold        map[string]string
		wantTrusted string
	}{
		{"ConsensusOnly", nil, "follower1"},
		{"Gold", gold, "expert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trust := reputation.EstimateTrust(votes, reputation.TrustOptions{Gold: tc.gold})
			e, f := trust.Workers["expert"].Accuracy, trust.Workers["follower1"].Accuracy
			got := "expert"
			if f > e {
				got = "follower1"
			}
			if got != tc.wantTrusted {
				t.Errorf("accuracy expert %.3f, follower %.3f: got %s trusted more, want %s", e, f, got, tc.wantTrusted)
			}
			if tc.gold != nil {
				if g := trust.Workers["expert"].GoldLabels; g != 10 {
					t.Errorf("expert has %d gold labels, want 10", g)
				}
				if w, f := trust.Weight("expert", "a"), trust.Weight("follower1", "a"); w <= f+1 {
					t.Errorf("expert weighs %.3f, follower %.3f; want the expert ahead by more than 1", w, f)
				}
			}
		})
	}
}

// TestShrinkage: a worker with one resolved label gets about its cohort's
// weight. Without the prior its confusion rows come from one label (and
// numerical dust for the classes it never saw), and its weight lands far
// from the cohort's.
func TestShrinkage(t *testing.T) {
	workers := []string{"w1", "w2", "w3", "w4", "w5"}
	votes := crowdOf(60, cycleABC, workers, func(w string, i int, truth string) string {
		if w == "w1" && i%5 == 0 || w == "w2" && i%4 == 1 {
			return abc[(i+1)%3] // so that the cohort is imperfect
		}
		return truth
	})
	votes = append(votes, reputation.Vote{Item: "item0", Worker: "newcomer", Class: "a"})
	for _, tc := range []struct {
		name             string
		strength         float64
		minDiff, maxDiff float64 // |Weight(newcomer) − Weight(unknown worker)|
	}{
		{"DefaultPrior", 0, 0, 0.5},
		{"NoPrior", -1, 1, math.Inf(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trust := reputation.EstimateTrust(votes, reputation.TrustOptions{PriorStrength: tc.strength})
			if l := trust.Workers["newcomer"].Labels; l != 1 {
				t.Fatalf("newcomer has %d labels, want 1", l)
			}
			n, u := trust.Weight("newcomer", "a"), trust.Weight("never-seen", "a")
			if d := math.Abs(n - u); d < tc.minDiff || d > tc.maxDiff {
				t.Errorf("newcomer weighs %.3f, an unknown worker %.3f: distance %.3f, want in [%g, %g]", n, u, d, tc.minDiff, tc.maxDiff)
			}
		})
	}
}

// TestCohortFallback: a worker never seen gets its cohort's pooled trust,
// and one of an unknown cohort the global pool's.
func TestCohortFallback(t *testing.T) {
	cohort := func(w string) string { return w[:3] } // "app" or "imp"
	workers := []string{"app1", "app2", "app3", "app4", "imp1", "imp2"}
	votes := crowdOf(90, cycleABC, workers, func(w string, i int, truth string) string {
		if w[:3] == "app" && (i+int(w[3]))%3 == 0 {
			return abc[(i+1)%3] // app reporters are right two times in three
		}
		return truth
	})
	trust := reputation.EstimateTrust(votes, reputation.TrustOptions{Cohort: cohort})
	if len(trust.Cohorts) != 2 || trust.Cohorts["app"].Labels != 360 || trust.Cohorts["imp"].Labels != 180 {
		t.Fatalf("got cohorts %v, want app with 360 labels and imp with 180", trust.Cohorts)
	}
	app, imp, other := trust.Weight("app-new", "b"), trust.Weight("imp-new", "b"), trust.Weight("other", "b")
	if !(app < other && other < imp) {
		t.Errorf("unknown workers weigh app %.3f, other cohort %.3f, imp %.3f; want app < other < imp", app, other, imp)
	}
	if own := trust.Weight("imp1", "b"); own < imp {
		t.Errorf("a flawless imp worker weighs %.3f, want at least its cohort's %.3f", own, imp)
	}
	if a := trust.Cohorts["app"].Accuracy; math.Abs(a-2.0/3) > 0.05 {
		t.Errorf("app cohort accuracy %.3f, want about 2/3", a)
	}
}

// TestDecide checks the decision rule on hand-made trust.
func TestDecide(t *testing.T) {
	binary := &reputation.Trust{Classes: []string{"fraud", "safe"}, Prior: map[string]float64{"fraud": 0.3, "safe": 0.7}}
	even := &reputation.Trust{Classes: []string{"fraud", "safe"}, Prior: map[string]float64{"fraud": 0.5, "safe": 0.5}}
	ordered := &reputation.Trust{
		Classes:   []string{"high", "low", "mid"},
		Prior:     map[string]float64{"high": 1.0 / 3, "low": 1.0 / 3, "mid": 1.0 / 3},
		Spillover: map[string]map[string]float64{"mid": {"high": 0.8, "low": 0.8}},
	}
	for _, tc := range []struct {
		name     string
		trust    *reputation.Trust
		evidence map[string]float64
		want     string
	}{
		{"NoEvidenceMostCommon", binary, nil, "safe"},
		{"EvidenceBeatsPrior", binary, map[string]float64{"fraud": 1}, "fraud"},
		{"PriorBeatsWeakEvidence", binary, map[string]float64{"fraud": 0.5}, "safe"},
		{"Sums", binary, map[string]float64{"fraud": 3, "safe": 2}, "fraud"},
		{"TieFirstInOrder", even, map[string]float64{"fraud": 1, "safe": 1}, "fraud"},
		{"UnknownClassIgnored", binary, map[string]float64{"verified": 10}, "safe"},
		{"Spillover", ordered, map[string]float64{"high": 2, "low": 1.5}, "mid"},
		{"NoSpilloverWithoutNeighbours", ordered, map[string]float64{"high": 2}, "high"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.trust.Decide(tc.evidence); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestBinaryDecideIsDawidSkene: with two classes and workers better than
// chance, the additive evidence path decides every item as the full
// posterior does.
func TestBinaryDecideIsDawidSkene(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	accuracy := map[string]float64{}
	var workers []string
	for w := range 15 {
		name := fmt.Sprint("w", w)
		workers = append(workers, name)
		accuracy[name] = 0.6 + 0.3*r.Float64()
	}
	classes := []string{"spam", "ham"}
	votes := crowdOf(400, func(i int) string { return classes[i%2] }, workers, func(w string, i int, truth string) string {
		if r.IntN(3) != 0 {
			return "" // each item gets about 5 labels
		}
		if r.Float64() < accuracy[w] {
			return truth
		}
		return classes[(i+1)%2]
	})
	trust := reputation.EstimateTrust(votes, reputation.TrustOptions{})
	evidence := map[string]map[string]float64{}
	for _, v := range votes {
		if evidence[v.Item] == nil {
			evidence[v.Item] = map[string]float64{}
		}
		evidence[v.Item][v.Class] += trust.Weight(v.Worker, v.Class)
	}
	for item, p := range trust.Posterior(votes) {
		ds := argmax(p, trust.Classes)
		if got := trust.Decide(evidence[item]); got != ds && math.Abs(p["spam"]-p["ham"]) > 1e-9 {
			t.Errorf("%s: Decide got %q, Dawid–Skene %q (posterior %v)", item, got, ds, p)
		}
	}
}

// TestVoteWeight: a weight of 0 means 1, a weight of 2 counts as two votes,
// and a negative weight drops the vote.
func TestVoteWeight(t *testing.T) {
	votes, _ := syntheticCrowd(2, false)
	ones := append([]reputation.Vote(nil), votes...)
	for i := range ones {
		ones[i].Weight = 1
	}
	doubled := append([]reputation.Vote(nil), votes...)
	doubled[0].Weight = 2
	duplicated := append(append([]reputation.Vote(nil), votes...), votes[0])
	dropped := append(append([]reputation.Vote(nil), votes...), reputation.Vote{Item: votes[0].Item, Worker: "intruder", Class: "class4", Weight: -1})
	for _, tc := range []struct {
		name        string
		a, b        []reputation.Vote
		sameWorkers bool
	}{
		{"ZeroMeansOne", votes, ones, true},
		{"WeightTwoIsTwoVotes", doubled, duplicated, true},
		{"NegativeDropped", votes, dropped, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ta := reputation.EstimateTrust(tc.a, reputation.TrustOptions{})
			tb := reputation.EstimateTrust(tc.b, reputation.TrustOptions{})
			if tc.sameWorkers && len(ta.Workers) != len(tb.Workers) {
				t.Errorf("got %d and %d workers, want the same", len(ta.Workers), len(tb.Workers))
			}
			for w, wa := range ta.Workers {
				wb := tb.Workers[w]
				for _, c := range ta.Classes {
					for _, l := range ta.Classes {
						if d := math.Abs(wa.Confusion[c][l] - wb.Confusion[c][l]); d > 1e-9 {
							t.Fatalf("%s confusion[%s][%s]: %v vs %v", w, c, l, wa.Confusion[c][l], wb.Confusion[c][l])
						}
					}
				}
			}
		})
	}
}

// TestPosterior: every item's posterior is a distribution over the classes.
func TestPosterior(t *testing.T) {
	votes, _ := syntheticCrowd(5, true)
	trust := reputation.EstimateTrust(votes, reputation.TrustOptions{})
	post := trust.Posterior(votes)
	if len(post) != 300 {
		t.Fatalf("got %d items, want 300", len(post))
	}
	for item, p := range post {
		total := 0.0
		for _, c := range trust.Classes {
			if p[c] < 0 || p[c] > 1 {
				t.Fatalf("%s: P(%s) = %v", item, c, p[c])
			}
			total += p[c]
		}
		if math.Abs(total-1) > 1e-9 {
			t.Fatalf("%s: posterior sums to %v, want 1", item, total)
		}
	}
	if trust.Iterations < 2 || trust.Iterations > reputation.DefaultMaxIterations {
		t.Errorf("ran %d iterations, want between 2 and %d", trust.Iterations, reputation.DefaultMaxIterations)
	}
}

// TestGoldCountsMore: a label resolved by a moderator counts GoldWeight
// times one resolved by the consensus. A worker right on four gold items
// earns more trust than one right on four consensus items; with
// GoldWeight 1 they earn the same.
func TestGoldCountsMore(t *testing.T) {
	var workers []string
	for j := range 7 {
		workers = append(workers, fmt.Sprint("cohort", j))
	}
	workers = append(workers, "goldRight", "consensusRight")
	votes := crowdOf(60, cycleABC, workers, func(w string, i int, truth string) string {
		switch w {
		case "goldRight":
			if i >= 4 {
				return ""
			}
		case "consensusRight":
			if i < 4 || i >= 8 {
				return ""
			}
		default:
			if j := int(w[len(w)-1] - '0'); (i+j)%10 < 3 {
				return abc[(i+1)%3] // the cohort is right 70% of the time
			}
		}
		return truth
	})
	gold := map[string]string{}
	for i := range 4 {
		gold[fmt.Sprint("item", i)] = cycleABC(i)
	}
	for _, tc := range []struct {
		name             string
		goldWeight       float64
		minDiff, maxDiff float64 // Weight(goldRight) − Weight(consensusRight)
	}{
		{"DefaultGoldWeight", 0, 0.5, math.Inf(1)},
		{"GoldWeightOne", 1, -0.1, 0.1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trust := reputation.EstimateTrust(votes, reputation.TrustOptions{Gold: gold, GoldWeight: tc.goldWeight})
			g, c := trust.Weight("goldRight", "a"), trust.Weight("consensusRight", "a")
			if d := g - c; d < tc.minDiff || d > tc.maxDiff {
				t.Errorf("gold-resolved worker weighs %.3f, consensus-resolved %.3f: difference %.3f, want in [%g, %g]", g, c, d, tc.minDiff, tc.maxDiff)
			}
		})
	}
}
