package reputation

import (
	"cmp"
	"encoding/binary"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/callrep/callrep/labels"
)

// RescoreStats describe one re-estimation.
type RescoreStats struct {
	Labels int
	// Reporters counts the workers whose trust was estimated: each app
	// reporter, and each import source as one (its records are not
	// accounts with a history, and their weight is configured).
	Reporters  int
	Gold       int
	Iterations int
	Numbers    int
	Took       time.Duration
}

// cohortOf puts trust workers into cohorts: app users (WorkerName, and
// local: and firebase: accounts) share one, each import source its own.
func cohortOf(worker string) string {
	if src, ok := strings.CutPrefix(worker, "import:"); ok {
		return src
	}
	prefix, _, ok := strings.Cut(worker, ":")
	if !ok || prefix == "local" || prefix == "firebase" {
		return "app"
	}
	return prefix
}

// rescoreChunk is how many numbers Rescore handles per lock.
const rescoreChunk = 4096

// Rescore re-estimates every reporter's trust from the live labels, with
// moderator labels as gold, and re-weighs every label under it. It streams:
// the votes are read from the engine's own state a chunk of numbers at a
// time under the read lock, and the weights are then rewritten in place a
// chunk at a time under the write lock, so lookups and label changes go on
// meanwhile (a number not yet re-weighed answers under the old trust; a
// label applied meanwhile already weighs under the new one). Burst caps
// stay as they were decided when the labels arrived.
func (e *Engine) Rescore() RescoreStats {
	start := time.Now()
	var (
		tv        []trustVote
		goldOf    []int8 // item → engine category of its latest moderator label, or -1
		goldAt    []int64
		mult      []float64
		groups    = map[string]int32{} // vote signature → item, for import-only numbers
		sig       []byte
		workerIdx = map[uint64]int32{}
		srcWorker = map[uint8]int32{}
		workers   []string
		nLabels   int
	)
	worker := func(c *contrib) int32 {
		src := e.srcs[c.src]
		if src == labels.SourceApp {
			w, ok := workerIdx[c.reporter]
			if !ok {
				w = int32(len(workers))
				workerIdx[c.reporter] = w
				workers = append(workers, workerName(c.reporter))
			}
			return w
		}
		w, ok := srcWorker[c.src]
		if !ok {
			w = int32(len(workers))
			srcWorker[c.src] = w
			workers = append(workers, string(src))
		}
		return w
	}
	for from := 0; ; from += rescoreChunk {
		e.mu.RLock()
		if from >= len(e.nums) {
			e.mu.RUnlock()
			break
		}
		for id := from; id < min(from+rescoreChunk, len(e.nums)); id++ {
			st := &e.nums[id]
			if len(st.contribs) == 0 {
				continue
			}
			item := int32(len(goldOf))
			goldOf, goldAt, mult = append(goldOf, -1), append(goldAt, 0), append(mult, 1)
			start, app := len(tv), false
			for i := range st.contribs {
				c := &st.contribs[i]
				nLabels++
				switch e.srcs[c.src] {
				case labels.SourceModerator:
					if c.at > goldAt[item] || goldOf[item] < 0 {
						goldOf[item], goldAt[item] = int8(c.cat), c.at
					}
					continue
				case labels.SourceApp:
					app = true
				}
				tv = append(tv, trustVote{item: item, worker: worker(c), class: int32(c.cat), w: 1})
			}
			// Numbers labelled only by imports (most of an FTC file) are
			// alike when their votes are: one item stands for all of them.
			if app || goldOf[item] >= 0 || len(tv) == start {
				continue
			}
			vs := tv[start:]
			slices.SortFunc(vs, func(a, b trustVote) int {
				return cmp.Or(cmp.Compare(a.worker, b.worker), cmp.Compare(a.class, b.class))
			})
			sig = sig[:0]
			for _, v := range vs {
				sig = binary.LittleEndian.AppendUint32(sig, uint32(v.worker))
				sig = binary.LittleEndian.AppendUint32(sig, uint32(v.class))
			}
			if g, ok := groups[string(sig)]; ok {
				mult[g]++
				tv, goldOf, goldAt, mult = tv[:start], goldOf[:item], goldAt[:item], mult[:item]
				continue
			}
			groups[string(sig)] = item
		}
		e.mu.RUnlock()
	}
	// Items without votes would only pull the class prior towards uniform.
	voted := make([]bool, len(goldOf))
	for _, v := range tv {
		voted[v.item] = true
	}
	remap := make([]int32, len(goldOf))
	n := int32(0)
	for i, ok := range voted {
		remap[i] = -1
		if ok || goldOf[i] >= 0 {
			remap[i] = n
			n++
		}
	}
	// Classes are the categories seen, sorted by name.
	e.mu.RLock()
	cats := slices.Clone(e.cats)
	e.mu.RUnlock()
	seen := make([]bool, len(cats))
	for _, v := range tv {
		seen[v.class] = true
	}
	gold := make([]int8, n)
	weights := make([]float64, n)
	nGold := 0
	for i, g := range goldOf {
		if remap[i] >= 0 {
			gold[remap[i]], weights[remap[i]] = g, mult[i]
			if g >= 0 {
				seen[g] = true
				nGold++
			}
		}
	}
	var classes []string
	for c, ok := range seen {
		if ok {
			classes = append(classes, cats[c])
		}
	}
	slices.Sort(classes)
	classOf := make([]int32, len(cats))
	for c := range cats {
		i, _ := slices.BinarySearch(classes, cats[c])
		classOf[c] = int32(i)
	}
	for i := range tv {
		tv[i].item, tv[i].class = remap[tv[i].item], classOf[tv[i].class]
	}
	for i, g := range gold {
		if g >= 0 {
			gold[i] = int8(classOf[g])
		}
	}
	trust := estimate(tv, gold, weights, workers, classes, TrustOptions{Cohort: cohortOf, compact: true}.withDefaults())
	tv = nil

	e.setTrust(trust)
	numbers := 0
	for from := 0; ; from += rescoreChunk {
		e.mu.Lock()
		if from >= len(e.nums) {
			e.mu.Unlock()
			break
		}
		for id := from; id < min(from+rescoreChunk, len(e.nums)); id++ {
			if len(e.nums[id].contribs) > 0 {
				e.reweigh(uint32(id), &e.nums[id])
				numbers++
			}
		}
		e.mu.Unlock()
	}
	return RescoreStats{Labels: nLabels, Reporters: len(workers), Gold: nGold, Iterations: trust.Iterations,
		Numbers: numbers, Took: time.Since(start)}
}

// reweigh recomputes the weights of st's labels under the current trust;
// e.mu is held.
func (e *Engine) reweigh(id uint32, st *numState) {
	var key string
	rk, ranged := uint64(0), false
	if e.cfg.RangeDigits > 0 && !st.scoped {
		key = e.keys.Key(id)
		rk, ranged = e.rangeKey(key)
	}
	dh := 0.0
	for i := range st.contribs {
		c := &st.contribs[i]
		src := e.srcs[c.src]
		w := e.baseWeight(c.reporter, src, e.cats[c.cat])
		if src == labels.SourceApp {
			w *= e.ramp(c.at - e.firstSeen[c.reporter])
			if c.capped() != "" {
				w *= e.cfg.BurstCap
			}
		}
		if ranged && c.active() && harmful(e.catRisk[c.cat]) {
			dh += (w - float64(c.weight)) * growth(c.at, e.nuisanceHalf())
		}
		c.weight = float32(w)
	}
	if st.ext != nil && st.ext.ev != nil {
		st.ext.ev = nil
		e.applySums(st, &st.contribs[0])
	}
	st.touch()
	if dh != 0 {
		if rs, ok := e.ranges[rk]; ok {
			rs.harm = math.Max(0, rs.harm+dh)
			e.ranges[rk] = rs
		}
	}
}

// Load builds the state from labels in one pass, in the order they were
// made, so that burst detection sees them as they came. It is for a fresh
// engine (tools, evaluation); a serving engine learns labels through
// LabelChanged.
func (e *Engine) Load(all []labels.Label) {
	e.mu.Lock()
	defer e.mu.Unlock()
	sorted := make([]*labels.Label, len(all))
	for i := range all {
		sorted[i] = &all[i]
		if all[i].Source != labels.SourceApp {
			continue
		}
		first := all[i].FirstAt
		if first.IsZero() {
			first = all[i].CreatedAt
		}
		rk := reporterOf(&all[i])
		if f, ok := e.firstSeen[rk]; !ok || first.UnixMilli() < f {
			e.firstSeen[rk] = first.UnixMilli()
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].CreatedAt.Before(sorted[j].CreatedAt) })
	for _, l := range sorted {
		e.addLocked(l)
	}
}

// SetTrust replaces the reporter trust without re-scoring; labels applied
// from now on use it. Rescore is the way to apply it to existing labels.
func (e *Engine) SetTrust(t *Trust) {
	e.setTrust(t)
}

// setTrust stores t and its weight scale: the mean weight of a new app
// reporter's label over the classes, the yardstick that weight 1 means.
func (e *Engine) setTrust(t *Trust) {
	e.trust.Store(t)
	scale := 0.0
	if t != nil {
		n := 0
		for _, c := range t.Classes {
			if w := t.Weight(newAppReporter, c); w > 0 {
				scale += w
				n++
			}
		}
		if n > 0 {
			scale /= float64(n)
		}
	}
	e.scale.Store(&scale)
}
