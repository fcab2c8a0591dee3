package labels

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Flusher is a write-behind buffer: callers Mark keys whose in-memory state
// changed, and Run writes the latest state of each marked key at most once
// per interval, however often it changed in between. FerretDB manages a few
// hundred single-document updates a second, so coalescing is what keeps a
// hot number from becoming a hot document.
type Flusher struct {
	// Flush writes the current state of keys. cut is the Cut value taken
	// just before the keys were collected. An error re-marks the keys and
	// the next attempt backs off.
	Flush func(ctx context.Context, keys []string, cut time.Time) error
	// Cut, when set, is called just before the dirty keys are collected;
	// its value is passed to Flush (e.g. a replay watermark).
	Cut func() time.Time
	// Interval between flushes; 200 ms if zero.
	Interval time.Duration
	// MaxBatch makes Mark wake the loop early once this many keys wait;
	// 2000 if zero.
	MaxBatch int
	Logger   *slog.Logger
	Name     string

	mu    sync.Mutex
	dirty map[string]struct{}
	kick  chan struct{}
	once  sync.Once
}

func (f *Flusher) init() {
	f.once.Do(func() {
		f.kick = make(chan struct{}, 1)
		if f.Interval <= 0 {
			f.Interval = 200 * time.Millisecond
		}
		if f.MaxBatch <= 0 {
			f.MaxBatch = 2000
		}
		if f.Logger == nil {
			f.Logger = slog.Default()
		}
	})
}

// Mark records that key must be written.
func (f *Flusher) Mark(key string) {
	f.init()
	f.mu.Lock()
	if f.dirty == nil {
		f.dirty = make(map[string]struct{})
	}
	f.dirty[key] = struct{}{}
	full := len(f.dirty) >= f.MaxBatch
	f.mu.Unlock()
	if full {
		select {
		case f.kick <- struct{}{}:
		default:
		}
	}
}

// Pending returns how many keys wait to be written.
func (f *Flusher) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.dirty)
}

// FlushNow writes every marked key once and returns the first error.
func (f *Flusher) FlushNow(ctx context.Context) error {
	f.init()
	var cut time.Time
	if f.Cut != nil {
		cut = f.Cut()
	}
	f.mu.Lock()
	batch := f.dirty
	f.dirty = nil
	f.mu.Unlock()
	if len(batch) == 0 && f.Cut == nil {
		return nil
	}
	keys := make([]string, 0, len(batch))
	for k := range batch {
		keys = append(keys, k)
	}
	if err := f.Flush(ctx, keys, cut); err != nil {
		for _, k := range keys {
			f.Mark(k)
		}
		return err
	}
	return nil
}

// Run flushes until ctx ends, then makes a last attempt with a fresh
// deadline so that a clean shutdown leaves nothing behind.
func (f *Flusher) Run(ctx context.Context) {
	f.init()
	backoff := time.Duration(0)
	timer := time.NewTimer(f.Interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			if err := f.FlushNow(fctx); err != nil {
				f.Logger.Error("final flush failed", "flusher", f.Name, "pending", f.Pending(), "err", err)
			}
			cancel()
			return
		case <-timer.C:
		case <-f.kick:
			if backoff > 0 {
				continue // the timer is running the backoff
			}
		}
		if f.Pending() > 0 || f.Cut != nil {
			if err := f.FlushNow(ctx); err != nil && ctx.Err() == nil {
				backoff = min(max(2*backoff, time.Second), 30*time.Second)
				f.Logger.Warn("flush failed, will retry", "flusher", f.Name, "pending", f.Pending(), "retry_in", backoff, "err", err)
			} else {
				backoff = 0
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(f.Interval + backoff)
	}
}
