// Package erasure runs the erasure of a user (DELETE /v1/me) as a durable,
// resumable job: accepted at once, worked through its steps in the
// background in bounded batches, its progress stored after every batch,
// resumed from the last stored progress after a crash, and its status
// answerable at any time, truthfully: the counts are what the batches
// stored.
package erasure

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/callrep/callrep/labels"
)

// Counts is what an erasure removed so far.
type Counts struct {
	Labels, Reports, Devices, Notifications, LookupRecords, GuardianLinks, Disputes int
}

func (c *Counts) add(o Counts) {
	c.Labels += o.Labels
	c.Reports += o.Reports
	c.Devices += o.Devices
	c.Notifications += o.Notifications
	c.LookupRecords += o.LookupRecords
	c.GuardianLinks += o.GuardianLinks
	c.Disputes += o.Disputes
}

// Step erases one part of what callrep keeps about a reporter. It must be
// idempotent and work in bounded batches: a resumed job runs the step
// again from its start, and it finds only what is left. progress is called
// after each batch is stored, with what that batch removed; an error from
// progress fails the step.
type Step func(ctx context.Context, reporterID string, progress func(Counts) error) error

// State is where a job is.
type State string

// The states of a job. A job never fails: a step that fails is retried
// until it succeeds or the service stops, and the next start resumes it.
const (
	Running State = "running"
	Done    State = "done"
)

// Status is what a job's status says.
type Status struct {
	ID         string
	Reporter   string
	State      State
	AcceptedAt time.Time
	FinishedAt time.Time // zero while running
	Erased     Counts
}

// Config configures a Service.
type Config struct {
	// Steps run in order for every job; required.
	Steps []Step
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Logger gets failed steps; slog.Default() if nil.
	Logger *slog.Logger
	// Retry is the wait after a failed step; 5 s if zero.
	Retry time.Duration
}

// Service accepts, runs and reports erasure jobs. Create it with Open and
// stop it with Close.
type Service struct {
	store *Store
	cfg   Config

	ctx    context.Context // ends on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	jobs    map[string]*job // every job, by id
	running map[string]*job // running jobs, by reporter
}

// job is a job's state in memory, guarded by Service.mu.
type job struct {
	status Status
	step   int // the step to run (again)
	seq    int // progress records stored
}

// Open loads every job from store and resumes the unfinished ones.
func Open(ctx context.Context, store *Store, cfg Config) (*Service, error) {
	if len(cfg.Steps) == 0 {
		return nil, errors.New("erasure: config has no steps")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 5 * time.Second
	}
	jobs, err := store.load(ctx)
	if err != nil {
		return nil, err
	}
	s := &Service{store: store, cfg: cfg, jobs: map[string]*job{}, running: map[string]*job{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, j := range jobs {
		s.jobs[j.status.ID] = j
		if j.status.State == Running {
			s.launchLocked(j)
		}
	}
	return s, nil
}

// Start accepts the erasure of reporterID: a new job, stored before Start
// returns, or the reporter's job that is still running.
func (s *Service) Start(ctx context.Context, reporterID string) (Status, error) {
	s.mu.Lock()
	if j := s.running[reporterID]; j != nil {
		defer s.mu.Unlock()
		return j.status, nil
	}
	s.mu.Unlock()
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	j := &job{status: Status{ID: "e-" + hex.EncodeToString(id), Reporter: reporterID, State: Running, AcceptedAt: s.cfg.Now().UTC()}}
	if err := s.store.insertJob(ctx, j.status); err != nil {
		return Status{}, labels.Errorf(labels.EUnavailable, "the erasure could not be stored; try again")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		// Stored: the next start resumes it.
		return j.status, nil
	}
	// A concurrent Start for the reporter may have launched a job too:
	// both run, the steps being idempotent.
	s.jobs[j.status.ID] = j
	s.launchLocked(j)
	return j.status, nil
}

// Status returns the status of job id, or an ENotFound error.
func (s *Service) Status(ctx context.Context, id string) (Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	if j == nil {
		return Status{}, labels.Errorf(labels.ENotFound, "no such erasure")
	}
	return j.status, nil
}

// Close stops the running jobs after their current batch and waits for
// them; the next Open resumes them.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

func (s *Service) launchLocked(j *job) {
	s.running[j.status.Reporter] = j
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run(j)
	}()
}

// run works j through its steps from the one it stopped at.
func (s *Service) run(j *job) {
	s.mu.Lock()
	reporter, step := j.status.Reporter, j.step
	s.mu.Unlock()
	for ; step < len(s.cfg.Steps); step++ {
		for {
			err := s.cfg.Steps[step](s.ctx, reporter, func(c Counts) error { return s.record(j, step, c, false) })
			if err == nil {
				err = s.record(j, step+1, Counts{}, step+1 == len(s.cfg.Steps))
			}
			if err == nil {
				break
			}
			if s.ctx.Err() != nil {
				return
			}
			s.cfg.Logger.Warn("erasure step failed; retrying", "job", j.status.ID, "step", step, "err", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(s.cfg.Retry):
			}
		}
	}
}

// record stores j's progress after a batch of step (c) or its end (step
// is then the next one, done the end of the job), and applies it.
func (s *Service) record(j *job, step int, c Counts, done bool) error {
	s.mu.Lock()
	next := j.status
	next.Erased.add(c)
	if done {
		next.State, next.FinishedAt = Done, s.cfg.Now().UTC()
	}
	seq := j.seq + 1
	s.mu.Unlock()
	if err := s.store.insertProgress(s.ctx, next, seq, step); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j.status, j.seq, j.step = next, seq, step
	if done && s.running[next.Reporter] == j {
		delete(s.running, next.Reporter)
	}
	return nil
}
