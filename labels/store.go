package labels

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Store keeps the report history, the live labels and the replay
// watermarks in MongoDB (or the embedded FerretDB).
//
// reports is append-only and is the source of truth. A snapshot of the
// live labels (collection labels_<gen>, pointed at from meta with its
// watermark) makes start-up fast: load it, then replay the reports stored
// since the watermark.
type Store struct {
	db      *mongo.Database
	reports *mongo.Collection
	meta    *mongo.Collection
}

// OpenStore returns the store in db and creates its indexes, which is
// idempotent.
func OpenStore(ctx context.Context, db *mongo.Database) (*Store, error) {
	st := &Store{
		db:      db,
		reports: db.Collection("reports"),
		meta:    db.Collection("meta"),
	}
	idx := []struct {
		coll   *mongo.Collection
		models []mongo.IndexModel
	}{
		{st.reports, []mongo.IndexModel{
			{Keys: bson.D{{Key: "stored_at", Value: 1}, {Key: "_id", Value: 1}}},
			{Keys: bson.D{{Key: "reporter", Value: 1}, {Key: "created_at", Value: 1}}},
			{Keys: bson.D{{Key: "key", Value: 1}, {Key: "created_at", Value: 1}}},
		}},
	}
	for _, x := range idx {
		if err := CreateIndexes(ctx, x.coll, x.models); err != nil {
			return nil, err
		}
	}
	return st, nil
}

type callDoc struct {
	Direction   string     `bson:"direction,omitempty"`
	StartedAt   *time.Time `bson:"started_at,omitempty"`
	DurationS   *int       `bson:"duration_s,omitempty"`
	RingS       *int       `bson:"ring_s,omitempty"`
	Answered    *bool      `bson:"answered,omitempty"`
	RecentCalls *int       `bson:"recent_calls,omitempty"`
	Attestation string     `bson:"attestation,omitempty"`
	Robocall    bool       `bson:"robocall,omitempty"`
}

func toCallDoc(c *Call) *callDoc {
	if c == nil {
		return nil
	}
	return &callDoc{c.Direction, c.StartedAt, c.DurationS, c.RingS, c.Answered, c.RecentCalls, string(c.Attestation), c.Robocall}
}

func (d *callDoc) call() *Call {
	if d == nil {
		return nil
	}
	return &Call{d.Direction, d.StartedAt, d.DurationS, d.RingS, d.Answered, d.RecentCalls, Attestation(d.Attestation), d.Robocall}
}

type reportDoc struct {
	ID             string    `bson:"_id"`
	Kind           Kind      `bson:"kind"`
	Reporter       string    `bson:"reporter"`
	Source         Source    `bson:"source"`
	IPPrefix       string    `bson:"ip_prefix,omitempty"`
	Key            string    `bson:"key"`
	Valid          bool      `bson:"valid"`
	Type           string    `bson:"type,omitempty"`
	Region         string    `bson:"region,omitempty"`
	Category       string    `bson:"category,omitempty"`
	Comment        string    `bson:"comment,omitempty"`
	Call           *callDoc  `bson:"call,omitempty"`
	ClientReportID string    `bson:"client_report_id,omitempty"`
	CreatedAt      time.Time `bson:"created_at"`
	StoredAt       time.Time `bson:"stored_at"`
}

func toReportDoc(r Report) reportDoc {
	return reportDoc{
		ID: r.ID, Kind: r.Kind, Reporter: r.Reporter, Source: r.Source, IPPrefix: r.IPPrefix,
		Key: r.Number.Key, Valid: r.Number.Valid, Type: string(r.Number.Type), Region: r.Number.Region,
		Category: r.Category, Comment: r.Comment, Call: toCallDoc(r.Call),
		ClientReportID: r.ClientReportID, CreatedAt: r.CreatedAt, StoredAt: r.StoredAt,
	}
}

func (d reportDoc) report() Report {
	return Report{
		ID: d.ID, Kind: d.Kind, Reporter: d.Reporter, Source: d.Source, IPPrefix: d.IPPrefix,
		Number:   numberFromKey(d.Key, d.Valid, NumberType(d.Type), d.Region),
		Category: d.Category, Comment: d.Comment, Call: d.Call.call(),
		ClientReportID: d.ClientReportID, CreatedAt: d.CreatedAt.UTC(), StoredAt: d.StoredAt.UTC(),
	}
}

// numberFromKey rebuilds the stored parts of a Number; the display forms
// are recomputed by Normalize when an answer needs them.
func numberFromKey(key string, valid bool, typ NumberType, region string) Number {
	n := Number{Key: key, Valid: valid, Type: typ, Region: region}
	if strings.HasPrefix(key, "+") {
		n.E164 = key
	} else {
		n.Scoped = true
	}
	return n
}

type labelDoc struct {
	ID        string    `bson:"_id"`
	Reporter  string    `bson:"reporter"`
	Key       string    `bson:"key"`
	Valid     bool      `bson:"valid"`
	Type      string    `bson:"type,omitempty"`
	Region    string    `bson:"region,omitempty"`
	Category  string    `bson:"category"`
	Comment   string    `bson:"comment,omitempty"`
	Source    Source    `bson:"source"`
	IPPrefix  string    `bson:"ip_prefix,omitempty"`
	Call      *callDoc  `bson:"call,omitempty"`
	ReportID  string    `bson:"report_id"`
	CreatedAt time.Time `bson:"created_at"`
	FirstAt   time.Time `bson:"first_at"`
}

// labelID is the document id of reporter's label on key. Keys never
// contain spaces, so the last space separates the two.
func labelID(reporter, key string) string { return reporter + " " + key }

func toLabelDoc(l *Label) labelDoc {
	return labelDoc{
		ID: labelID(l.Reporter, l.Key), Reporter: l.Reporter, Key: l.Key, Valid: l.Valid,
		Type: string(l.NumberType), Region: l.Region, Category: l.Category, Comment: l.Comment, Source: l.Source,
		IPPrefix: l.IPPrefix, Call: toCallDoc(l.Call), ReportID: l.ReportID, CreatedAt: l.CreatedAt, FirstAt: l.FirstAt,
	}
}

func (d labelDoc) label() *Label {
	return &Label{
		Reporter: d.Reporter, Key: d.Key, Valid: d.Valid, NumberType: NumberType(d.Type),
		Region: d.Region, Category: d.Category, Comment: d.Comment, Source: d.Source, IPPrefix: d.IPPrefix,
		Call: d.Call.call(), ReportID: d.ReportID, CreatedAt: d.CreatedAt.UTC(), FirstAt: d.FirstAt.UTC(),
	}
}

// Reports returns the stored reports with the given ids, by id; ids not
// stored are missing from the map. It reads them one at a time by _id:
// they are the duplicates of a commit, retries, which are few.
func (st *Store) Reports(ctx context.Context, ids []string) (map[string]Report, error) {
	out := make(map[string]Report, len(ids))
	for _, id := range ids {
		var d reportDoc
		err := st.reports.FindOne(ctx, bson.M{"_id": id}).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("labels: unable to read report %s: %w", id, err)
		}
		out[id] = d.report()
	}
	return out, nil
}

// InsertReports stores rs, skipping ids that exist, so a retried batch
// stores each report once. dup[i] tells that rs[i] existed.
func (st *Store) InsertReports(ctx context.Context, rs []Report) (dup []bool, err error) {
	docs := make([]any, len(rs))
	for i, r := range rs {
		docs[i] = toReportDoc(r)
	}
	dup, err = InsertNew(ctx, st.reports, docs)
	if err != nil {
		return nil, fmt.Errorf("labels: unable to insert reports: %w", err)
	}
	return dup, nil
}

// insertChunk is how many documents one insertMany carries. Inserts are
// not subject to the bulk-update hang (see MaxBulkOps).
const insertChunk = 1000

// InsertNew inserts docs unordered in chunks; dup[i] reports that docs[i]
// was refused as a duplicate key. Any other write error fails the call.
func InsertNew(ctx context.Context, coll *mongo.Collection, docs []any) (dup []bool, err error) {
	dup = make([]bool, len(docs))
	for start := 0; start < len(docs); start += insertChunk {
		end := min(start+insertChunk, len(docs))
		_, err := coll.InsertMany(ctx, docs[start:end], options.InsertMany().SetOrdered(false))
		if err == nil {
			continue
		}
		var bwe mongo.BulkWriteException
		if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
			return nil, err
		}
		for _, we := range bwe.WriteErrors {
			if we.Code != 11000 {
				return nil, err
			}
			dup[start+we.Index] = true
		}
	}
	return dup, nil
}

// EachReportSince calls fn for every report stored at or after since, in
// the order they were stored.
func (st *Store) EachReportSince(ctx context.Context, since time.Time, fn func(Report)) error {
	filter := bson.M{}
	if !since.IsZero() {
		filter["stored_at"] = bson.M{"$gte": since}
	}
	opts := options.Find().SetSort(bson.D{{Key: "stored_at", Value: 1}, {Key: "_id", Value: 1}}).SetBatchSize(5000)
	return each(ctx, st.reports, filter, opts, "reports", func(d reportDoc) { fn(d.report()) })
}

// each streams the documents of coll matching filter to fn.
func each[T any](ctx context.Context, coll *mongo.Collection, filter any, opts *options.FindOptions, what string, fn func(T)) error {
	cur, err := coll.Find(ctx, filter, opts)
	if err != nil {
		return fmt.Errorf("labels: unable to read %s: %w", what, err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var d T
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("labels: unable to decode %s: %w", what, err)
		}
		fn(d)
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("labels: unable to read %s: %w", what, err)
	}
	return nil
}

// snapshotDoc in meta points at the current labels snapshot.
type snapshotDoc struct {
	ID         string    `bson:"_id"`
	Gen        int64     `bson:"gen"`
	Collection string    `bson:"collection"`
	Watermark  time.Time `bson:"watermark"`
	Labels     int       `bson:"labels"`
	At         time.Time `bson:"at"`
}

const snapshotID = "labels_snapshot"

func snapshotName(gen int64) string { return fmt.Sprintf("labels_%d", gen) }

// Snapshot describes the labels snapshot in storage.
type Snapshot struct {
	// Gen numbers snapshots; 0 means there is none.
	Gen int64
	// Collection holds the snapshot's labels.
	Collection string
	// Watermark: every report stored before it is reflected.
	Watermark time.Time
	Labels    int
}

// CurrentSnapshot returns the current snapshot; Gen 0 when there is none.
func (st *Store) CurrentSnapshot(ctx context.Context) (Snapshot, error) {
	var d snapshotDoc
	err := st.meta.FindOne(ctx, bson.M{"_id": snapshotID}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Snapshot{}, nil
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("labels: unable to read snapshot pointer: %w", err)
	}
	return Snapshot{Gen: d.Gen, Collection: d.Collection, Watermark: d.Watermark.UTC(), Labels: d.Labels}, nil
}

// EachLabel calls fn for every label of snapshot sn.
func (st *Store) EachLabel(ctx context.Context, sn Snapshot, fn func(*Label)) error {
	if sn.Gen == 0 {
		return nil
	}
	return each(ctx, st.db.Collection(sn.Collection), bson.M{}, options.Find().SetBatchSize(5000), "labels",
		func(d labelDoc) { fn(d.label()) })
}

// WriteSnapshot stores ls as snapshot gen with its watermark, points meta
// at it and drops the previous one. It only inserts into a fresh
// collection and replaces one small document: updating labels in place
// costs FerretDB's SQLite backend a scan per document. A crash at any step
// leaves the previous snapshot current and the next attempt starts over.
func (st *Store) WriteSnapshot(ctx context.Context, gen int64, ls []*Label, watermark time.Time, now time.Time) error {
	prev, err := st.CurrentSnapshot(ctx)
	if err != nil {
		return err
	}
	coll := st.db.Collection(snapshotName(gen))
	if err := coll.Drop(ctx); err != nil { // a leftover of a failed attempt
		return fmt.Errorf("labels: unable to clear snapshot: %w", err)
	}
	docs := make([]any, len(ls))
	for i, l := range ls {
		docs[i] = toLabelDoc(l)
	}
	if dup, err := InsertNew(ctx, coll, docs); err != nil {
		return fmt.Errorf("labels: unable to write snapshot: %w", err)
	} else if slices.Contains(dup, true) {
		return fmt.Errorf("labels: snapshot %d has duplicate labels", gen)
	}
	d := snapshotDoc{ID: snapshotID, Gen: gen, Collection: coll.Name(), Watermark: watermark, Labels: len(ls), At: now}
	if _, err := st.meta.ReplaceOne(ctx, bson.M{"_id": snapshotID}, d, options.Replace().SetUpsert(true)); err != nil {
		return fmt.Errorf("labels: unable to point at snapshot: %w", err)
	}
	if prev.Gen != 0 && prev.Collection != coll.Name() {
		if err := st.db.Collection(prev.Collection).Drop(ctx); err != nil {
			return fmt.Errorf("labels: unable to drop old snapshot: %w", err)
		}
	}
	return nil
}

// Pseudonymise rewrites reporter's history under pseudonym and drops the
// comments and network prefixes, which could identify them.
func (st *Store) Pseudonymise(ctx context.Context, reporter, pseudonym string) (int, error) {
	res, err := st.reports.UpdateMany(ctx, bson.M{"reporter": reporter}, bson.M{
		"$set":   bson.M{"reporter": pseudonym},
		"$unset": bson.M{"comment": "", "ip_prefix": "", "client_report_id": ""},
	})
	if err != nil {
		return 0, fmt.Errorf("labels: unable to pseudonymise reports: %w", err)
	}
	return int(res.ModifiedCount), nil
}
