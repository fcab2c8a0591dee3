package reputation

import (
	"math"
	"slices"
	"sort"
)

// Vote is one reporter's label of an item. For the server the item is a
// number and the class a category, but any strings work: the estimation
// knows nothing about categories.
type Vote struct {
	Item   string
	Worker string
	Class  string
	// Weight scales the vote, so that the server can pass decayed or
	// capped labels; 0 means 1 and a negative weight drops the vote.
	Weight float64
}

// weight is the effective weight of v.
func (v Vote) weight() float64 {
	switch {
	case v.Weight == 0:
		return 1
	case v.Weight < 0:
		return 0
	}
	return v.Weight
}

// TrustOptions configure EstimateTrust. The zero value is usable.
type TrustOptions struct {
	// Gold holds the items a moderator decided, item → class. Their class is
	// fixed during the estimation, and a label resolved against them counts
	// GoldWeight times as much as one resolved against the consensus.
	Gold map[string]string
	// GoldWeight is how much a gold-resolved label counts relative to a
	// consensus-resolved one; 0 means DefaultGoldWeight.
	GoldWeight float64
	// PriorStrength is the pseudo-count, per true class, of the Dirichlet
	// prior that pulls each worker's confusion row towards the pooled row
	// of the worker's cohort (and each cohort's towards the global pool).
	// A worker with few resolved labels gets the cohort's trust; one with
	// many gets its own. 0 means DefaultPriorStrength; negative means none.
	PriorStrength float64
	// Cohort maps a worker to its cohort key (e.g. "app" or "import:ftc");
	// each cohort has its own pooled prior. Nil puts every worker in the
	// cohort "".
	Cohort func(worker string) string
	// MaxIterations bounds the EM rounds; 0 means DefaultMaxIterations.
	MaxIterations int
	// Tolerance stops EM once no item posterior moves by more than it;
	// 0 means DefaultTolerance.
	Tolerance float64

	// compact keeps of each worker only what scoring needs, its Weight
	// per class, and no confusion matrix (see estimate): the engine's
	// rescore sets it.
	compact bool
}

// Defaults of TrustOptions. PriorStrength 2 is a weak prior: two resolved
// labels of a class weigh as much as the cohort's whole experience of it,
// so a reporter's own record dominates after a handful of labels.
const (
	DefaultGoldWeight    = 5
	DefaultPriorStrength = 2
	DefaultMaxIterations = 100
	DefaultTolerance     = 1e-6
)

// MaxWeight caps the evidence one label can add (Trust.Weight): ln 1000,
// odds of 1000:1, so that no single reporter, however good its record,
// outweighs several others.
const MaxWeight = 6.907755278982137

// Trust is the learned reliability of every worker: a Dawid–Skene model
// with a Dirichlet prior per cohort. Its methods only read it, so one
// Trust may serve any number of goroutines while the next is estimated.
type Trust struct {
	// Classes are the classes seen in the votes and the gold, sorted.
	Classes []string
	// Prior is the estimated share of items of each class.
	Prior map[string]float64
	// Workers holds each worker's estimated trust.
	Workers map[string]WorkerTrust
	// Cohorts holds the pooled trust of each cohort, which is also the
	// trust of a worker never seen in the estimation.
	Cohorts map[string]WorkerTrust
	// Global is the trust pooled over all workers, the fallback for a
	// worker whose cohort is unknown.
	Global WorkerTrust
	// Iterations is how many EM rounds ran.
	Iterations int
	// Spillover[c][l] is how much of the evidence for label l Decide also
	// counts for class c ≠ l: the pooled pattern of confusion between
	// classes (for ordered scales, a label is weak evidence for its
	// neighbours too). It is empty when labels are confused uniformly, and
	// always with two classes.
	Spillover map[string]map[string]float64

	cohortOf func(string) string
	// table holds, for a Trust decoded from storage, each worker's Weight
	// per class (in Classes order) instead of its confusion matrix.
	table map[string][]float64
}

// WorkerTrust is the reliability of one worker or one pool of workers.
type WorkerTrust struct {
	// Accuracy is the probability that a label is the true class, averaged
	// over the class prior.
	Accuracy float64
	// Confusion maps true class → label → probability of that label.
	Confusion map[string]map[string]float64
	// Labels counts the worker's votes; GoldLabels those on gold items.
	Labels     int
	GoldLabels int
}

// trustVote is a vote with its strings replaced by indices.
type trustVote struct {
	item, worker, class int32
	w                   float32
}

// EstimateTrust learns each worker's confusion matrix and the class prior
// by Dawid–Skene expectation–maximisation, started from the weighted
// majority vote. Every confusion row is the posterior mean under a
// Dirichlet prior centred on the worker's cohort's pooled row, itself
// centred on the global pool, so the estimate is defined for workers with
// one label and converges to the plain Dawid–Skene estimate as they label
// more. Gold items keep their class and weigh GoldWeight times more.
func EstimateTrust(votes []Vote, opts TrustOptions) *Trust {
	opts = opts.withDefaults()

	classIdx := map[string]int{}
	var classes []string
	addClass := func(c string) {
		if _, ok := classIdx[c]; !ok {
			classIdx[c] = -1
			classes = append(classes, c)
		}
	}
	for _, v := range votes {
		if v.weight() > 0 {
			addClass(v.Class)
		}
	}
	for _, c := range opts.Gold {
		addClass(c)
	}
	sort.Strings(classes)
	for i, c := range classes {
		classIdx[c] = i
	}

	itemIdx := map[string]int{}
	workerIdx := map[string]int{}
	var workers []string
	tv := make([]trustVote, 0, len(votes))
	for _, v := range votes {
		if v.weight() == 0 {
			continue
		}
		i, ok := itemIdx[v.Item]
		if !ok {
			i = len(itemIdx)
			itemIdx[v.Item] = i
		}
		w, ok := workerIdx[v.Worker]
		if !ok {
			w = len(workers)
			workerIdx[v.Worker] = w
			workers = append(workers, v.Worker)
		}
		tv = append(tv, trustVote{item: int32(i), worker: int32(w), class: int32(classIdx[v.Class]), w: float32(v.weight())})
	}
	n := len(itemIdx)

	// gold[i] is the fixed class of item i, or -1.
	gold := make([]int8, n)
	for i := range gold {
		gold[i] = -1
	}
	for item, c := range opts.Gold {
		if i, ok := itemIdx[item]; ok {
			gold[i] = int8(classIdx[c])
		}
	}
	return estimate(tv, gold, nil, workers, classes, opts)
}

// estimate runs EstimateTrust's EM on votes already indexed: items
// 0..len(gold)-1 (gold[i] the fixed class of item i, or -1), workers and
// classes (sorted) by index. At most 127 classes. mult[i], if not nil, is
// how many items item i stands for: items with the same votes by the same
// workers have the same posterior, so they are estimated once and counted
// mult times.
func estimate(tv []trustVote, gold []int8, mult []float64, workers, classes []string, opts TrustOptions) *Trust {
	n, k := len(gold), len(classes)
	if mult == nil {
		mult = make([]float64, n)
		for i := range mult {
			mult[i] = 1
		}
	}
	resolve := make([]float64, n) // weight of a label resolved on item i
	for i := range resolve {
		resolve[i] = 1
		if gold[i] >= 0 {
			resolve[i] = opts.GoldWeight
		}
	}

	cohortIdx := map[string]int{}
	var cohorts []string
	cohortOfWorker := make([]int, len(workers))
	for w, name := range workers {
		key := opts.cohortOf(name)
		c, ok := cohortIdx[key]
		if !ok {
			c = len(cohorts)
			cohortIdx[key] = c
			cohorts = append(cohorts, key)
		}
		cohortOfWorker[w] = c
	}

	// Posterior over classes per item, started from the weighted majority
	// vote (gold items fixed).
	post, next := newRows(n, k), newRows(n, k) // swapped every round
	for _, v := range tv {
		post[v.item][v.class] += float64(v.w)
	}
	for i, p := range post {
		if gold[i] >= 0 {
			oneHotRow(p, int(gold[i]))
			continue
		}
		normalizeRow(p)
	}

	m := newDSModel(tv, len(workers), k, cohortOfWorker, opts.PriorStrength)
	m.cohorts, m.global = newConfusions(len(cohorts), k), newConfusions(1, k)[0]
	logSlot := make([]float64, len(m.slotWorker)*k) // log confusion of each slot's label, per true class
	logPrior := make([]float64, k)
	iterations := 0
	for iterations < opts.MaxIterations {
		iterations++
		m.maximize(tv, post, resolve, mult)

		for c := range logPrior {
			logPrior[c] = safeLog(m.prior[c])
		}
		for sl, w := range m.slotWorker {
			l := int(m.slotClass[sl])
			for c := range k {
				logSlot[sl*k+c] = safeLog(m.conf(int(w), c, l, sl))
			}
		}
		for i := range next {
			copy(next[i], logPrior)
		}
		for vi, v := range tv {
			ls := logSlot[int(m.voteSlot[vi])*k:]
			for c := range k {
				next[v.item][c] += float64(v.w) * ls[c]
			}
		}
		delta := 0.0
		for i, p := range next {
			if gold[i] >= 0 {
				oneHotRow(p, int(gold[i]))
			} else {
				softmaxInPlace(p)
			}
			for c := range p {
				delta = math.Max(delta, math.Abs(p[c]-post[i][c]))
			}
		}
		post, next = next, post
		if delta < opts.Tolerance {
			break
		}
	}
	// A last M-step so that the reported trust matches the final posterior.
	m.maximize(tv, post, resolve, mult)

	t := &Trust{
		Classes:    classes,
		Prior:      make(map[string]float64, k),
		Workers:    make(map[string]WorkerTrust, len(workers)),
		Cohorts:    make(map[string]WorkerTrust, len(cohorts)),
		Iterations: iterations,
		cohortOf:   opts.cohortOf,
	}
	for c, name := range classes {
		t.Prior[name] = m.prior[c]
	}
	labels := make([]int, len(workers))
	goldLabels := make([]int, len(workers))
	for _, v := range tv {
		labels[v.worker] += int(mult[v.item])
		if gold[v.item] >= 0 {
			goldLabels[v.worker] += int(mult[v.item])
		}
	}
	cohortLabels := make([]int, len(cohorts))
	cohortGold := make([]int, len(cohorts))
	// A compact estimate keeps K weights per worker in one array rather
	// than K maps of K entries: 274 bytes a reporter instead of 1,421 with
	// four classes (BenchmarkRescoreAppReporters).
	var weights []float64
	if opts.compact {
		weights = make([]float64, len(workers)*k)
		t.table = make(map[string][]float64, len(workers))
	}
	conf := newRows(k, k)
	for w, name := range workers {
		m.confusion(w, conf)
		var ws []float64
		if opts.compact {
			ws = weights[w*k : (w+1)*k : (w+1)*k]
			t.table[name] = ws
		}
		t.Workers[name] = t.workerTrust(conf, labels[w], goldLabels[w], ws)
		cohortLabels[cohortOfWorker[w]] += labels[w]
		cohortGold[cohortOfWorker[w]] += goldLabels[w]
	}
	for c, name := range cohorts {
		t.Cohorts[name] = t.workerTrust(m.cohorts[c], cohortLabels[c], cohortGold[c], nil)
	}
	t.Global = t.workerTrust(m.global, sumInts(labels), sumInts(goldLabels), nil)
	t.Spillover = t.spillover(m.globalCounts)
	return t
}

// logRatio is log(π[c][l] / Σ_{o≠l} q_o π[o][l]) for the confusion conf,
// q being the prior renormalised over the classes other than l: how much
// more (or less) likely the label l is under class c than under the
// average other class. For c == l it is the unclipped Weight.
func (t *Trust) logRatio(conf map[string]map[string]float64, c, l string) float64 {
	den, mass := 0.0, 0.0
	for _, o := range t.Classes {
		if o == l {
			continue
		}
		den += t.Prior[o] * conf[o][l]
		mass += t.Prior[o]
	}
	return math.Log(conf[c][l] * mass / den)
}

// spillover estimates, from the global pool, how much of the evidence for
// a label l also bears on each other class c (see Trust.Spillover):
// logRatio(c, l) / logRatio(l, l) of the pooled confusion. The numerator
// is shrunk towards 0 by its sampling variance (≈ 1/n[c][l] + 1/Σ_{o≠l}
// n[o][l] for the pooled expected counts n), so that noise in rarely seen
// cells does not become structure; the ratio is kept within [-1, 1], a
// label never bearing on another class more than on its own.
func (t *Trust) spillover(counts [][]float64) map[string]map[string]float64 {
	out := make(map[string]map[string]float64, len(t.Classes))
	for _, c := range t.Classes {
		out[c] = map[string]float64{}
	}
	for li, l := range t.Classes {
		own := t.logRatio(t.Global.Confusion, l, l)
		if !(own > 0) {
			continue
		}
		others := 0.0
		for oi := range t.Classes {
			if oi != li {
				others += counts[oi][li]
			}
		}
		for ci, c := range t.Classes {
			if ci == li {
				continue
			}
			r := t.logRatio(t.Global.Confusion, c, l)
			variance := 1/counts[ci][li] + 1/others
			k := r * r * r / (r*r + variance) / own
			if math.IsNaN(k) || k == 0 {
				continue
			}
			out[c][l] = math.Max(-1, math.Min(1, k))
		}
	}
	return out
}

func (o TrustOptions) withDefaults() TrustOptions {
	if o.GoldWeight <= 0 {
		o.GoldWeight = DefaultGoldWeight
	}
	switch {
	case o.PriorStrength == 0:
		o.PriorStrength = DefaultPriorStrength
	case o.PriorStrength < 0:
		o.PriorStrength = 0
	}
	if o.MaxIterations <= 0 {
		o.MaxIterations = DefaultMaxIterations
	}
	if o.Tolerance <= 0 {
		o.Tolerance = DefaultTolerance
	}
	return o
}

// cohortOf is the cohort key of a worker.
func (o TrustOptions) cohortOf(worker string) string {
	if o.Cohort == nil {
		return ""
	}
	return o.Cohort(worker)
}

// dsModel holds the parameters of one EM round, by index. A worker's
// confusion is kept as its expected counts in the columns of the classes
// it labelled (its slots), the totals of its rows and its cohort's pooled
// confusion: most reporters label a few numbers, and with a full K×K
// matrix each (twice) a rescore of 400,000 app reporters over the 15
// classes of the taxonomy took 344 s and peaked at 1.9 GiB, 42 s and
// 402 MiB this way (BenchmarkRescoreAppReporters).
type dsModel struct {
	k     int
	prior []float64

	// Slot sl is column slotClass[sl] of worker slotWorker[sl]; slots are
	// ordered by worker, then class, and worker w's are
	// first[w]..first[w+1]-1. voteSlot[v] is the slot vote v counts in.
	slotWorker, slotClass []int32
	first, voteSlot       []int32
	// counts[sl*k+c] is the expected count of slot sl's label under true
	// class c; total[w*k+c] is strength plus worker w's counts under c.
	counts, total []float64

	cohortOfWorker []int
	strength       float64
	cohorts        [][][]float64
	global         [][]float64
	globalCounts   [][]float64
}

// newDSModel indexes the slots of the votes tv of workers workers.
func newDSModel(tv []trustVote, workers, k int, cohortOfWorker []int, strength float64) *dsModel {
	m := &dsModel{k: k, prior: make([]float64, k), cohortOfWorker: cohortOfWorker, strength: strength}
	keys := make([]int64, len(tv))
	for i, v := range tv {
		keys[i] = int64(v.worker)<<8 | int64(v.class)
	}
	slots := slices.Clone(keys)
	slices.Sort(slots)
	slots = slices.Compact(slots)
	m.slotWorker, m.slotClass = make([]int32, len(slots)), make([]int32, len(slots))
	m.first = make([]int32, workers+1)
	for sl, key := range slots {
		m.slotWorker[sl], m.slotClass[sl] = int32(key>>8), int32(key&0xff)
		m.first[key>>8+1] = int32(sl + 1)
	}
	for w := 1; w <= workers; w++ {
		m.first[w] = max(m.first[w], m.first[w-1])
	}
	m.voteSlot = make([]int32, len(tv))
	for i, key := range keys {
		sl, _ := slices.BinarySearch(slots, key)
		m.voteSlot[i] = int32(sl)
	}
	m.counts = make([]float64, len(slots)*k)
	m.total = make([]float64, workers*k)
	return m
}

// conf is worker w's probability of label l under true class c; sl is the
// slot of (w, l), or -1 if w never gave l. It is shrinkRow's value of the
// worker's full row.
func (m *dsModel) conf(w, c, l, sl int) float64 {
	toward := m.cohorts[m.cohortOfWorker[w]][c][l]
	total := m.total[w*m.k+c]
	if total <= 0 {
		return toward
	}
	x := 0.0
	if sl >= 0 {
		x = m.counts[sl*m.k+c]
	}
	return (x + m.strength*toward) / total
}

// confusion writes worker w's full confusion into conf (k rows of k).
func (m *dsModel) confusion(w int, conf [][]float64) {
	slots := m.first[w]
	for l := range m.k {
		sl := -1
		if slots < m.first[w+1] && int(m.slotClass[slots]) == l {
			sl = int(slots)
			slots++
		}
		for c := range m.k {
			conf[c][l] = m.conf(w, c, l, sl)
		}
	}
}

func newConfusions(n, k int) [][][]float64 {
	out := make([][][]float64, n)
	rows := newRows(n*k, k)
	for i := range out {
		out[i] = rows[i*k : (i+1)*k : (i+1)*k]
	}
	return out
}

// newRows returns n rows of k zeros, in one array: a rescore of a million
// reporters would otherwise allocate millions of small slices.
func newRows(n, k int) [][]float64 {
	all := make([]float64, n*k)
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = all[i*k : (i+1)*k : (i+1)*k]
	}
	return rows
}

// maximize re-estimates the prior and the confusion rows from the item
// posteriors: expected counts, shrunk level by level, global pool →
// cohort pool → worker, each with strength pseudo-counts per row (the
// workers' rows lazily, see conf).
func (m *dsModel) maximize(votes []trustVote, post [][]float64, resolve, mult []float64) {
	k := m.k
	// Class prior with one pseudo-item per class (Laplace), so that a
	// class only gold has seen keeps a non-zero share.
	for c := range m.prior {
		m.prior[c] = 1
	}
	for i, p := range post {
		for c, q := range p {
			m.prior[c] += q * mult[i]
		}
	}
	normalizeRow(m.prior)

	clear(m.counts)
	for _, rows := range m.cohorts {
		for _, row := range rows {
			clear(row)
		}
	}
	for _, row := range m.global {
		clear(row)
	}
	for vi, v := range votes {
		r := resolve[v.item] * float64(v.w) * mult[v.item]
		col := m.counts[int(m.voteSlot[vi])*k:]
		for c, q := range post[v.item] {
			col[c] += r * q
		}
	}
	for sl, w := range m.slotWorker {
		pool := m.cohorts[m.cohortOfWorker[w]]
		l := m.slotClass[sl]
		for c, x := range m.counts[sl*k : (sl+1)*k] {
			pool[c][l] += x
			m.global[c][l] += x
		}
	}
	// Row totals as shrinkRow sums them, class by class.
	for w := range len(m.first) - 1 {
		tot := m.total[w*k : (w+1)*k]
		for c := range tot {
			tot[c] = m.strength
		}
		for sl := m.first[w]; sl < m.first[w+1]; sl++ {
			for c, x := range m.counts[int(sl)*k : int(sl+1)*k] {
				tot[c] += x
			}
		}
	}
	// The global pool shrinks towards "labels say nothing" (uniform rows),
	// which its own volume of evidence quickly overrides.
	uniform := make([]float64, k)
	for l := range uniform {
		uniform[l] = 1 / float64(k)
	}
	m.globalCounts = newConfusions(1, k)[0]
	for c, row := range m.global {
		copy(m.globalCounts[c], row)
	}
	for _, row := range m.global {
		shrinkRow(row, uniform, math.Max(m.strength, 1))
	}
	for _, rows := range m.cohorts {
		for c, row := range rows {
			shrinkRow(row, m.global[c], m.strength)
		}
	}
}

// shrinkRow turns the counts in row into the posterior mean of a Dirichlet
// with mean toward and total strength pseudo-counts.
func shrinkRow(row, toward []float64, strength float64) {
	total := strength
	for _, x := range row {
		total += x
	}
	if total <= 0 {
		copy(row, toward)
		return
	}
	for l := range row {
		row[l] = (row[l] + strength*toward[l]) / total
	}
}

// workerTrust is the trust of a worker with confusion conf (true class ×
// label, in Classes order). With ws it is compact: the worker's Weight per
// class goes to ws, in Classes order, and it keeps no confusion matrix.
func (t *Trust) workerTrust(conf [][]float64, labels, goldLabels int, ws []float64) WorkerTrust {
	wt := WorkerTrust{Labels: labels, GoldLabels: goldLabels}
	if ws == nil {
		wt.Confusion = make(map[string]map[string]float64, len(t.Classes))
	}
	for c, name := range t.Classes {
		wt.Accuracy += t.Prior[name] * conf[c][c]
		if ws == nil {
			row := make(map[string]float64, len(t.Classes))
			for l, label := range t.Classes {
				row[label] = conf[c][l]
			}
			wt.Confusion[name] = row
			continue
		}
		den, mass := 0.0, 0.0
		for o, other := range t.Classes {
			if o != c {
				den += t.Prior[other] * conf[o][c]
				mass += t.Prior[other]
			}
		}
		ws[c] = weightOf(conf[c][c], den, mass, len(t.Classes))
	}
	return wt
}

// trustOf is the trust of worker: its own, else its cohort's, else the
// global pool's.
func (t *Trust) trustOf(worker string) WorkerTrust {
	if wt, ok := t.Workers[worker]; ok {
		return wt
	}
	key := ""
	if t.cohortOf != nil {
		key = t.cohortOf(worker)
	}
	if wt, ok := t.Cohorts[key]; ok {
		return wt
	}
	return t.Global
}

// Weight is the evidence that a label class by worker adds to class, for
// the server's per-number evidence sums:
//
//	log( π_w[class][class] / Σ_{c≠class} q_c π_w[c][class] )
//
// clipped to [0, MaxWeight], where π_w is the worker's confusion matrix and
// q the class prior renormalised over the other classes. It is the
// log-likelihood ratio of "the item is class" against "it is another
// class" given the label: with two classes, summing it per class and
// comparing the sums (Decide) is exactly the Dawid–Skene decision. It is
// never negative, so decayed sums stay meaningful: a worker no better
// than chance, or worse, adds nothing. An unknown worker gets its cohort's
// pooled trust, an unknown class 0.
func (t *Trust) Weight(worker, class string) float64 {
	if _, ok := t.Prior[class]; !ok || len(t.Classes) < 2 {
		return 0
	}
	if ws, ok := t.table[worker]; ok {
		if i, found := slices.BinarySearch(t.Classes, class); found && i < len(ws) {
			return ws[i]
		}
		return 0
	}
	conf := t.trustOf(worker).Confusion
	den, mass := 0.0, 0.0
	for _, c := range t.Classes {
		if c == class {
			continue
		}
		den += t.Prior[c] * conf[c][class]
		mass += t.Prior[c]
	}
	return weightOf(conf[class][class], den, mass, len(t.Classes))
}

// weightOf is Weight from its parts: num the worker's probability of the
// label given the class, den the prior-weighted one given another class,
// mass the prior of the other classes.
func weightOf(num, den, mass float64, classes int) float64 {
	if classes < 2 || num <= 0 || mass <= 0 {
		return 0
	}
	if den <= 0 {
		return MaxWeight
	}
	return math.Min(math.Max(math.Log(num*mass/den), 0), MaxWeight)
}

// Decide returns the class to conclude from evidence, the sums per class
// of Weight times each vote's weight (decayed as the server likes). Class c
// scores
//
//	evidence[c] + Σ_{l≠c} Spillover[c][l]·evidence[l] + log Prior[c]
//
// and the highest score wins. The score is linear in the evidence, so sums
// kept incrementally suffice, and it approximates the Dawid–Skene log
// posterior: with two classes it is exactly Dawid–Skene's decision for
// workers better than chance. With no evidence the most common class wins;
// the caller decides whether that is worth saying. Ties go to the class
// with the larger prior, then to the one first in sorted order. Classes
// the trust does not know are ignored; with no classes it returns "".
func (t *Trust) Decide(evidence map[string]float64) string {
	best, bestScore := "", math.Inf(-1)
	for _, c := range t.Classes {
		s := evidence[c] + math.Log(t.Prior[c])
		for _, l := range t.Classes {
			s += t.Spillover[c][l] * evidence[l]
		}
		if best == "" || s > bestScore || (s == bestScore && t.Prior[c] > t.Prior[best]) {
			best, bestScore = c, s
		}
	}
	return best
}

// Posterior is the full Dawid–Skene posterior of each item's class given
// votes and the learned trust: item → class → probability. Workers are
// looked up as in Weight; classes the trust does not know are ignored.
func (t *Trust) Posterior(votes []Vote) map[string]map[string]float64 {
	k := len(t.Classes)
	logPrior := make([]float64, k)
	for c, name := range t.Classes {
		logPrior[c] = safeLog(t.Prior[name])
	}
	scores := map[string][]float64{}
	for _, v := range votes {
		s, ok := scores[v.Item]
		if !ok {
			s = append([]float64(nil), logPrior...)
			scores[v.Item] = s
		}
		if _, known := t.Prior[v.Class]; !known || v.weight() == 0 {
			continue
		}
		conf := t.trustOf(v.Worker).Confusion
		for c, name := range t.Classes {
			s[c] += v.weight() * safeLog(conf[name][v.Class])
		}
	}
	out := make(map[string]map[string]float64, len(scores))
	for item, s := range scores {
		softmaxInPlace(s)
		p := make(map[string]float64, k)
		for c, name := range t.Classes {
			p[name] = s[c]
		}
		out[item] = p
	}
	return out
}

// softmaxInPlace turns log scores into probabilities in place.
func softmaxInPlace(s []float64) {
	hi := math.Inf(-1)
	for _, x := range s {
		hi = math.Max(hi, x)
	}
	total := 0.0
	for i, x := range s {
		s[i] = math.Exp(x - hi)
		total += s[i]
	}
	for i := range s {
		s[i] /= total
	}
}

// normalizeRow scales p to sum to 1; an all-zero p becomes uniform.
func normalizeRow(p []float64) {
	total := 0.0
	for _, x := range p {
		total += x
	}
	for i := range p {
		if total > 0 {
			p[i] /= total
		} else {
			p[i] = 1 / float64(len(p))
		}
	}
}

// safeLog is the logarithm with 0 mapped to the log of the smallest
// positive float, so that an unsmoothed zero probability (PriorStrength
// < 0) never turns a score into NaN.
func safeLog(p float64) float64 {
	return math.Log(math.Max(p, math.SmallestNonzeroFloat64))
}

func oneHotRow(p []float64, c int) {
	clear(p)
	p[c] = 1
}

func sumInts(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// decider is t.Decide over evidence indexed by the engine's interned
// categories instead of a map by name: the same arithmetic in the same
// order, with the logarithms of the priors taken once and the spillover
// read from slices. judge calls it for every labelled number a lookup
// does not find cached, where the map form cost a third of its time.
type decider struct {
	t        *Trust
	ncats    int       // the engine categories it was built for
	inexact  bool      // a spillover is not finite: Decide itself must decide
	at       []int     // engine category index of each of t.Classes, -1 if none
	logPrior []float64 // math.Log(t.Prior[c]) by class
	prior    []float64
	spill    [][]float64 // spill[i][j] is t.Spillover[Classes[i]][Classes[j]]
}

// newDecider builds the decider of t over cats. It is inexact when a
// spillover is not finite: skipping labels without evidence, as decide
// does, is exact only for finite ones (∞·0 is NaN).
func newDecider(t *Trust, cats []string) *decider {
	idx := make(map[string]int, len(cats))
	for i, c := range cats {
		idx[c] = i
	}
	k := len(t.Classes)
	d := &decider{t: t, ncats: len(cats), at: make([]int, k), logPrior: make([]float64, k),
		prior: make([]float64, k), spill: make([][]float64, k)}
	for i, c := range t.Classes {
		d.at[i] = -1
		if j, ok := idx[c]; ok {
			d.at[i] = j
		}
		d.prior[i] = t.Prior[c]
		d.logPrior[i] = math.Log(t.Prior[c])
		d.spill[i] = make([]float64, k)
		for j, l := range t.Classes {
			v := t.Spillover[c][l]
			if math.IsInf(v, 0) || math.IsNaN(v) {
				return &decider{t: t, ncats: len(cats), inexact: true}
			}
			d.spill[i][j] = v
		}
	}
	return d
}

// decide is Decide of the evidence ev[cat]·scale by category name.
func (d *decider) decide(ev []float64, scale float64) string {
	var buf [16]float64
	x := buf[:0]
	for _, j := range d.at {
		v := 0.0
		if j >= 0 && j < len(ev) && ev[j] != 0 {
			v = ev[j] * scale
		}
		x = append(x, v)
	}
	best, bestScore := -1, math.Inf(-1)
	for i := range d.at {
		s := x[i] + d.logPrior[i]
		for j, v := range x {
			if v != 0 {
				s += d.spill[i][j] * v
			}
		}
		if best < 0 || s > bestScore || (s == bestScore && d.prior[i] > d.prior[best]) {
			best, bestScore = i, s
		}
	}
	if best < 0 {
		return ""
	}
	return d.t.Classes[best]
}
