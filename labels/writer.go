package labels

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// One writer. The writer of a store (the process that holds the live
// labels in memory and appends to the history) holds the lease "writer"
// in meta. Unlike the job leases it carries a generation, a fencing
// token: every takeover increments it, so that of two processes that both
// believe they are the writer (one frozen past its lease, then resumed),
// the older generation loses:
//
//   - every report, journal document and snapshot pointer the writer
//     stores carries its generation (writer_gen);
//   - a commit is acknowledged only after its insert, when a read of the
//     lease still shows the writer's generation (Writer.Check): a stale
//     writer's late insert is answered 503, never 201;
//   - at takeover the new writer raises the snapshot pointer's fence to
//     its generation before loading, and a pointer is written only while
//     its fence is at most the writer's generation (a conditional upsert
//     that fails with a duplicate key otherwise), so a stale writer can
//     neither replace the snapshot nor drop journals;
//   - a start replays journal documents of older generations than the
//     snapshot's author only up to that snapshot: the author loaded every
//     acknowledged one before writing it, so what an older generation
//     journaled later was never acknowledged and is ignored, as the
//     author's memory ignored it. A retry with the same client_report_id
//     then stores it as the new writer's (a duplicate applied and
//     journaled again).
//
// A second writer waits as a hot standby (WaitWriter) and takes over
// within one lease period of the first one's death; the embedded store is
// locked to one process anyway and takes the lease at once.

// writerLeaseID is the _id of the writer lease in meta.
const writerLeaseID = "lease:writer"

// ErrFenced is the cause of writes refused because another process took
// the writer lease over.
var ErrFenced = errors.New("labels: another process took over as the writer")

type writerDoc struct {
	ID     string    `bson:"_id"`
	Kind   string    `bson:"kind"`
	Holder string    `bson:"holder"`
	Until  time.Time `bson:"until"`
	Gen    int64     `bson:"gen"`
}

// Writer is this process's hold on the writer lease of generation Gen.
type Writer struct {
	Holder string
	Gen    int64
	meta   *mongo.Collection
	ttl    time.Duration
	now    func() time.Time
}

// WriterInfo describes who holds the writer lease.
type WriterInfo struct {
	Holder string
	Until  time.Time
	Gen    int64
}

// Live reports whether the lease runs at now.
func (w WriterInfo) Live(now time.Time) bool { return w.Holder != "" && now.Before(w.Until) }

// WriterLease returns who holds the writer lease; a zero WriterInfo if
// nobody ever did.
func (l *Leases) WriterLease(ctx context.Context) (WriterInfo, error) {
	var d writerDoc
	err := l.meta.FindOne(ctx, bson.M{"_id": writerLeaseID}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return WriterInfo{}, nil
	}
	if err != nil {
		return WriterInfo{}, fmt.Errorf("labels: unable to read the writer lease: %w", err)
	}
	return WriterInfo{Holder: d.Holder, Until: d.Until.UTC(), Gen: d.Gen}, nil
}

// TakeWriter takes the writer lease for holder if it is free or expired,
// as the next generation. It returns nil and the current holder while
// another's lease runs. With force (for a store that only this process
// can open, so that no other writer can exist) it takes the lease in any
// case and keeps its generation.
func (l *Leases) TakeWriter(ctx context.Context, holder string, ttl time.Duration, now func() time.Time, force bool) (*Writer, WriterInfo, error) {
	filter := bson.M{"_id": writerLeaseID, "until": bson.M{"$lt": now()}}
	update := bson.M{"$set": bson.M{"kind": "lease", "holder": holder, "until": now().Add(ttl)}, "$inc": bson.M{"gen": int64(1)}}
	if force {
		filter = bson.M{"_id": writerLeaseID}
		update = bson.M{"$set": update["$set"], "$setOnInsert": bson.M{"gen": int64(1)}}
	}
	_, err := l.meta.UpdateOne(ctx, filter, update, options.Update().SetUpsert(true))
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return nil, WriterInfo{}, fmt.Errorf("labels: unable to take the writer lease: %w", err)
	}
	info, rerr := l.WriterLease(ctx)
	if rerr != nil {
		return nil, WriterInfo{}, rerr
	}
	if err != nil || info.Holder != holder {
		return nil, info, nil
	}
	return &Writer{Holder: holder, Gen: info.Gen, meta: l.meta, ttl: ttl, now: now}, info, nil
}

// WaitWriter takes the writer lease for holder, waiting as a standby while
// another holds it: it tries again every fifth of ttl, so that it takes
// over within one lease period of the holder's last renewal. waiting is
// called once per holder it waits for. It returns when it holds the lease
// or ctx ends.
func (l *Leases) WaitWriter(ctx context.Context, holder string, ttl time.Duration, now func() time.Time, waiting func(WriterInfo)) (*Writer, error) {
	last := ""
	for {
		w, info, err := l.TakeWriter(ctx, holder, ttl, now, false)
		if w != nil || (err != nil && ctx.Err() != nil) {
			return w, err
		}
		if err == nil && info.Holder != last {
			last = info.Holder
			waiting(info)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(max(ttl/5, 50*time.Millisecond)):
		}
	}
}

// Check fails with ErrFenced unless w's generation still holds the lease:
// a write that landed before it succeeds landed before any takeover.
func (w *Writer) Check(ctx context.Context) error {
	var d writerDoc
	if err := w.meta.FindOne(ctx, bson.M{"_id": writerLeaseID}).Decode(&d); err != nil {
		return fmt.Errorf("labels: unable to check the writer lease: %w", err)
	}
	if d.Gen != w.Gen || d.Holder != w.Holder {
		return fmt.Errorf("%w (%s, generation %d)", ErrFenced, d.Holder, d.Gen)
	}
	return nil
}

// Renew extends the lease by its ttl; ErrFenced if it was taken over.
func (w *Writer) Renew(ctx context.Context) error {
	return w.set(ctx, w.now().Add(w.ttl))
}

// Release ends the lease now, keeping its generation, so that a standby
// takes over at once.
func (w *Writer) Release(ctx context.Context) error {
	return w.set(ctx, time.Unix(0, 0))
}

func (w *Writer) set(ctx context.Context, until time.Time) error {
	res, err := w.meta.UpdateOne(ctx, bson.M{"_id": writerLeaseID, "holder": w.Holder, "gen": w.Gen},
		bson.M{"$set": bson.M{"until": until}})
	if err != nil {
		return fmt.Errorf("labels: unable to renew the writer lease: %w", err)
	}
	if res.MatchedCount == 0 {
		return ErrFenced
	}
	return nil
}

// Run renews the lease every third of its ttl until ctx ends, and calls
// lost once if it finds the lease taken over. Failed renewals are retried
// at the next tick: commits check the lease themselves.
func (w *Writer) Run(ctx context.Context, lost func(error)) {
	t := time.NewTicker(max(w.ttl/3, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, w.ttl/3)
		err := w.Renew(rctx)
		cancel()
		if errors.Is(err, ErrFenced) {
			lost(err)
			return
		}
	}
}
