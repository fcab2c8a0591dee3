package main

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/callrep/callrep/api"
	"github.com/callrep/callrep/moderation"
	"github.com/callrep/callrep/push"
	"github.com/callrep/callrep/reputation"
)

// modFlags configure moderation.
type modFlags struct {
	deadline time.Duration
	scan     time.Duration
}

func (mf *modFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&mf.deadline, "case-deadline", 72*time.Hour, "how long a moderation case may stay unresolved (env CALLREP_CASE_DEADLINE)")
	fs.DurationVar(&mf.scan, "moderation-scan-interval", time.Minute, "how often flagged, contested and spoofed numbers are checked for automatic cases (env CALLREP_MODERATION_SCAN_INTERVAL)")
}

// moderatedEngine is the engine as moderation sees it: an override also
// goes to the reputation log, so that lookup replicas see it.
type moderatedEngine struct {
	*reputation.Engine
	changes *reputation.ChangeLog
}

func (m moderatedEngine) SetOverride(key string, o reputation.Override) {
	m.Engine.SetOverride(key, o)
	m.changes.Mark(key)
}

// pushNotifier tells users about cases through push.
type pushNotifier struct{ ps *push.Service }

func (p pushNotifier) Notify(ctx context.Context, n moderation.Notice) error {
	return p.ps.Tell(ctx, push.Notice{ID: n.Case + "|" + string(n.Outcome), User: n.User, Kind: push.Kind(n.Kind),
		Number: n.Number, Verdict: n.Verdict, Outcome: string(n.Outcome)})
}

// openModeration opens moderation over the stack, telling users through
// ps (nil tells nobody). Its cases' decisions are applied to the engine
// before it serves.
func (st *stack) openModeration(ctx context.Context, ps *push.Service, mf *modFlags, log *slog.Logger) (*moderation.Service, error) {
	ms, err := moderation.OpenStore(ctx, st.mongo.DB)
	if err != nil {
		return nil, err
	}
	cfg := moderation.Config{
		Store: ms, Labels: st.labels, Reputations: moderatedEngine{st.index, st.changes}, Contested: st.pubs,
		Deadline: mf.deadline, Logger: log,
	}
	if ps != nil {
		cfg.Notifier = pushNotifier{ps}
	}
	return moderation.Open(ctx, cfg)
}

// moderationEraser erases what a user's disputes say about them.
func moderationEraser(m *moderation.Service) api.Eraser {
	return func(ctx context.Context, id string) (api.Erased, error) {
		n, err := m.EraseFiler(ctx, id)
		return api.Erased{Disputes: n}, err
	}
}
