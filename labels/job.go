package labels

import (
	"context"
	"log/slog"
	"time"
)

// Job runs a background task periodically on one replica at a time: each
// round it takes (or renews) a lease and runs only while it holds it.
type Job struct {
	Name     string
	Interval time.Duration
	// First is the delay before the first round; 0 runs it at once.
	First  time.Duration
	Leases *Leases
	// Holder identifies this replica.
	Holder string
	Run    func(ctx context.Context) error
	// Follower, if set, runs on the rounds this replica does not hold the
	// lease (e.g. to pick up what the holder stored).
	Follower func(ctx context.Context) error
	Logger   *slog.Logger
	Now      func() time.Time
}

// Loop runs rounds until ctx ends. The lease lasts two intervals plus the
// time a round may take, so a holder renews it every round and a dead one
// is replaced within two intervals.
func (j *Job) Loop(ctx context.Context) {
	if j.Now == nil {
		j.Now = time.Now
	}
	if j.Logger == nil {
		j.Logger = slog.Default()
	}
	timer := time.NewTimer(j.First)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		j.round(ctx)
		timer.Reset(j.Interval)
	}
}

func (j *Job) round(ctx context.Context) {
	held, err := j.Leases.Acquire(ctx, j.Name, j.Holder, 2*j.Interval+10*time.Minute, j.Now())
	if err != nil {
		j.Logger.Warn("job lease", "job", j.Name, "err", err)
		return
	}
	if !held {
		j.Logger.Debug("job leased elsewhere", "job", j.Name)
		if j.Follower != nil {
			if err := j.Follower(ctx); err != nil && ctx.Err() == nil {
				j.Logger.Warn("job follower failed", "job", j.Name, "err", err)
			}
		}
		return
	}
	start := time.Now()
	if err := j.Run(ctx); err != nil && ctx.Err() == nil {
		j.Logger.Error("job failed", "job", j.Name, "err", err)
		return
	}
	j.Logger.Info("job done", "job", j.Name, "took", time.Since(start).Round(time.Millisecond).String())
}

// Every calls fn every d until ctx ends.
func Every(ctx context.Context, d time.Duration, fn func(ctx context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}
