package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/api/option"

	"github.com/callrep/callrep/api"
	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/push"
	"github.com/callrep/callrep/reputation"
)

// pushFlags configure warnings and their delivery.
type pushFlags struct {
	project  string
	endpoint string
	optIns   string
	cfg      push.Config
}

func (pf *pushFlags) register(fs *flag.FlagSet) {
	d := push.DefaultConfig()
	pf.cfg = d
	fs.StringVar(&pf.project, "fcm-project", "", "Firebase project to send warnings through FCM; default --firebase-project, empty keeps warnings in the inbox only (env CALLREP_FCM_PROJECT)")
	fs.StringVar(&pf.endpoint, "fcm-endpoint", "", "FCM API endpoint instead of Google's, e.g. http://127.0.0.1:9099/v1; plain http sends no credentials (env CALLREP_FCM_ENDPOINT)")
	fs.StringVar(&pf.optIns, "push-opt-ins", strings.Join(push.OptInNames, ","), "warning kinds a device opts in to when it names none (env CALLREP_PUSH_OPT_INS)")
	positiveDuration(fs, &pf.cfg.RecordFor, "push-record-for", d.RecordFor, "how long lookups of opted-in users are kept for retroactive warnings (env CALLREP_PUSH_RECORD_FOR)")
	fs.IntVar(&pf.cfg.RecordMax, "push-record-max", d.RecordMax, "numbers recorded per user within --push-record-for (env CALLREP_PUSH_RECORD_MAX)")
	positiveDuration(fs, &pf.cfg.InboxFor, "push-inbox-for", d.InboxFor, "how long notifications stay in the inbox (env CALLREP_PUSH_INBOX_FOR)")
	fs.IntVar(&pf.cfg.InboxMax, "push-inbox-max", d.InboxMax, "notifications kept per user (env CALLREP_PUSH_INBOX_MAX)")
	positiveDuration(fs, &pf.cfg.RetroTTL, "push-retro-ttl", d.RetroTTL, "how long a retroactive warning is worth delivering (env CALLREP_PUSH_RETRO_TTL)")
	fs.IntVar(&pf.cfg.HourlyCap, "push-hourly-cap", d.HourlyCap, "messages per device per hour (env CALLREP_PUSH_HOURLY_CAP)")
	positiveDuration(fs, &pf.cfg.GuardianGap, "push-guardian-gap", d.GuardianGap, "at most one guardian alert per protected user and number per this (env CALLREP_PUSH_GUARDIAN_GAP)")
	fs.IntVar(&pf.cfg.Guardians, "push-guardians", d.Guardians, "guardians per user (env CALLREP_PUSH_GUARDIANS)")
	positiveDuration(fs, &pf.cfg.WaveWindow, "push-wave-window", d.WaveWindow, "window of a regional fraud wave (env CALLREP_PUSH_WAVE_WINDOW)")
	positiveDuration(fs, &pf.cfg.Lease, "push-lease", d.Lease, "how long the sending replica's lease lasts; a crashed sender is replaced within it (env CALLREP_PUSH_LEASE)")
	fs.IntVar(&pf.cfg.WaveMin, "push-wave-min", d.WaveMin, "new fraud numbers of one area within the window that make a wave (env CALLREP_PUSH_WAVE_MIN)")
}

// sender returns the FCM sender, or nil when no project is configured.
func (pf *pushFlags) sender(ctx context.Context, firebaseProject string) (push.Sender, string, error) {
	project := pf.project
	if project == "" {
		project = firebaseProject
	}
	if project == "" {
		return nil, "", nil
	}
	var opts []option.ClientOption
	if pf.endpoint != "" {
		opts = append(opts, option.WithEndpoint(pf.endpoint))
		// Credentials never travel in the clear: a plain-http endpoint
		// is a local emulator or fake.
		if strings.HasPrefix(pf.endpoint, "http://") {
			opts = append(opts, option.WithoutAuthentication())
		}
	}
	f, err := push.NewFCM(ctx, project, opts...)
	if err != nil {
		return nil, "", err
	}
	return f, project, nil
}

// pushObserver forwards label changes to push once it is open: labels are
// opened (and replay their history) before push can be, and the changes
// replayed meanwhile must not be lost.
type pushObserver struct {
	mu      sync.Mutex
	target  *push.Service
	pending [][2]*labels.Label
}

var _ labels.LoadObserver = (*pushObserver)(nil)

func (o *pushObserver) LabelLoaded(*labels.Label) {}

func (o *pushObserver) LabelChanged(old, cur *labels.Label) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.target != nil {
		o.target.LabelChanged(old, cur)
		return
	}
	o.pending = append(o.pending, [2]*labels.Label{old, cur})
}

func (o *pushObserver) set(s *push.Service) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.target = s
	for _, c := range o.pending {
		s.LabelChanged(c[0], c[1])
	}
	o.pending = nil
}

// openPush opens push on the writer and returns it with what the API and
// the jobs need.
func (st *stack) openPush(ctx context.Context, pf *pushFlags, firebaseProject, region string, reg prometheus.Registerer, log *slog.Logger) (*push.Service, error) {
	store, err := push.OpenStore(ctx, st.mongo.DB)
	if err != nil {
		return nil, err
	}
	sender, project, err := pf.sender(ctx, firebaseProject)
	if err != nil {
		return nil, err
	}
	optIns, err := push.ParseOptIns(pf.optIns)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--push-opt-ins: %v", err)}
	}
	host, _ := os.Hostname()
	cfg := pf.cfg
	cfg.Store, cfg.Reputation, cfg.Labels, cfg.Leases = store, st.index, st.labels, st.store.Leases()
	cfg.Holder = fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano())
	cfg.Region, cfg.Logger, cfg.Registry, cfg.OptIns = region, log, reg, optIns
	if sender != nil {
		cfg.Sender = sender
	}
	ps, err := push.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if sender != nil {
		log.Info("push: sending through FCM", "project", project, "endpoint", pf.endpoint)
	}
	st.pushObs.set(ps)
	return ps, nil
}

// filtersPublished tells push the current filter versions.
func filtersPublished(ctx context.Context, ps *push.Service, pubs *reputation.Publisher) error {
	var fs []push.FilterVersion
	for _, s := range pubs.Filters() {
		fs = append(fs, push.FilterVersion{Name: s.Name, Version: s.Version})
	}
	return ps.FiltersPublished(ctx, fs)
}

// pushEraser is push's part of DELETE /v1/me.
func pushEraser(ps *push.Service) api.Eraser {
	return func(ctx context.Context, id string) (api.Erased, error) {
		r, err := ps.EraseUser(ctx, id)
		return api.Erased{Devices: r.Devices, Notifications: r.Notifications, LookupRecords: r.Records, GuardianLinks: r.GuardianLinks}, err
	}
}
