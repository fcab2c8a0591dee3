package main

import (
	"context"
	"fmt"
	"path/filepath"
)

// emptyReading is callrep started on an empty data directory: the fixed
// part of start-up time and memory, which the per-million figures must not
// charge to the numbers.
type emptyReading struct {
	ok       bool
	readyS   float64
	rss      uint64
	liveMB   int
	haveLive bool
}

// emptyBaseline starts callrep on an empty data directory, reads its
// start-up time and memory and stops it.
func (b *bench) emptyBaseline(ctx context.Context) {
	s := b.startCallrep(ctx, "empty start", "serve0", filepath.Join(b.work, "empty"))
	defer b.stopCallrep(s)
	if !s.ready {
		b.note("callrep did not start on an empty data directory (%s); the per-million figures are not corrected for the fixed part", s.failure)
		return
	}
	m := b.readMemory(ctx, s)
	if !m.ok {
		return
	}
	live, ok := b.liveHeap(ctx, s, s.readyAt)
	if b.cfg.numbers < 1_000_000 {
		b.note("this run imported %s numbers, not the issue's 1,000,000: the per-million figures are extrapolated to 1M", num(b.cfg.numbers))
	}
	if b.cfg.numbers < 100_000 {
		b.note("with %s numbers the per-million figures are extrapolated from a difference of a few MiB and a fraction of a second, "+
			"so they are noise: a smoke run checks the instrument, not callrep", num(b.cfg.numbers))
	}
	b.empty = emptyReading{ok: true, readyS: s.readyIn.Seconds(), rss: m.rss, liveMB: live.liveMB, haveLive: ok}
	b.detail("Empty start (no numbers): ready in %s, RSS %s, live heap %d MiB at GC %d. Below 1M numbers the per-million figures are "+
		"extrapolated to 1M as empty + (measured − empty) × 1M / numbers, which at 1M is the measured value itself.",
		secs(s.readyIn), mib(m.rss), live.liveMB, live.n)
}

// atMillion extrapolates a figure measured at n numbers linearly to a
// million: the empty server's value plus the marginal cost of a million
// numbers. At n = 1M it is the measured value.
func atMillion(measured, empty float64, n int) float64 {
	if n <= 0 {
		return measured
	}
	return empty + (measured-empty)*1e6/float64(n)
}

// perMillion describes a measurement and its value at a million numbers.
func (b *bench) perMillion(measured, empty float64, n int, unit string) (string, float64) {
	v := atMillion(measured, empty, n)
	if n == 1_000_000 {
		return fmt.Sprintf("%.1f %s at 1,000,000 numbers", measured, unit), v
	}
	return fmt.Sprintf("%.1f %s at %s numbers → %.1f %s at 1M (extrapolated)", measured, unit, num(n), v, unit), v
}
