package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/callrep/callrep/api"
	"github.com/callrep/callrep/erasure"
	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/push"
	"github.com/callrep/callrep/reputation"
)

// storeFlags are the flags of every command that opens the store.
type storeFlags struct {
	data     string
	uri      string
	database string
	region   string
	logLevel string
	ramp     time.Duration
	lease    time.Duration
	// maxReportAge bounds a report's reported_at in the past.
	maxReportAge time.Duration
}

func (sf *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&sf.data, "data", "./data", "data directory: embedded store, local token key (env CALLREP_DATA)")
	fs.StringVar(&sf.uri, "mongodb-uri", "", "MongoDB URI; empty runs the embedded FerretDB in --data (env MONGODB_URI)")
	fs.StringVar(&sf.database, "database", "callrep", "database name (env CALLREP_DATABASE)")
	sf.region = "CN"
	fs.Var(regionValue{&sf.region}, "region", "default region for national-format numbers, an ISO 3166 code (env CALLREP_REGION)")
	fs.StringVar(&sf.logLevel, "log-level", "info", "debug, info, warn or error (env CALLREP_LOG_LEVEL)")
	positiveDuration(fs, &sf.lease, "writer-lease", 15*time.Second, "the writer's lease on a MONGODB_URI store: a standby writer takes over within it once the writer dies (env CALLREP_WRITER_LEASE)")
	positiveDuration(fs, &sf.maxReportAge, "max-report-age", labels.DefaultMaxReportAge, "how far back the reported_at of a report kept offline may lie (env CALLREP_MAX_REPORT_AGE)")
	nonNegativeDuration(fs, &sf.ramp, "account-ramp", reputation.DefaultConfig().Ramp, "how long a new app account takes to reach full weight; 0 weighs every account fully at once (env CALLREP_ACCOUNT_RAMP)")
}

func (sf *storeFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(sf.logLevel)); err != nil {
		return nil, usageError{fmt.Sprintf("bad --log-level %q", sf.logLevel)}
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl})), nil
}

// stack is the opened store with the in-memory state loaded.
type stack struct {
	mongo    *labels.Mongo
	store    *labels.Store
	labels   *labels.Service
	index    *reputation.Engine
	repStore *reputation.Store
	pubs     *reputation.Publisher
	changes  *reputation.ChangeLog
	blobs    *reputation.BlobStore
	pushObs  *pushObserver

	writer      *labels.Writer
	lost        chan error // the writer lease was taken over; capacity 1
	stopRenew   context.CancelFunc
	renewDone   chan struct{}
	releaseOnce sync.Once
}

// openStack connects to storage, becomes the store's one writer, loads
// the live labels and builds the reputation engine. While another process
// holds the writer lease it waits as a standby when standby is set (which
// it calls with the holder) and fails otherwise: maintenance commands do
// not race a running writer.
func openStack(ctx context.Context, sf *storeFlags, log *slog.Logger, standby func(labels.WriterInfo)) (*stack, error) {
	m, err := labels.OpenMongo(ctx, labels.MongoConfig{URI: sf.uri, DataDir: sf.data, Database: sf.database, Logger: log})
	if err != nil {
		return nil, err
	}
	st := &stack{mongo: m, pushObs: &pushObserver{}, lost: make(chan error, 1)}
	fail := func(err error) (*stack, error) {
		st.releaseWriter(log)
		m.Close(context.Background())
		return nil, err
	}
	store, err := labels.OpenStore(ctx, m.DB)
	if err != nil {
		return fail(err)
	}
	st.store = store
	if err := st.becomeWriter(ctx, sf.lease, standby, log); err != nil {
		return fail(err)
	}
	if st.repStore, err = reputation.OpenStore(ctx, m.DB); err != nil {
		return fail(err)
	}
	keys := labels.NewKeys() // one interner for the labels and the engine
	engineCfg := reputation.DefaultConfig()
	engineCfg.Ramp = sf.ramp
	engineCfg.Keys = keys
	st.index = reputation.NewEngine(engineCfg)
	blobs, err := reputation.OpenBlobStore(ctx, m.DB)
	if err != nil {
		return fail(err)
	}
	st.blobs = blobs
	// Learned trust survives restarts: labels loaded below weigh as the
	// last estimate said, not as strangers, until the next rescore.
	if b, err := blobs.Get(ctx, trustBlob); err == nil {
		t, err := reputation.DecodeTrust(b.Data)
		if err != nil {
			log.Warn("ignoring the stored trust estimate; the next rescore replaces it", "err", err)
		} else {
			st.index.SetTrust(t)
			log.Info("trust estimate loaded", "reporters", len(t.Workers), "estimated", b.Created)
		}
	} else if !errors.Is(err, reputation.ErrNoBlob) {
		return fail(err)
	}
	st.pubs = reputation.NewPublisher(reputation.DefaultPublisherConfig(), st.index, blobs, log)
	st.changes = reputation.NewChangeLog(st.index, st.repStore, log)
	opts := labels.Options{
		DefaultRegion: sf.region,
		Observers:     []labels.Observer{st.index, st.changes, st.pushObs},
		Logger:        log,
		Keys:          keys,
		MaxReportAge:  sf.maxReportAge,
	}
	if !m.Embedded {
		opts.Fence = st.writer.Check
	}
	st.labels, err = labels.Open(ctx, store, opts)
	if err != nil {
		return fail(err)
	}
	return st, nil
}

// becomeWriter takes the writer lease (see labels/writer.go) and renews it
// until close. The embedded store is locked to this process, so its lease
// is taken at once; on a shared store a running writer's lease is waited
// for (standby) or refused.
func (st *stack) becomeWriter(ctx context.Context, ttl time.Duration, standby func(labels.WriterInfo), log *slog.Logger) error {
	if ttl <= 0 {
		return usageError{fmt.Sprintf("--writer-lease must be positive, not %v", ttl)}
	}
	host, _ := os.Hostname()
	holder := fmt.Sprintf("pid %d on %s, started %s", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	leases := st.store.Leases()
	var err error
	switch {
	case st.mongo.Embedded:
		st.writer, _, err = leases.TakeWriter(ctx, holder, ttl, time.Now, true)
	case standby != nil:
		st.writer, err = leases.WaitWriter(ctx, holder, ttl, time.Now, standby)
	default:
		var info labels.WriterInfo
		st.writer, info, err = leases.TakeWriter(ctx, holder, ttl, time.Now, false)
		if err == nil && st.writer == nil {
			err = errWriterRunning(info)
		}
	}
	if err != nil {
		return err
	}
	if err := st.store.BecomeWriter(ctx, st.writer); err != nil {
		return err
	}
	log.Info("writer lease taken", "generation", st.writer.Gen, "lease", ttl.String())
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	st.stopRenew, st.renewDone = cancel, make(chan struct{})
	go func() {
		defer close(st.renewDone)
		st.writer.Run(rctx, func(err error) {
			log.Error("lost the writer lease: another process took over; stopping", "err", err)
			st.lost <- err
		})
	}()
	return nil
}

// releaseWriter stops renewing the writer lease and ends it, so that a
// standby takes over at once.
func (st *stack) releaseWriter(log *slog.Logger) {
	if st.writer == nil {
		return
	}
	st.releaseOnce.Do(func() {
		st.stopRenew()
		<-st.renewDone
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := st.writer.Release(ctx); err != nil {
			log.Warn("releasing the writer lease", "err", err)
		}
	})
}

// close writes the labels snapshot and the reputation log within ctx,
// then disconnects, and returns what failed. What is not written is
// rebuilt from the stored reports at the next start.
func (st *stack) close(ctx context.Context, log *slog.Logger) error {
	var errs []error
	start := time.Now()
	if err := st.labels.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("writing the labels snapshot: %w", err))
	} else {
		log.Info("labels snapshot written", "took", time.Since(start).Round(time.Millisecond).String())
	}
	// The reputation log carries every change since the last rewrite
	// (rescore, rebuild), so shutdown appends to it instead of rewriting
	// every reputation, which would grow with the store.
	start = time.Now()
	if err := st.changes.Flush(ctx); err != nil {
		errs = append(errs, fmt.Errorf("writing the reputation log: %w", err))
	} else {
		log.Info("reputation log written", "took", time.Since(start).Round(time.Millisecond).String())
	}
	st.releaseWriter(log)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := st.mongo.Close(dctx); err != nil {
		errs = append(errs, fmt.Errorf("closing storage: %w", err))
	}
	return errors.Join(errs...)
}

// closeLogged is close within 30 seconds, logging what failed: a server's
// stop must not hang.
func (st *stack) closeLogged(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.close(ctx, log); err != nil {
		log.Error("closing", "err", err)
	}
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	listen := addressFlag(fs, "listen", "127.0.0.1:8080", "host:port to listen on (env CALLREP_LISTEN)")
	metricsListen := addressFlag(fs, "metrics-listen", "", "host:port to serve /metrics on instead of --listen; empty serves it on --listen (env CALLREP_METRICS_LISTEN)")
	allowNonLoopback := fs.Bool("allow-nonloopback", false, "let the local token issuer serve on a non-loopback address (env CALLREP_ALLOW_NONLOOPBACK)")
	firebaseProject := fs.String("firebase-project", "", "verify Firebase Auth ID tokens of this project instead of local tokens (env FIREBASE_PROJECT)")
	trusted := fs.String("trusted-proxies", "", "comma-separated proxy addresses or CIDRs whose X-Forwarded-For is trusted (env CALLREP_TRUSTED_PROXIES)")
	rescoreEvery, filterEvery := new(time.Duration), new(time.Duration)
	positiveDuration(fs, rescoreEvery, "rescore-interval", time.Hour, "how often one replica re-estimates reporter trust and re-scores (env CALLREP_RESCORE_INTERVAL)")
	positiveDuration(fs, filterEvery, "filter-interval", 10*time.Minute, "how often one replica rebuilds the filter snapshots (env CALLREP_FILTER_INTERVAL)")
	rates := fs.String("filter-rates", "block=0.001,fraud=0.001,spam=0.001,benign=0.001", "target false-positive rate per filter (env CALLREP_FILTER_RATES)")
	deltaWindow := new(time.Duration)
	positiveDuration(fs, deltaWindow, "delta-window", reputation.DefaultDeltaWindow, "how long the changes of each published list are kept for deltas; a phone at an older version gets the full list (env CALLREP_DELTA_WINDOW)")
	role := fs.String("role", "writer", "writer (labels and engine in memory) or lookup (stateless: lookups from storage through a guard and a bounded cache, filters from storage) (env CALLREP_ROLE)")
	limits := api.DefaultLimits()
	registerLimits(fs, &limits)
	var pf pushFlags
	pf.register(fs)
	var mf modFlags
	mf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	log, err := sf.logger(stderr)
	if err != nil {
		return err
	}

	verifier, err := newVerifier(ctx, *firebaseProject, sf.data, *listen, *allowNonLoopback, log)
	if err != nil {
		return err
	}

	pubCfg, err := publisherConfig(*rates)
	if err != nil {
		return err
	}
	pubCfg.DeltaWindow = *deltaWindow
	start := time.Now()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var be *backend
	switch *role {
	case "writer":
		be, err = writerBackend(ctx, &sf, pubCfg, *rescoreEvery, *filterEvery, &pf, &mf, *firebaseProject, reg, log)
	case "lookup":
		be, err = lookupBackend(ctx, &sf, pubCfg, *filterEvery, log)
	default:
		return usageError{fmt.Sprintf("--role must be writer or lookup, not %q", *role)}
	}
	if err != nil && ctx.Err() != nil {
		return nil // stopped while loading, or as a standby
	}
	if err != nil {
		return err
	}
	defer be.close()
	var erasures api.Erasures
	if be.erasures != nil {
		es, err := be.erasures(ctx, verifier, log)
		if err != nil {
			return err
		}
		defer es.Close()
		erasures = es
	}
	// A standby writer listens only once it is the writer: until then a
	// load balancer sees it refuse connections.
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	defer ln.Close()
	var mln net.Listener
	if *metricsListen != "" {
		if mln, err = net.Listen("tcp", *metricsListen); err != nil {
			return fmt.Errorf("listen on --metrics-listen %s: %w", *metricsListen, err)
		}
		defer mln.Close()
	}

	srv, err := api.New(api.Config{
		Devices:        be.devices,
		Inbox:          be.inbox,
		Guardians:      be.guardians,
		Lookups:        be.lookups,
		Erasures:       erasures,
		Moderation:     be.moderation,
		Labels:         be.labels,
		Reputation:     be.rep,
		Verifier:       verifier,
		Publications:   be.pubs,
		Ready:          be.ready,
		Logger:         log,
		Limits:         limits,
		TrustedProxies: splitList(*trusted),
		Registry:       reg,

		SeparateMetrics: mln != nil,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	jobCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	var jobs sync.WaitGroup
	for _, job := range be.jobs {
		jobs.Go(func() { job(jobCtx) })
	}
	defer func() { stopJobs(); jobs.Wait() }()

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	metricsAddr := ln.Addr().String()
	if mln != nil {
		ms := &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 60 * time.Second,
			ErrorLog: hs.ErrorLog}
		metricsDone := make(chan struct{})
		go func() {
			defer close(metricsDone)
			if err := ms.Serve(mln); !errors.Is(err, http.ErrServerClosed) {
				log.Warn("metrics server", "err", err)
			}
		}()
		defer func() { _ = ms.Close(); <-metricsDone }()
		metricsAddr = mln.Addr().String()
	}
	log.Info("callrep serving", "addr", ln.Addr().String(), "metrics_addr", metricsAddr, "version", version, "role", *role,
		"embedded_store", be.embedded, "auth", authMode(*firebaseProject), "numbers", be.numbers(),
		"startup", time.Since(start).Round(time.Millisecond).String())

	var lost error
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case lost = <-be.lost:
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http server", "err", err)
	}
	if lost != nil {
		return fmt.Errorf("no longer the writer: %w", lost)
	}
	return nil
}

// rescoreJob re-estimates trust and re-scores every interval on whichever
// replica holds the lease.
func (st *stack) rescoreJob(every time.Duration, log *slog.Logger) *labels.Job {
	host, _ := os.Hostname()
	return &labels.Job{
		Name: "rescore", Interval: every, First: 5 * time.Second, Leases: st.store.Leases(),
		Holder: fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano()), Logger: log,
		Run: func(ctx context.Context) error {
			s, err := st.rescore(ctx, nil)
			log.Info("rescored", "labels", s.Labels, "reporters", s.Reporters, "gold", s.Gold,
				"iterations", s.Iterations, "numbers", s.Numbers, "took", s.Took.Round(time.Millisecond).String())
			return err
		},
	}
}

// trustBlob names the stored trust estimate.
const trustBlob = "trust"

// rescore re-estimates trust, stores the estimate for the next start and
// rewrites the stored reputations.
func (st *stack) rescore(ctx context.Context, progress func(done, total int)) (reputation.RescoreStats, error) {
	s := st.index.Rescore()
	b, err := reputation.EncodeTrust(st.index.Trust())
	if err != nil {
		return s, err
	}
	now := time.Now()
	if err := st.blobs.Put(ctx, reputation.Blob{Name: trustBlob, Version: uint64(now.UnixMilli()), Created: now, Data: b}, 1); err != nil {
		return s, err
	}
	return s, st.rewriteReputations(ctx, progress)
}

// logRetention is how long reputation log entries outlive the rewrite
// that made them redundant, so that lookup replicas that fall behind by
// less still see every new number.
const logRetention = time.Hour

// rewriteReputations rewrites the stored reputations from the engine and
// trims the log entries the rewrite covers.
func (st *stack) rewriteReputations(ctx context.Context, progress func(done, total int)) error {
	start := time.Now()
	if err := st.repStore.Rebuild(ctx, st.index, progress); err != nil {
		return err
	}
	return st.repStore.TrimLog(ctx, start.Add(-logRetention))
}

// filterJob rebuilds the filter snapshots on the lease holder, which then
// tells the phones on the filter topics; the other replicas refresh from
// storage.
func (st *stack) filterJob(every time.Duration, published func(context.Context) error, log *slog.Logger) *labels.Job {
	host, _ := os.Hostname()
	return &labels.Job{
		Name: "filters", Interval: every, First: every, Leases: st.store.Leases(),
		Holder: fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano()), Logger: log,
		Run: func(ctx context.Context) error {
			if err := st.pubs.Rebuild(ctx); err != nil {
				return err
			}
			return published(ctx)
		},
		Follower: st.pubs.Refresh,
	}
}

// backend is what a serving role provides to the API.
type backend struct {
	labels   api.LabelService
	rep      api.ReputationIndex
	pubs     *reputation.Publisher
	ready    func(ctx context.Context) error
	jobs     []func(ctx context.Context)
	close    func()
	numbers  func() int
	embedded bool
	lost     <-chan error // the writer lease was lost; nil for lookups

	devices   api.Devices
	inbox     api.Inbox
	guardians api.Guardians
	lookups   api.LookupRecorder
	// erasures opens the erasure jobs (resuming unfinished ones); nil on
	// a lookup replica.
	erasures func(ctx context.Context, v api.Verifier, log *slog.Logger) (*erasure.Service, error)

	moderation api.Moderation
}

// writerBackend holds the labels and the engine in memory and runs the
// leased jobs.
func writerBackend(ctx context.Context, sf *storeFlags, pubCfg reputation.PublisherConfig, rescoreEvery, filterEvery time.Duration,
	pf *pushFlags, mf *modFlags, firebaseProject string, reg prometheus.Registerer, log *slog.Logger) (*backend, error) {
	st, err := openStack(ctx, sf, log, func(w labels.WriterInfo) {
		log.Info("standby: another writer holds the lease; taking over when it ends", "holder", w.Holder,
			"generation", w.Gen, "until", w.Until.Format(time.RFC3339))
	})
	if err != nil {
		return nil, err
	}
	st.pubs.Reconfigure(pubCfg)
	// The first snapshots exist before /readyz says ready: stored ones, or
	// built now when there are none.
	err = st.pubs.Refresh(ctx)
	if err == nil && !st.pubs.Ready() {
		err = st.pubs.Rebuild(ctx)
	}
	if err != nil {
		st.closeLogged(log)
		return nil, err
	}
	ps, err := st.openPush(ctx, pf, firebaseProject, sf.region, reg, log)
	if err != nil {
		st.closeLogged(log)
		return nil, err
	}
	mod, err := st.openModeration(ctx, ps, mf, log)
	if err != nil {
		st.closeLogged(log)
		return nil, err
	}
	published := func(ctx context.Context) error { return filtersPublished(ctx, ps, st.pubs) }
	if err := published(ctx); err != nil {
		st.closeLogged(log)
		return nil, err
	}
	releaseLoadGarbage(log)
	return &backend{
		devices: ps, inbox: ps, guardians: ps, lookups: ps, erasures: st.erasures(pushEraser(ps), moderationEraser(mod)), moderation: mod,
		labels: st.labels, rep: st.index, pubs: st.pubs, embedded: st.mongo.Embedded, numbers: st.index.Len, lost: st.lost,
		ready: func(ctx context.Context) error {
			if !st.labels.Loaded() || !st.pubs.Ready() {
				return errors.New("labels, filter snapshots or CallKit exports not loaded")
			}
			return ping(ctx, st.mongo)
		},
		jobs: []func(context.Context){
			st.rescoreJob(rescoreEvery, log).Loop,
			st.filterJob(filterEvery, published, log).Loop,
			func(ctx context.Context) { st.changes.Run(ctx, 500*time.Millisecond) },
			ps.Run,
			func(ctx context.Context) { mod.Run(ctx, mf.scan) },
		},
		close: func() { st.closeLogged(log) },
	}, nil
}

// erasures opens the erasure jobs over the stack's storage, erasing what
// api.ErasureSteps lists: the labels and what others erase.
func (st *stack) erasures(others ...api.Eraser) func(context.Context, api.Verifier, *slog.Logger) (*erasure.Service, error) {
	return func(ctx context.Context, v api.Verifier, log *slog.Logger) (*erasure.Service, error) {
		es, err := erasure.OpenStore(ctx, st.mongo.DB)
		if err != nil {
			return nil, err
		}
		return erasure.Open(ctx, es, erasure.Config{Steps: api.ErasureSteps(v, st.labels, others...), Logger: log})
	}
}

// releaseLoadGarbage collects what loading left behind (decoded chunks,
// replayed reports: as much again as the state itself) and returns it to
// the operating system, so that the process starts serving at about its
// live size rather than at the peak of loading. From there on the
// collector lets the heap grow by half of what is live before it runs,
// not Go's default of all of it, unless GOGC says otherwise: a writer's
// heap is almost all live state, and jobs such as a rescore would
// otherwise double the process; GOMEMLIMIT caps it further.
func releaseLoadGarbage(log *slog.Logger) {
	start := time.Now()
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(writerGCPercent)
	}
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	log.Info("memory after load", "heap_live_mib", ms.HeapAlloc>>20, "heap_sys_mib", ms.HeapSys>>20,
		"released_mib", ms.HeapReleased>>20, "took", time.Since(start).Round(time.Millisecond).String())
}

// writerGCPercent is a writer's default GOGC.
const writerGCPercent = 50

// lookupBackend is a stateless lookup replica: reputations come from
// storage through a guard and a bounded cache, filters from storage.
func lookupBackend(ctx context.Context, sf *storeFlags, pubCfg reputation.PublisherConfig, filterEvery time.Duration, log *slog.Logger) (*backend, error) {
	m, err := labels.OpenMongo(ctx, labels.MongoConfig{URI: sf.uri, DataDir: sf.data, Database: sf.database, Logger: log})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*backend, error) {
		m.Close(context.Background())
		return nil, err
	}
	repStore, err := reputation.OpenStore(ctx, m.DB)
	if err != nil {
		return fail(err)
	}
	replica, err := reputation.OpenReplica(ctx, repStore, reputation.DefaultReplicaConfig())
	if err != nil {
		return fail(err)
	}
	blobs, err := reputation.OpenBlobStore(ctx, m.DB)
	if err != nil {
		return fail(err)
	}
	pubs := reputation.NewPublisher(pubCfg, nil, blobs, log)
	if err := pubs.Refresh(ctx); err != nil {
		return fail(err)
	}
	pushStore, err := push.OpenStore(ctx, m.DB)
	if err != nil {
		return fail(err)
	}
	handoff := push.NewHandoff(pushStore, log)
	return &backend{
		lookups: handoff,
		labels:  labels.ReadOnly{DefaultRegion: sf.region}, rep: replica, pubs: pubs, embedded: m.Embedded,
		numbers: func() int { return -1 },
		ready: func(ctx context.Context) error {
			if !pubs.Ready() {
				return errors.New("filter snapshots not stored yet")
			}
			return ping(ctx, m)
		},
		jobs: []func(context.Context){
			func(ctx context.Context) { replica.Run(ctx, log) },
			func(ctx context.Context) { handoff.Run(ctx, 250*time.Millisecond) },
			func(ctx context.Context) {
				labels.Every(ctx, filterEvery/2, func(ctx context.Context) {
					if err := pubs.Refresh(ctx); err != nil && ctx.Err() == nil {
						log.Warn("refreshing filters", "err", err)
					}
				})
			},
		},
		close: func() { m.Close(context.Background()) },
	}, nil
}

// publisherConfig reads --filter-rates: name=rate pairs for the public
// filters.
func publisherConfig(rates string) (reputation.PublisherConfig, error) {
	cfg := reputation.DefaultPublisherConfig()
	for _, pair := range splitList(rates) {
		name, v, ok := strings.Cut(pair, "=")
		rate, err := strconv.ParseFloat(v, 64)
		i := slices.IndexFunc(cfg.Filters, func(f reputation.FilterSpec) bool { return f.Name == name })
		if !ok || err != nil || !(rate > 0 && rate < 0.5) || i < 0 {
			return cfg, usageError{fmt.Sprintf("--filter-rates: %q is not <filter>=<rate> with a filter of %v and a rate in (0, 0.5)", pair, reputation.PublicLists)}
		}
		cfg.Filters[i].FPRate = rate
	}
	return cfg, nil
}

// ping is the storage part of /readyz.
func ping(ctx context.Context, m *labels.Mongo) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return m.Ping(ctx)
}

func authMode(project string) string {
	if project != "" {
		return "firebase"
	}
	return "local"
}

// newVerifier returns the Firebase verifier when a project is configured,
// else the local issuer of dataDir, which only serves loopback addresses
// unless forced: its tokens are minted by whoever can read the data
// directory, which is no identity for a public service.
func newVerifier(ctx context.Context, project, dataDir, listen string, force bool, log *slog.Logger) (api.Verifier, error) {
	if project != "" {
		if host := os.Getenv("FIREBASE_AUTH_EMULATOR_HOST"); host != "" {
			log.Warn("FIREBASE_AUTH_EMULATOR_HOST is set: ID tokens are NOT signature-checked; never do this in production", "emulator", host)
		}
		return api.NewFirebaseVerifier(ctx, project)
	}
	if !force && !loopback(listen) {
		return nil, usageError{fmt.Sprintf("refusing to serve local-issuer tokens on non-loopback address %s: configure --firebase-project, or pass --allow-nonloopback to force", listen)}
	}
	return api.LoadOrCreateLocalIssuer(dataDir, time.Now)
}

// loopback reports whether addr listens on loopback only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// envName finds the "(env NAME)" that a flag's usage names.
var envName = regexp.MustCompile(`\(env ([A-Z0-9_]+)\)`)

// applyEnv sets every flag of fs whose usage names an environment variable
// that is set, before the command line is parsed, so that flags win. A bad
// value is an error, never silently the default.
func applyEnv(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		m := envName.FindStringSubmatch(f.Usage)
		if m == nil || err != nil {
			return
		}
		if v, ok := os.LookupEnv(m[1]); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = usageError{fmt.Sprintf("bad %s=%q for --%s: %v", m[1], v, f.Name, e)}
			}
		}
	})
	return err
}

// parse applies the environment and then args to fs, and rejects
// positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := applyEnv(fs); err != nil {
		return err
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s takes no arguments, got %q", fs.Name(), fs.Args())}
	}
	return nil
}

// registerLimits adds the rate-limit flags, defaulting to l's values.
func registerLimits(fs *flag.FlagSet, l *api.Limits) {
	fs.Float64Var(&l.RequestsPerMinute, "rate", l.RequestsPerMinute, "anonymous /v1 requests per minute per client IP (env CALLREP_RATE)")
	fs.IntVar(&l.RequestBurst, "burst", l.RequestBurst, "anonymous request burst per client IP (env CALLREP_BURST)")
	fs.Float64Var(&l.SignedInRequestsPerMinute, "signed-in-rate", l.SignedInRequestsPerMinute, "signed-in /v1 requests per minute per client IP (env CALLREP_SIGNED_IN_RATE)")
	fs.IntVar(&l.SignedInRequestBurst, "signed-in-burst", l.SignedInRequestBurst, "signed-in request burst per client IP (env CALLREP_SIGNED_IN_BURST)")
	fs.Float64Var(&l.ReportsPerMinute, "reports-per-minute", l.ReportsPerMinute, "reports per minute per reporter (env CALLREP_REPORTS_PER_MINUTE)")
	fs.IntVar(&l.ReportBurst, "report-burst", l.ReportBurst, "report burst per reporter (env CALLREP_REPORT_BURST)")
	fs.IntVar(&l.DailyReports, "daily-reports", l.DailyReports, "reports per reporter per UTC day, 0 for no cap (env CALLREP_DAILY_REPORTS)")
	fs.Int64Var(&l.MaxBodyBytes, "max-body", l.MaxBodyBytes, "largest request body in bytes (env CALLREP_MAX_BODY)")
}
