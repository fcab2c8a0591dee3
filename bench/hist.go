package main

import (
	"math"
	"math/bits"
	"time"
)

// histSubBits sets the histogram's precision: values are kept in buckets
// 1/64th of a power of two wide, so a quantile is within 1.6% of the true
// value, as an HDR histogram with two significant digits would be.
const histSubBits = 7

// histSize holds every non-negative int64 of nanoseconds.
const histSize = 1<<histSubBits + (64-histSubBits)*(1<<(histSubBits-1))

// hist is a log-linear latency histogram of nanoseconds in the style of
// HdrHistogram: constant memory, constant-time recording, mergeable. It is
// not safe for concurrent use; each load worker keeps its own and they are
// merged at the end.
type hist struct {
	counts       [histSize]int64
	n            int64
	sum          float64
	minNS, maxNS int64
	haveExtremes bool
	negative     int64 // negative values (a clock step), recorded as 0
}

func histIndex(v int64) int {
	if v < 1<<histSubBits {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - histSubBits
	return 1<<histSubBits + (shift-1)*(1<<(histSubBits-1)) + int(v>>shift) - 1<<(histSubBits-1)
}

// histUpper is the largest value that falls into bucket i.
func histUpper(i int) int64 {
	if i < 1<<histSubBits {
		return int64(i)
	}
	j := i - 1<<histSubBits
	shift := j/(1<<(histSubBits-1)) + 1
	q := int64(j%(1<<(histSubBits-1)) + 1<<(histSubBits-1))
	return (q+1)<<shift - 1
}

// record adds one latency.
func (h *hist) record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		h.negative++
		v = 0
	}
	h.counts[histIndex(v)]++
	h.n++
	h.sum += float64(v)
	if !h.haveExtremes || v < h.minNS {
		h.minNS = v
	}
	if !h.haveExtremes || v > h.maxNS {
		h.maxNS = v
	}
	h.haveExtremes = true
}

// merge adds o's values to h.
func (h *hist) merge(o *hist) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.negative += o.negative
	if !h.haveExtremes || o.minNS < h.minNS {
		h.minNS = o.minNS
	}
	if !h.haveExtremes || o.maxNS > h.maxNS {
		h.maxNS = o.maxNS
	}
	h.haveExtremes = true
}

// quantile returns the value at or below which a share q of the recorded
// values lie, as the upper edge of its bucket (never below the truth), and
// capped at the largest value recorded. It is 0 for an empty histogram.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(histUpper(i), h.maxNS))
		}
	}
	return time.Duration(h.maxNS)
}

// mean is the average of the recorded values.
func (h *hist) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// max is the largest recorded value.
func (h *hist) max() time.Duration { return time.Duration(h.maxNS) }
