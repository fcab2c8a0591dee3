package labels

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// journal is where every stored report is also written: one
	// collection per snapshot period (journal_<n>), so that a start
	// replays what came after the snapshot by reading a small collection
	// whole. The embedded FerretDB serves only queries on _id from an
	// index; a query on stored_at would scan the whole history.
	// On FerretDB the journals have a database of their own (see
	// JournalDatabase); journals written before that stay in db, read and
	// dropped alike.
	jdb       *mongo.Database
	journalMu sync.Mutex
	journal   *mongo.Collection
	journalN  int64
	// gen is the writer generation stamped on every write (see
	// writer.go); 0 before BecomeWriter.
	gen int64
	// quotaSwept is the last day whose earlier quota ledgers AddQuota
	// dropped (quota.go): once a day, not at every write.
	quotaSwept atomic.Int64
}

// journalPrefix names the journal collections.
const journalPrefix = "journal_"

func journalName(n int64) string { return fmt.Sprintf("%s%d", journalPrefix, n) }

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
	jdb, err := JournalDatabase(ctx, db)
	if err != nil {
		return nil, err
	}
	st.jdb = jdb
	// Each process writes a journal of its own, after any existing one.
	if err := st.rotateAfterJournals(ctx); err != nil {
		return nil, err
	}
	return st, nil
}

// JournalDatabase is where the journals of db are written. On FerretDB it
// is a database of its own, which the SQLite backend keeps in a file of
// its own: a commit's journal insert then runs beside the next commit's
// history insert instead of waiting for the same write lock (see
// commit.go). On MongoDB it is db.
func JournalDatabase(ctx context.Context, db *mongo.Database) (*mongo.Database, error) {
	ferret, err := IsFerretDB(ctx, db)
	if err != nil || !ferret {
		return db, err
	}
	return db.Client().Database(db.Name() + "_journal"), nil
}

// rotateAfterJournals starts a journal after every existing one.
func (st *Store) rotateAfterJournals(ctx context.Context) error {
	journals, err := st.journals(ctx)
	if err != nil {
		return err
	}
	last := int64(0)
	for _, j := range journals {
		last = max(last, j.n)
	}
	st.rotateJournal(last + 1)
	return nil
}

// BecomeWriter makes w's generation the one stamped on every write of
// st, raises the snapshot pointer's fence to it, so that no older
// generation can replace the pointer from now on, and starts a journal
// after every existing one. Call it before loading the labels.
func (st *Store) BecomeWriter(ctx context.Context, w *Writer) error {
	st.gen = w.Gen
	_, err := st.meta.UpdateOne(ctx, pointerFenced("$lt", w.Gen), bson.M{"$set": bson.M{"fence": w.Gen}})
	if err != nil {
		return fmt.Errorf("labels: unable to fence the snapshot pointer: %w", err)
	}
	return st.rotateAfterJournals(ctx)
}

// journalRef is one journal collection in storage.
type journalRef struct {
	n    int64
	coll *mongo.Collection
}

// journals lists the journal collections in storage by number.
func (st *Store) journals(ctx context.Context) ([]journalRef, error) {
	dbs := []*mongo.Database{st.jdb}
	if st.db != st.jdb {
		dbs = append(dbs, st.db) // journals written before they moved
	}
	var out []journalRef
	for _, db := range dbs {
		names, err := db.ListCollectionNames(ctx, bson.M{"name": bson.M{"$regex": "^" + journalPrefix}})
		if err != nil {
			return nil, fmt.Errorf("labels: unable to list journals: %w", err)
		}
		for _, name := range names {
			if n, err := strconv.ParseInt(strings.TrimPrefix(name, journalPrefix), 10, 64); err == nil {
				out = append(out, journalRef{n, db.Collection(name)})
			}
		}
	}
	slices.SortFunc(out, func(a, b journalRef) int { return cmp.Compare(a.n, b.n) })
	return out, nil
}

// rotateJournal makes journal_<n> the one written from now on.
func (st *Store) rotateJournal(n int64) {
	st.journalMu.Lock()
	defer st.journalMu.Unlock()
	st.journal, st.journalN = st.jdb.Collection(journalName(n)), n
}

// currentJournal returns the journal written now and its number.
func (st *Store) currentJournal() (*mongo.Collection, int64) {
	st.journalMu.Lock()
	defer st.journalMu.Unlock()
	return st.journal, st.journalN
}

// writeJournal copies stored reports into the journal, all of them in
// one document: the cost of an insert is mostly per document, so the
// journal adds one small insert per commit rather than one per report.
// rs must be the stored versions. The journal is written after the
// history: a report there is in the history too. A retried write may
// journal a report twice, which the idempotent replay does not mind.
//
// The reports travel packed, as one BSON binary: as nested documents the
// embedded FerretDB converted each field and its type description to JSON
// and SQLite parsed them, a third of a commit's time for a copy nothing
// queries.
func (st *Store) writeJournal(ctx context.Context, rs []reportDoc) error {
	if len(rs) == 0 {
		return nil
	}
	j, _ := st.currentJournal()
	p := packedReports{Reports: make([]reportDoc, len(rs))}
	for i := range rs {
		p.Reports[i] = rs[i]
		p.Reports[i].Comment, p.Reports[i].ClientReportID = "", "" // memory needs neither
	}
	b, err := bson.Marshal(p)
	if err != nil {
		return fmt.Errorf("labels: unable to pack journal entry: %w", err)
	}
	if _, err := j.InsertOne(ctx, journalDoc{ID: randomID(12), Gen: st.gen, Packed: b}); err != nil {
		return fmt.Errorf("labels: unable to journal reports: %w", err)
	}
	return nil
}

// journalDoc is one commit's reports in a journal: packed, or as the
// nested documents that journals written before packing hold.
type journalDoc struct {
	ID      string      `bson:"_id"`
	Gen     int64       `bson:"writer_gen,omitempty"`
	Packed  []byte      `bson:"packed,omitempty"`
	Reports []reportDoc `bson:"reports,omitempty"`
}

// packedReports is the BSON document of journalDoc.Packed.
type packedReports struct {
	Reports []reportDoc `bson:"r"`
}

// reports returns the reports of d, unpacked.
func (d journalDoc) reports() ([]reportDoc, error) {
	if len(d.Packed) == 0 {
		return d.Reports, nil
	}
	var p packedReports
	if err := bson.Unmarshal(d.Packed, &p); err != nil {
		return nil, fmt.Errorf("labels: journal entry %s does not unpack: %w", d.ID, err)
	}
	return append(d.Reports, p.Reports...), nil
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
	WriterGen      int64     `bson:"writer_gen,omitempty"`
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
		writerGen: d.WriterGen,
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

func (d labelDoc) label() *Label {
	return &Label{
		Reporter: d.Reporter, Key: d.Key, Valid: d.Valid, NumberType: NumberType(d.Type),
		Region: d.Region, Category: d.Category, Comment: d.Comment, Source: d.Source, IPPrefix: d.IPPrefix,
		Call: d.Call.call(), ReportID: d.ReportID, CreatedAt: d.CreatedAt.UTC(), FirstAt: d.FirstAt.UTC(),
	}
}

// Reports returns the stored reports with the given ids, by id; ids not
// stored are missing from the map. It reads them by _id, readersByID at a
// time (a find with $in is not one indexed read on FerretDB): they are the
// duplicates of a commit, retries, which are few.
func (st *Store) Reports(ctx context.Context, ids []string) (map[string]Report, error) {
	docs := make([]*reportDoc, len(ids))
	err := InParallel(len(ids), readersByID, func(i int) error {
		var d reportDoc
		err := st.reports.FindOne(ctx, bson.M{"_id": ids[i]}).Decode(&d)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
		case err != nil:
			return fmt.Errorf("labels: unable to read report %s: %w", ids[i], err)
		default:
			docs[i] = &d
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]Report, len(ids))
	for i, d := range docs {
		if d != nil {
			out[ids[i]] = d.report()
		}
	}
	return out, nil
}

// readersByID is how many reads by id Reports has in flight. Each is one
// indexed read, but FerretDB takes about 0.8 ms for one under a report
// flood (a commit with 7 retries among its reports read them for 6 ms one
// after another; 8 at a time, 4.5 ms), and its reads run beside the
// inserts.
const readersByID = 8

// InsertReports stores rs in the history and journals the new ones,
// skipping ids that exist, so a retried batch stores each report once.
// dup[i] tells that rs[i] existed.
func (st *Store) InsertReports(ctx context.Context, rs []Report) (dup []bool, err error) {
	if dup, err = st.insertHistory(ctx, rs); err != nil {
		return nil, err
	}
	var fresh []Report
	for i, r := range rs {
		if !dup[i] {
			fresh = append(fresh, r)
		}
	}
	return dup, st.journalReports(ctx, fresh)
}

// insertHistory stores rs in the history only; see InsertReports.
func (st *Store) insertHistory(ctx context.Context, rs []Report) (dup []bool, err error) {
	docs := make([]any, len(rs))
	for i, r := range rs {
		d := toReportDoc(r)
		d.WriterGen = st.gen
		docs[i] = d
	}
	if dup, err = InsertNew(ctx, st.reports, docs); err != nil {
		return nil, fmt.Errorf("labels: unable to insert reports: %w", err)
	}
	return dup, nil
}

// journalReports journals reports stored in the history: new ones, and
// duplicates applied from their stored versions (the attempt that stored
// them may have failed before its journal write).
func (st *Store) journalReports(ctx context.Context, rs []Report) error {
	docs := make([]reportDoc, len(rs))
	for i, r := range rs {
		docs[i] = toReportDoc(r)
	}
	return st.writeJournal(ctx, docs)
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

// eachJournaled calls fn for every report of the journals from n on that
// was stored at or after since, skipping what writer generations older
// than gen journaled (see writer.go). The journals are small (a snapshot
// period or two) and read whole.
func (st *Store) eachJournaled(ctx context.Context, n int64, since time.Time, gen int64, fn func(Report)) error {
	journals, err := st.journals(ctx)
	if err != nil {
		return err
	}
	for _, j := range journals {
		if j.n < n {
			continue
		}
		// A document holds up to a commit's or an import batch's reports
		// (a few hundred KB): a few to a reply.
		var bad error
		err := each(ctx, j.coll, bson.M{}, options.Find().SetBatchSize(16), "journal",
			func(d journalDoc) {
				if d.Gen < gen || bad != nil {
					return
				}
				rs, err := d.reports()
				if err != nil {
					bad = err
					return
				}
				for _, r := range rs {
					if !r.StoredAt.Before(since) {
						fn(r.report())
					}
				}
			})
		if err == nil {
			err = bad
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// dropJournals drops the journals before n.
func (st *Store) dropJournals(ctx context.Context, n int64) error {
	journals, err := st.journals(ctx)
	if err != nil {
		return err
	}
	for _, j := range journals {
		if j.n < n {
			if err := j.coll.Drop(ctx); err != nil {
				return fmt.Errorf("labels: unable to drop journal %d: %w", j.n, err)
			}
		}
	}
	return nil
}

// EachReportSince calls fn for every report stored at or after since, in
// the order they were stored. On the embedded store it reads the whole
// history; starts replay journals instead.
func (st *Store) EachReportSince(ctx context.Context, since time.Time, fn func(Report)) error {
	filter := bson.M{}
	if !since.IsZero() {
		filter["stored_at"] = bson.M{"$gte": since}
	}
	opts := options.Find().SetSort(bson.D{{Key: "stored_at", Value: 1}, {Key: "_id", Value: 1}}).SetBatchSize(5000)
	return each(ctx, st.reports, filter, opts, "reports", func(d reportDoc) { fn(d.report()) })
}

// EachReportOf calls fn for every report of reporter, oldest first.
func (st *Store) EachReportOf(ctx context.Context, reporter string, fn func(Report)) error {
	opts := options.Find().SetSort(bson.D{{Key: "reporter", Value: 1}, {Key: "created_at", Value: 1}}).SetBatchSize(1000)
	return each(ctx, st.reports, bson.M{"reporter": reporter}, opts, "reports", func(d reportDoc) { fn(d.report()) })
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
	// Format is 0 for a legacy snapshot of one document per label, else
	// the version of its binary chunks.
	Format int `bson:"format,omitempty"`
	// Journal is the first journal the replay reads (it reads all after
	// it too): the one written from the watermark on, or the one before
	// when reports were in flight then. 0 for a snapshot from before
	// journals.
	Journal int64 `bson:"journal,omitempty"`
	// WriterGen is the generation of the writer that wrote the snapshot;
	// Fence the newest generation that may replace it (see writer.go).
	WriterGen int64 `bson:"writer_gen,omitempty"`
	Fence     int64 `bson:"fence,omitempty"`
}

const snapshotID = "labels_snapshot"

// pointerFenced matches the snapshot pointer while it has no fence or its
// fence compares to gen by op ("$lt", "$lte").
func pointerFenced(op string, gen int64) bson.M {
	return bson.M{"_id": snapshotID, "$or": bson.A{bson.M{"fence": bson.M{op: gen}}, bson.M{"fence": bson.M{"$exists": false}}}}
}

// snapshotName names snapshot gen of writer generation wgen: two writers
// never write into one collection.
func snapshotName(gen, wgen int64) string {
	if wgen == 0 {
		return fmt.Sprintf("labels_%d", gen)
	}
	return fmt.Sprintf("labels_%d_w%d", gen, wgen)
}

// Snapshot describes the labels snapshot in storage.
type Snapshot struct {
	// Gen numbers snapshots; 0 means there is none.
	Gen int64
	// Collection holds the snapshot's labels.
	Collection string
	// Watermark: every report stored before it is reflected.
	Watermark time.Time
	Labels    int
	Format    int
	Journal   int64
	// WriterGen is the writer generation that wrote it.
	WriterGen int64
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
	return Snapshot{Gen: d.Gen, Collection: d.Collection, Watermark: d.Watermark.UTC(), Labels: d.Labels, Format: d.Format, Journal: d.Journal, WriterGen: d.WriterGen}, nil
}

// EachLabel calls fn for every label of snapshot sn (see Label for what
// a label read back from the live state has).
func (st *Store) EachLabel(ctx context.Context, sn Snapshot, fn func(*Label)) error {
	return st.eachSnapshot(ctx, sn, func(n Number, r liveRec) {
		fn(recLabel(n.Key, &r))
	})
}

// chunkDoc is one chunk of a binary labels snapshot (snapshot.go).
type chunkDoc struct {
	Seq  int    `bson:"_id"`
	Data []byte `bson:"data"`
}

// eachSnapshot streams the records of sn: binary chunks, one document per
// batch (a chunk is a few MB and a reply must stay under the wire limit),
// or the label documents of a legacy snapshot.
func (st *Store) eachSnapshot(ctx context.Context, sn Snapshot, fn func(Number, liveRec)) error {
	if sn.Gen == 0 {
		return nil
	}
	coll := st.db.Collection(sn.Collection)
	if sn.Format == 0 {
		return each(ctx, coll, bson.M{}, options.Find().SetBatchSize(5000), "labels", func(d labelDoc) {
			l := d.label()
			fn(numberFromKey(l.Key, l.Valid, l.NumberType, l.Region), recOfLabel(l))
		})
	}
	// Chunks are read four per batch, in whatever order storage keeps
	// them (a sort would make FerretDB read them all before the first),
	// and the next is read while one is decoded.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan chunkDoc, 1)
	read := make(chan error, 1)
	go func() {
		defer close(chunks)
		read <- each(ctx, coll, bson.M{}, options.Find().SetBatchSize(4), "labels snapshot", func(d chunkDoc) {
			select {
			case chunks <- d:
			case <-ctx.Done():
			}
		})
	}()
	var derr error
	for d := range chunks {
		if derr == nil {
			if derr = decodeChunk(d.Data, fn); derr != nil {
				derr = fmt.Errorf("%w (chunk %d of %s)", derr, d.Seq, sn.Collection)
				cancel()
			}
		}
	}
	if err := <-read; err != nil && derr == nil {
		return err
	}
	return derr
}

// WriteSnapshot stores ls as snapshot gen; see writeSnapshot.
func (st *Store) WriteSnapshot(ctx context.Context, gen int64, ls []*Label, watermark time.Time, now time.Time) error {
	_, err := st.writeSnapshot(ctx, gen, watermark, now, 0, func(put func(*chunkWriter) error) error {
		w := newChunkWriter()
		for _, l := range ls {
			s := &slot{recs: []liveRec{recOfLabel(l)}}
			w.slot(l.Key, s)
			if w.full() {
				if err := put(w); err != nil {
					return err
				}
				w = newChunkWriter()
			}
		}
		return put(w)
	})
	return err
}

// writeSnapshot stores the chunks that fill puts as snapshot gen with its
// watermark, points meta at it and drops the previous one. It only inserts
// into a fresh collection and replaces one small document: updating labels
// in place costs FerretDB's SQLite backend a scan per document. A crash at
// any step leaves the previous snapshot current and the next attempt
// starts over. It returns the number of labels written.
func (st *Store) writeSnapshot(ctx context.Context, gen int64, watermark, now time.Time, journal int64, fill func(put func(*chunkWriter) error) error) (int, error) {
	prev, err := st.CurrentSnapshot(ctx)
	if err != nil {
		return 0, err
	}
	coll := st.db.Collection(snapshotName(gen, st.gen))
	if err := coll.Drop(ctx); err != nil { // a leftover of a failed attempt
		return 0, fmt.Errorf("labels: unable to clear snapshot: %w", err)
	}
	seq, total := 0, 0
	err = fill(func(w *chunkWriter) error {
		if w.labels == 0 && seq > 0 {
			return nil
		}
		if _, err := coll.InsertOne(ctx, chunkDoc{Seq: seq, Data: w.buf}); err != nil {
			return fmt.Errorf("labels: unable to write snapshot: %w", err)
		}
		seq++
		total += w.labels
		return nil
	})
	if err != nil {
		return 0, err
	}
	d := snapshotDoc{ID: snapshotID, Gen: gen, Collection: coll.Name(), Watermark: watermark, Labels: total, At: now,
		Format: snapshotVersion, Journal: journal, WriterGen: st.gen, Fence: st.gen}
	// Only while no newer writer fenced it: otherwise the filter matches
	// nothing and the upsert's insert fails with a duplicate key.
	_, err = st.meta.ReplaceOne(ctx, pointerFenced("$lte", st.gen), d, options.Replace().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		_ = coll.Drop(ctx)
		return 0, fmt.Errorf("labels: snapshot refused: %w", ErrFenced)
	}
	if err != nil {
		return 0, fmt.Errorf("labels: unable to point at snapshot: %w", err)
	}
	if prev.Gen != 0 && prev.Collection != coll.Name() {
		if err := st.db.Collection(prev.Collection).Drop(ctx); err != nil {
			return 0, fmt.Errorf("labels: unable to drop old snapshot: %w", err)
		}
	}
	if journal > 0 {
		if err := st.dropJournals(ctx, journal); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// ReportIDsOf returns the ids of reporter's reports, in one read.
func (st *Store) ReportIDsOf(ctx context.Context, reporter string) ([]string, error) {
	var ids []string
	opts := options.Find().SetProjection(bson.M{"_id": 1}).SetBatchSize(5000)
	err := each(ctx, st.reports, bson.M{"reporter": reporter}, opts, "report ids", func(d struct {
		ID string `bson:"_id"`
	}) {
		ids = append(ids, d.ID)
	})
	return ids, err
}

// Pseudonymise rewrites the reports with the given ids (at most
// MaxBulkOps) under pseudonym and drops their comments and network
// prefixes, which could identify the reporter; it returns how many it
// changed. The writes select by _id, the only filter the embedded FerretDB
// does not answer by scanning the collection.
func (st *Store) Pseudonymise(ctx context.Context, ids []string, pseudonym string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	if len(ids) > MaxBulkOps {
		return 0, fmt.Errorf("labels: %d reports to pseudonymise at once, at most %d", len(ids), MaxBulkOps)
	}
	update := bson.M{
		"$set":   bson.M{"reporter": pseudonym},
		"$unset": bson.M{"comment": "", "ip_prefix": "", "client_report_id": ""},
	}
	models := make([]mongo.WriteModel, len(ids))
	for i, id := range ids {
		models[i] = mongo.NewUpdateOneModel().SetFilter(bson.M{"_id": id}).SetUpdate(update)
	}
	res, err := st.reports.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	if err != nil {
		return 0, fmt.Errorf("labels: unable to pseudonymise reports: %w", err)
	}
	return int(res.ModifiedCount), nil
}
