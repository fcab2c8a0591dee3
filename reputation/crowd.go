package reputation

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/callrep/callrep/labels"
)

// CrowdResult is the outcome of EvaluateCrowd. Accuracies are measured over
// the items that have both votes and a truth value.
type CrowdResult struct {
	Items  int // distinct items with votes
	Labels int // votes of positive weight
	// Truths counts the items the accuracies are measured over.
	Truths int
	// Accuracy is that of the engine path: per item, the sum of
	// Trust.Weight times the vote weight per class, decided by Trust.Decide.
	Accuracy float64
	// MajorityVoteAccuracy is the expected accuracy of the weighted
	// majority vote with ties broken uniformly at random (an item tied
	// between k classes, the true one among them, counts 1/k), the way the
	// published baselines are computed.
	MajorityVoteAccuracy float64
	// DawidSkeneAccuracy is that of the argmax of Trust.Posterior, ties
	// broken as in Decide.
	DawidSkeneAccuracy float64
	// Iterations is how many EM rounds EstimateTrust ran.
	Iterations int
}

// EvaluateCrowd estimates trust from votes as the server does, then scores
// three aggregations of the same votes against truth (item → class): the
// engine's additive evidence path, majority vote and full Dawid–Skene.
// truth is used only for scoring, never as gold.
func EvaluateCrowd(votes []Vote, truth map[string]string, opts TrustOptions) CrowdResult {
	// The engine knows reporters by WorkerName, so the estimate must too.
	named := make([]Vote, len(votes))
	for i, v := range votes {
		named[i] = v
		named[i].Worker = WorkerName(v.Worker)
	}
	t := EstimateTrust(named, opts)
	e := offlineEngine(t, votes)

	counts := map[string]map[string]float64{}
	nLabels := 0
	for _, v := range votes {
		if v.weight() == 0 {
			continue
		}
		nLabels++
		if counts[v.Item] == nil {
			counts[v.Item] = map[string]float64{}
		}
		counts[v.Item][v.Class] += v.weight()
	}
	posterior := t.Posterior(named)

	res := CrowdResult{Items: len(counts), Labels: nLabels, Iterations: t.Iterations}
	var engine, ds int
	var majority float64
	for item := range counts {
		want, ok := truth[item]
		if !ok {
			continue
		}
		res.Truths++
		if e.Lookup(labelsNumber(item)).TopCategory == want {
			engine++
		}
		majority += majorityShare(counts[item], want)
		if argmaxClass(posterior[item], t.Prior) == want {
			ds++
		}
	}
	if res.Truths > 0 {
		n := float64(res.Truths)
		res.Accuracy = float64(engine) / n
		res.MajorityVoteAccuracy = majority / n
		res.DawidSkeneAccuracy = float64(ds) / n
	}
	return res
}

// majorityShare is the chance that a majority vote over counts, ties broken
// uniformly at random, picks want.
func majorityShare(counts map[string]float64, want string) float64 {
	top, tied := math.Inf(-1), 0
	for _, n := range counts {
		switch {
		case n > top:
			top, tied = n, 1
		case n == top:
			tied++
		}
	}
	if counts[want] != top {
		return 0
	}
	return 1 / float64(tied)
}

// argmaxClass is the class with the largest score, ties going to the larger
// tiebreak, then to the first in sorted order.
func argmaxClass(score, tiebreak map[string]float64) string {
	classes := make([]string, 0, len(score))
	for c := range score {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	best, bestScore := "", math.Inf(-1)
	for _, c := range classes {
		s := score[c]
		if best == "" || s > bestScore || (s == bestScore && tiebreak[c] > tiebreak[best]) {
			best, bestScore = c, s
		}
	}
	return best
}

// ReadCrowdCSV reads answers in the csv format of the truth-inference
// benchmarks: comma-separated question,worker,answer, one vote a row. A
// header row naming those columns (in any order) is used and skipped;
// without one the columns are taken in that order.
func ReadCrowdCSV(r io.Reader) ([]Vote, error) {
	var votes []Vote
	err := readCrowdTable(r, ',', []string{"question", "worker", "answer"}, func(f []string) error {
		votes = append(votes, Vote{Item: f[0], Worker: f[1], Class: f[2]})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("crowd answers: %w", err)
	}
	return votes, nil
}

// ReadCrowdTruth reads a truth file: comma-separated question,truth with an
// optional header, into item → class.
func ReadCrowdTruth(r io.Reader) (map[string]string, error) {
	truth := map[string]string{}
	err := readCrowdTable(r, ',', []string{"question", "truth"}, func(f []string) error {
		if old, ok := truth[f[0]]; ok && old != f[1] {
			return fmt.Errorf("question %q has truths %q and %q", f[0], old, f[1])
		}
		truth[f[0]] = f[1]
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("crowd truth: %w", err)
	}
	return truth, nil
}

// ReadCrowdSnow reads the tab-separated format of Snow et al.'s datasets
// (RTE, TEMP, WSD): columns !amt_annotation_ids, !amt_worker_ids, orig_id,
// response and gold, found by header name. It returns the votes and each
// item's gold class.
func ReadCrowdSnow(r io.Reader) ([]Vote, map[string]string, error) {
	var votes []Vote
	truth := map[string]string{}
	err := readCrowdTable(r, '\t', []string{"!amt_worker_ids", "orig_id", "response", "gold"}, func(f []string) error {
		votes = append(votes, Vote{Item: f[1], Worker: f[0], Class: f[2]})
		if f[3] == "" {
			return nil
		}
		if old, ok := truth[f[1]]; ok && old != f[3] {
			return fmt.Errorf("item %q has gold %q and %q", f[1], old, f[3])
		}
		truth[f[1]] = f[3]
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("crowd snow: %w", err)
	}
	return votes, truth, nil
}

// readCrowdTable calls row with the fields named by columns, in that order,
// for every data row of r. If the first row names all the columns it is a
// header; otherwise the columns are the first len(columns) fields. Fields
// are trimmed, blank lines skipped, and every column but the last of a
// snow-style gold must be non-empty.
func readCrowdTable(r io.Reader, sep rune, columns []string, row func([]string) error) error {
	cr := csv.NewReader(r)
	cr.Comma = sep
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	pos := make([]int, len(columns))
	for i := range pos {
		pos[i] = i
	}
	fields := make([]string, len(columns))
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if line == 1 && len(rec) > 0 {
			rec[0] = strings.TrimPrefix(rec[0], "\ufeff")
			if p, ok := crowdHeader(rec, columns); ok {
				pos = p
				continue
			}
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		for i, p := range pos {
			if p >= len(rec) {
				return fmt.Errorf("line %d: %d fields, want at least %d", line, len(rec), p+1)
			}
			fields[i] = strings.TrimSpace(rec[p])
			// Only an optional trailing gold column may be empty.
			if fields[i] == "" && !(i == len(columns)-1 && columns[i] == "gold") {
				return fmt.Errorf("line %d: empty %s", line, columns[i])
			}
		}
		if err := row(fields); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
}

// crowdHeader reports the positions of columns in rec if rec is a header
// naming them all.
func crowdHeader(rec, columns []string) ([]int, bool) {
	at := map[string]int{}
	for i, f := range rec {
		f = strings.ToLower(strings.TrimSpace(f))
		if _, dup := at[f]; !dup {
			at[f] = i
		}
	}
	pos := make([]int, len(columns))
	for i, c := range columns {
		p, ok := at[c]
		if !ok {
			return nil, false
		}
		pos[i] = p
	}
	return pos, true
}

// offlineEngine runs votes through the server's engine as labels of one
// instant (so no decay), with the account ramp, burst caps and ranges off:
// what is measured is the same evidence sums and decision a lookup makes.
// A vote's Weight other than 1 has no label equivalent and counts as 1.
func offlineEngine(t *Trust, votes []Vote) *Engine {
	at := epoch
	cfg := DefaultConfig()
	cfg.Now = func() time.Time { return at }
	cfg.Ramp, cfg.RangeDigits = 0, 0
	cfg.BurstNewAccount, cfg.BurstPrefix, cfg.BurstRate = math.MaxInt, math.MaxInt, math.MaxInt
	e := NewEngine(cfg)
	e.SetTrust(t)
	ls := make([]labels.Label, 0, len(votes))
	for i, v := range votes {
		if v.weight() == 0 {
			continue
		}
		ls = append(ls, labels.Label{Reporter: v.Worker, Key: v.Item, Category: v.Class, Source: labels.SourceApp,
			ReportID: strconv.Itoa(i), CreatedAt: at, FirstAt: at})
	}
	e.Load(ls)
	return e
}

func labelsNumber(item string) labels.Number {
	return labels.Number{Key: item, Valid: true, Scoped: true}
}
