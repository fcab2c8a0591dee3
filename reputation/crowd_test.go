package reputation_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrep/callrep/reputation"
)

// syntheticCrowd generates a seeded crowd of 30 workers labelling 300 items
// of 5 classes (skewed prior), 5 labels an item: 3 spammers answering at
// random, 2 lazy workers always answering the most common class, 2
// adversaries answering the next class 80% of the time, and 23 honest
// workers of accuracy 45–95%. Honest errors are uniform, or with ordinal
// set go to a neighbouring class, as on a rating scale.
func syntheticCrowd(seed uint64, ordinal bool) ([]reputation.Vote, map[string]string) {
	const items, workers, k, perItem = 300, 30, 5, 5
	r := rand.New(rand.NewPCG(seed, 0x63726f7764))
	prior := []float64{0.4, 0.25, 0.15, 0.1, 0.1}
	type kind int
	const (
		honest kind = iota
		spammer
		lazy
		adversary
	)
	kinds := make([]kind, workers)
	accuracy := make([]float64, workers)
	for w := range kinds {
		switch {
		case w < 3:
			kinds[w] = spammer
		case w < 5:
			kinds[w] = lazy
		case w < 7:
			kinds[w], accuracy[w] = adversary, 0.8
		default:
			kinds[w], accuracy[w] = honest, 0.45+0.5*r.Float64()
		}
	}
	truth := map[string]string{}
	var votes []reputation.Vote
	for i := range items {
		c, u := 0, r.Float64()
		for ; c < k-1 && u > prior[c]; c++ {
			u -= prior[c]
		}
		item := fmt.Sprintf("item%d", i)
		truth[item] = fmt.Sprintf("class%d", c)
		for _, w := range r.Perm(workers)[:perItem] {
			l := c
			switch kinds[w] {
			case spammer:
				l = r.IntN(k)
			case lazy:
				l = 0
			case adversary:
				l = (c + 1) % k
				if r.Float64() > accuracy[w] {
					l = r.IntN(k)
				}
			case honest:
				if r.Float64() <= accuracy[w] {
					break
				}
				switch {
				case !ordinal:
					l = (c + 1 + r.IntN(k-1)) % k
				case c == 0 || (c < k-1 && r.IntN(2) == 0):
					l = c + 1
				default:
					l = c - 1
				}
			}
			votes = append(votes, reputation.Vote{Item: item, Worker: fmt.Sprintf("worker%d", w), Class: fmt.Sprintf("class%d", l)})
		}
	}
	return votes, truth
}

// TestEvaluateCrowdSynthetic checks, on crowds nobody tuned for, that the
// engine path beats majority vote on every seed and stays, on average,
// within 0.01 of Dawid–Skene. Single seeds may fall further behind: the
// adversaries' systematic wrong answers carry information Dawid–Skene
// uses and the engine deliberately ignores (Weight ≥ 0).
func TestEvaluateCrowdSynthetic(t *testing.T) {
	const seeds = 10
	for _, tc := range []struct {
		name    string
		ordinal bool
	}{
		{"UniformErrors", false},
		{"OrdinalErrors", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var engine, majority, ds float64
			for seed := uint64(1); seed <= seeds; seed++ {
				votes, truth := syntheticCrowd(seed, tc.ordinal)
				res := reputation.EvaluateCrowd(votes, truth, reputation.TrustOptions{})
				if res.Items != 300 || res.Labels != 1500 || res.Truths != 300 {
					t.Fatalf("seed %d: got %d items, %d labels, %d truths, want 300, 1500, 300", seed, res.Items, res.Labels, res.Truths)
				}
				if res.Accuracy <= res.MajorityVoteAccuracy {
					t.Errorf("seed %d: accuracy %.4f, want above majority vote %.4f", seed, res.Accuracy, res.MajorityVoteAccuracy)
				}
				engine += res.Accuracy / seeds
				majority += res.MajorityVoteAccuracy / seeds
				ds += res.DawidSkeneAccuracy / seeds
			}
			t.Logf("mean over %d seeds: engine %.4f, majority vote %.4f, Dawid–Skene %.4f", seeds, engine, majority, ds)
			if engine < ds-0.01 {
				t.Errorf("mean accuracy %.4f, want within 0.01 of Dawid–Skene %.4f", engine, ds)
			}
			if ds <= majority {
				t.Errorf("mean Dawid–Skene accuracy %.4f, want above majority vote %.4f", ds, majority)
			}
		})
	}
}

// crowdDataset reads one of the datasets in testdata/crowd.
func crowdDataset(t *testing.T, format, answers, truthFile string) ([]reputation.Vote, map[string]string) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "crowd", answers))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if format == "snow" {
		votes, truth, err := reputation.ReadCrowdSnow(f)
		if err != nil {
			t.Fatal(err)
		}
		return votes, truth
	}
	votes, err := reputation.ReadCrowdCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	tf, err := os.Open(filepath.Join("testdata", "crowd", truthFile))
	if err != nil {
		t.Fatal(err)
	}
	defer tf.Close()
	truth, err := reputation.ReadCrowdTruth(tf)
	if err != nil {
		t.Fatal(err)
	}
	return votes, truth
}

// argmax is the class of largest probability, ties to the first in
// sorted order.
func argmax(p map[string]float64, classes []string) string {
	best := ""
	for _, c := range classes {
		if best == "" || p[c] > p[best] {
			best = c
		}
	}
	return best
}

// TestEvaluateCrowdDatasets runs the public datasets in testdata/crowd
// against the published accuracies of majority vote and Dawid–Skene
// (Zheng et al., "Truth inference in crowdsourcing", VLDB 2017).
func TestEvaluateCrowdDatasets(t *testing.T) {
	for _, tc := range []struct {
		name, format, answers, truth string
		items, labels                int
		majority, dawidSkene         float64 // published
	}{
		{"RTE", "snow", "rte/rte.standardized.tsv", "", 800, 8000, 0.897, 0.928},
		{"Dog", "csv", "dog/answer.csv", "dog/truth.csv", 807, 8070, 0.822, 0.843},
	} {
		t.Run(tc.name, func(t *testing.T) {
			votes, truth := crowdDataset(t, tc.format, tc.answers, tc.truth)
			start := time.Now()
			res := reputation.EvaluateCrowd(votes, truth, reputation.TrustOptions{})
			elapsed := time.Since(start)
			t.Logf("%+v in %v", res, elapsed)
			if elapsed > 10*time.Second {
				t.Errorf("took %v, want well under a minute", elapsed)
			}
			if res.Items != tc.items || res.Labels != tc.labels || res.Truths != tc.items {
				t.Errorf("got %d items, %d labels, %d truths, want %d, %d, %d", res.Items, res.Labels, res.Truths, tc.items, tc.labels, tc.items)
			}

			// Dawid–Skene, from the posterior, must reproduce the
			// published figure.
			trust := reputation.EstimateTrust(votes, reputation.TrustOptions{})
			post := trust.Posterior(votes)
			right := 0
			for item, want := range truth {
				if argmax(post[item], trust.Classes) == want {
					right++
				}
			}
			ds := float64(right) / float64(len(truth))
			if math.Abs(ds-tc.dawidSkene) > 0.01 {
				t.Errorf("Dawid–Skene accuracy %.4f, want within 0.01 of the published %.3f", ds, tc.dawidSkene)
			}
			if math.Abs(ds-res.DawidSkeneAccuracy) > 1.5/float64(len(truth)) {
				t.Errorf("EvaluateCrowd's Dawid–Skene accuracy %.4f, want the posterior's %.4f", res.DawidSkeneAccuracy, ds)
			}
			if math.Abs(res.MajorityVoteAccuracy-tc.majority) > 0.001 {
				t.Errorf("majority vote accuracy %.4f, want the published %.3f", res.MajorityVoteAccuracy, tc.majority)
			}

			// The engine path: additive evidence, then Decide.
			evidence := map[string]map[string]float64{}
			for _, v := range votes {
				if evidence[v.Item] == nil {
					evidence[v.Item] = map[string]float64{}
				}
				evidence[v.Item][v.Class] += trust.Weight(v.Worker, v.Class)
			}
			right = 0
			for item, want := range truth {
				if trust.Decide(evidence[item]) == want {
					right++
				}
			}
			engine := float64(right) / float64(len(truth))
			if engine != res.Accuracy {
				t.Errorf("EvaluateCrowd's accuracy %.4f, want the engine path's %.4f", res.Accuracy, engine)
			}
			if engine <= res.MajorityVoteAccuracy {
				t.Errorf("accuracy %.4f, want above majority vote %.4f", engine, res.MajorityVoteAccuracy)
			}
			if engine < ds-0.01 || engine < tc.dawidSkene-0.01 {
				t.Errorf("accuracy %.4f, want within 0.01 of Dawid–Skene (ours %.4f, published %.3f)", engine, ds, tc.dawidSkene)
			}
		})
	}
}

func TestReadCrowdCSV(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []reputation.Vote
		err      string
	}{
		{
			name: "Header",
			in:   "question,worker,answer\n1,w1,3\n1,w2,2\n",
			want: []reputation.Vote{{Item: "1", Worker: "w1", Class: "3"}, {Item: "1", Worker: "w2", Class: "2"}},
		},
		{
			name: "ReorderedHeaderBOMAndCRLF",
			in:   "\ufeffWorker,Answer,Question\r\nw1,3,1\r\n\r\nw2, 2 ,1\r\n",
			want: []reputation.Vote{{Item: "1", Worker: "w1", Class: "3"}, {Item: "1", Worker: "w2", Class: "2"}},
		},
		{
			name: "NoHeader",
			in:   "1,w1,3\n",
			want: []reputation.Vote{{Item: "1", Worker: "w1", Class: "3"}},
		},
		{name: "ShortRow", in: "question,worker,answer\n1,w1\n", err: "line 2"},
		{name: "EmptyAnswer", in: "question,worker,answer\n1,w1,\n", err: "empty answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := reputation.ReadCrowdCSV(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReadCrowdTruth(t *testing.T) {
	got, err := reputation.ReadCrowdTruth(strings.NewReader("question,truth\n1,2\n3,0\n1,2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["1"] != "2" || got["3"] != "0" {
		t.Errorf("got %v, want map[1:2 3:0]", got)
	}
	if _, err := reputation.ReadCrowdTruth(strings.NewReader("question,truth\n1,2\n1,0\n")); err == nil {
		t.Error("got no error for a question with two truths")
	}
}

func TestReadCrowdSnow(t *testing.T) {
	const head = "!amt_annotation_ids\t!amt_worker_ids\torig_id\tresponse\tgold\n"
	votes, truth, err := reputation.ReadCrowdSnow(strings.NewReader(head +
		"a1\tW1\t266\t1\t1\n" +
		"a2\tW2\t266\t0\t1\n" +
		"a3\tW1\t7\t0\t\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []reputation.Vote{{Item: "266", Worker: "W1", Class: "1"}, {Item: "266", Worker: "W2", Class: "0"}, {Item: "7", Worker: "W1", Class: "0"}}
	if fmt.Sprint(votes) != fmt.Sprint(want) {
		t.Errorf("got votes %v, want %v", votes, want)
	}
	if len(truth) != 1 || truth["266"] != "1" {
		t.Errorf("got truth %v, want map[266:1]", truth)
	}
	if _, _, err := reputation.ReadCrowdSnow(strings.NewReader(head + "a1\tW1\t266\t1\t1\na2\tW2\t266\t0\t0\n")); err == nil {
		t.Error("got no error for an item with two golds")
	}
}
