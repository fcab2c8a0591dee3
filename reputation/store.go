package reputation

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/callrep/callrep/labels"
)

// Store persists the reputations, for tools and replicas that read storage
// rather than memory. The in-memory Engine is the authority; storage is
// rewritten from it (Rebuild) after each rescore, with inserts only: a
// FerretDB run as its own process scans a collection for every update.
//
// A rewrite is a generation: a collection reputations_<gen> of bucket
// documents {_id: bucket, data}, where data is the BSON documents of the
// bucket's numbers one after the other, and a number's bucket is
// FNV-1a-64(key) mod the generation's bucket count (a power of two, about
// one bucket per bucketSize numbers). A read is one _id lookup, the only
// query FerretDB answers without a scan, and a rewrite inserts a
// sixteenth of the documents one per number would take. The meta document
// names the current generation; it moves only once the new one is
// complete, so readers never see a half-written rewrite, and the old one
// is dropped after. Stores written before generations keep one document
// per number in "reputations", read until the first rewrite.
//
// Between rewrites, the writer appends every changed reputation to
// reputation_log (insert-only); lookup replicas tail it, and a read takes
// the newest log entry of a key before the rewritten one.
type Store struct {
	db     *mongo.Database
	legacy *mongo.Collection
	log    *mongo.Collection
	meta   *mongo.Collection

	now  func() time.Time
	mu   sync.Mutex
	cur  *generation // nil until read; zero Gen: none yet (legacy)
	read time.Time   // when cur was read
}

// genTTL is how long a reader trusts the generation it read: a lookup
// replica sees a rewrite at most this late.
const genTTL = 5 * time.Second

// generation is the meta document naming the current rewrite.
type generation struct {
	ID      string    `bson:"_id"`
	Gen     int64     `bson:"gen"`
	Buckets uint32    `bson:"buckets"`
	Count   int64     `bson:"count"`
	Built   time.Time `bson:"built"`
}

const (
	currentGen = "current"
	// bucketSize is the numbers a bucket holds on average.
	bucketSize = 16
	// rewriteBatch is the encoded bytes a rewrite inserts at once.
	rewriteBatch = 1 << 20
)

// OpenStore returns the store in db and creates its indexes.
func OpenStore(ctx context.Context, db *mongo.Database) (*Store, error) {
	st := &Store{db: db, legacy: db.Collection("reputations"), log: db.Collection("reputation_log"), meta: db.Collection("reputation_meta"), now: time.Now}
	err := labels.CreateIndexes(ctx, st.log, []mongo.IndexModel{
		{Keys: bson.D{{Key: "at", Value: 1}, {Key: "seq", Value: 1}}},
		{Keys: bson.D{{Key: "key", Value: 1}, {Key: "at", Value: -1}}},
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (g *generation) coll(db *mongo.Database) *mongo.Collection {
	return db.Collection("reputations_" + strconv.FormatInt(g.Gen, 10))
}

// bucketOf returns key's bucket among n, a power of two.
func bucketOf(key string, n uint32) uint32 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return uint32(h.Sum64() & uint64(n-1))
}

// bucketsFor returns the bucket count for n numbers.
func bucketsFor(n int) uint32 {
	b := max(1, (n+bucketSize-1)/bucketSize)
	return 1 << bits.Len(uint(b-1))
}

// generation returns the current generation, read from storage when
// fresh is set or what is cached is older than genTTL.
func (st *Store) generation(ctx context.Context, fresh bool) (*generation, error) {
	now := st.now()
	st.mu.Lock()
	g, read := st.cur, st.read
	st.mu.Unlock()
	if g != nil && !fresh && now.Sub(read) < genTTL {
		return g, nil
	}
	g = &generation{}
	err := st.meta.FindOne(ctx, bson.M{"_id": currentGen}).Decode(g)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("reputation: unable to read the current generation: %w", err)
	}
	st.mu.Lock()
	st.cur, st.read = g, now
	st.mu.Unlock()
	return g, nil
}

// logDoc is one flush of changed reputations, packed as a bucket is (the
// entries' BSON back to back, each with its key as _id), with the keys
// beside for Get's query. As one document per reputation, a flush under
// report load (a thousand numbers every half second) held the embedded
// store's write lock for 100–300 ms, which every report waited out; a
// document holds at most rewriteBatch bytes. Logs written before packing
// hold one reputation a document (Key and Rep), read alike.
type logDoc struct {
	At   time.Time      `bson:"at"`
	Seq  int64          `bson:"seq"` // of the first entry; the next ones count on
	Keys []string       `bson:"keys,omitempty"`
	Data []byte         `bson:"data,omitempty"`
	Key  string         `bson:"key,omitempty"`
	Rep  *reputationDoc `bson:"rep,omitempty"`
}

// each calls fn with every entry of d and its sequence number.
func (d *logDoc) each(fn func(seq int64, key string, rep *reputationDoc) error) error {
	if d.Rep != nil {
		return fn(d.Seq, d.Key, d.Rep)
	}
	i := int64(0)
	return eachEntry(d.Data, func(raw bson.Raw) error {
		var rep reputationDoc
		if err := bson.Unmarshal(raw, &rep); err != nil {
			return err
		}
		i++
		return fn(d.Seq+i-1, rep.Key, &rep)
	})
}

// Append adds the current reputations of changed numbers to the log; a
// number that lost its last label is logged as unknown with no reporters.
func (st *Store) Append(ctx context.Context, rs []Result, at time.Time, seq int64) error {
	var docs []any
	d := logDoc{At: at, Seq: seq}
	for i, r := range rs {
		var err error
		if d.Data, err = bson.MarshalAppend(d.Data, toDoc(r)); err != nil {
			return fmt.Errorf("reputation: unable to encode %s: %w", r.Number.Key, err)
		}
		d.Keys = append(d.Keys, r.Number.Key)
		if len(d.Data) >= rewriteBatch || i == len(rs)-1 {
			docs = append(docs, d)
			d = logDoc{At: at, Seq: seq + int64(i) + 1}
		}
	}
	// A few megabytes an insert: a flush of a million changes (a rescore's)
	// holds the write lock a moment at a time.
	for start := 0; start < len(docs); start += logInsertDocs {
		if _, err := labels.InsertNew(ctx, st.log, docs[start:min(start+logInsertDocs, len(docs))]); err != nil {
			return fmt.Errorf("reputation: unable to append reputations: %w", err)
		}
	}
	return nil
}

// logInsertDocs is how many log documents (of up to rewriteBatch bytes)
// one insert carries.
const logInsertDocs = 4

// LogEntry is one logged reputation.
type LogEntry struct {
	Result Result
	At     time.Time
	Seq    int64
}

// LogSince returns the log entries at or after since, oldest first.
func (st *Store) LogSince(ctx context.Context, since time.Time) ([]LogEntry, error) {
	// A flush is at most rewriteBatch bytes: a few to a reply.
	cur, err := st.log.Find(ctx, bson.M{"at": bson.M{"$gte": since}},
		options.Find().SetSort(bson.D{{Key: "at", Value: 1}, {Key: "seq", Value: 1}}).SetBatchSize(8))
	if err != nil {
		return nil, fmt.Errorf("reputation: unable to read the reputation log: %w", err)
	}
	defer cur.Close(ctx)
	var out []LogEntry
	for cur.Next(ctx) {
		var d logDoc
		err := cur.Decode(&d)
		if err == nil {
			err = d.each(func(seq int64, key string, rep *reputationDoc) error {
				out = append(out, LogEntry{Result: rep.result(key), At: d.At.UTC(), Seq: seq})
				return nil
			})
		}
		if err != nil {
			return nil, fmt.Errorf("reputation: unable to read the reputation log: %w", err)
		}
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("reputation: unable to read the reputation log: %w", err)
	}
	return out, nil
}

// Get returns the stored reputation of key: its newest log entry, else its
// rewritten one; ok is false when neither exists.
func (st *Store) Get(ctx context.Context, key string) (Result, bool, error) {
	var ld logDoc
	err := st.log.FindOne(ctx, bson.M{"$or": bson.A{bson.M{"keys": key}, bson.M{"key": key}}},
		options.FindOne().SetSort(bson.D{{Key: "at", Value: -1}, {Key: "seq", Value: -1}})).Decode(&ld)
	if err == nil {
		var found *reputationDoc
		err = ld.each(func(_ int64, k string, rep *reputationDoc) error {
			if k == key {
				found = rep
			}
			return nil
		})
		if err == nil && found != nil {
			return found.result(key), found.Reporters > 0, nil
		}
		if err == nil {
			err = fmt.Errorf("a log entry listing %s does not hold it", key)
		}
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return Result{}, false, fmt.Errorf("reputation: unable to read the reputation log: %w", err)
	}
	d, ok, err := st.rewritten(ctx, key)
	if err != nil || !ok {
		return Result{}, false, err
	}
	return d.result(key), true, nil
}

// rewritten reads key from the current rewrite. A bucket missing from a
// cached generation may mean a newer one replaced it: the generation is
// read again once.
func (st *Store) rewritten(ctx context.Context, key string) (reputationDoc, bool, error) {
	var d reputationDoc
	for _, fresh := range []bool{false, true} {
		g, err := st.generation(ctx, fresh)
		if err != nil {
			return d, false, err
		}
		if g.Gen == 0 {
			err := st.legacy.FindOne(ctx, bson.M{"_id": key}).Decode(&d)
			if errors.Is(err, mongo.ErrNoDocuments) {
				continue
			}
			if err != nil {
				return d, false, fmt.Errorf("reputation: unable to read reputation: %w", err)
			}
			return d, true, nil
		}
		var b bucketDoc
		err = g.coll(st.db).FindOne(ctx, bson.M{"_id": int64(bucketOf(key, g.Buckets))}).Decode(&b)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return d, false, fmt.Errorf("reputation: unable to read reputation: %w", err)
		}
		found := false
		err = eachEntry(b.Data, func(raw bson.Raw) error {
			if k, _ := raw.Lookup("_id").StringValueOK(); k == key {
				found = true
				return bson.Unmarshal(raw, &d)
			}
			return nil
		})
		if err != nil {
			return d, false, fmt.Errorf("reputation: bucket %d of generation %d: %w", b.ID, g.Gen, err)
		}
		return d, found, nil
	}
	return d, false, nil
}

// bucketDoc is one bucket of a rewrite.
type bucketDoc struct {
	ID   int64  `bson:"_id"`
	N    int    `bson:"n"`
	Data []byte `bson:"data"`
}

// eachEntry calls fn with each BSON document of a bucket's data.
func eachEntry(data []byte, fn func(bson.Raw) error) error {
	for len(data) > 0 {
		if len(data) < 5 {
			return errors.New("truncated entry")
		}
		n := int(binary.LittleEndian.Uint32(data))
		if n < 5 || n > len(data) {
			return errors.New("bad entry length")
		}
		if err := fn(bson.Raw(data[:n])); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// EachKey calls fn with the key of every stored reputation, rewritten or
// logged (a key may come twice).
func (st *Store) EachKey(ctx context.Context, fn func(string)) error {
	g, err := st.generation(ctx, true)
	if err != nil {
		return err
	}
	keyOf := func(raw bson.Raw, field string) {
		if k, ok := raw.Lookup(field).StringValueOK(); ok {
			fn(k)
		}
	}
	scan := func(coll *mongo.Collection, proj bson.M, batch int32, each func(bson.Raw) error) error {
		cur, err := coll.Find(ctx, bson.M{}, options.Find().SetProjection(proj).SetBatchSize(batch))
		if err != nil {
			return fmt.Errorf("reputation: unable to list keys: %w", err)
		}
		defer cur.Close(ctx)
		for cur.Next(ctx) {
			if err := each(cur.Current); err != nil {
				return fmt.Errorf("reputation: unable to list keys: %w", err)
			}
		}
		if err := cur.Err(); err != nil {
			return fmt.Errorf("reputation: unable to list keys: %w", err)
		}
		return nil
	}
	if g.Gen == 0 {
		err = scan(st.legacy, bson.M{"_id": 1}, 10000, func(r bson.Raw) error { keyOf(r, "_id"); return nil })
	} else {
		// A bucket is a few kilobytes: a batch of 256 stays far below
		// the wire's message limit.
		err = scan(g.coll(st.db), nil, 256, func(r bson.Raw) error {
			_, data, ok := r.Lookup("data").BinaryOK()
			if !ok {
				return errors.New("a bucket without data")
			}
			return eachEntry(data, func(e bson.Raw) error { keyOf(e, "_id"); return nil })
		})
	}
	if err != nil {
		return err
	}
	return scan(st.log, bson.M{"key": 1, "keys": 1}, 64, func(r bson.Raw) error {
		keyOf(r, "key")
		if a, ok := r.Lookup("keys").ArrayOK(); ok {
			vs, err := a.Values()
			if err != nil {
				return err
			}
			for _, v := range vs {
				if k, ok := v.StringValueOK(); ok {
					fn(k)
				}
			}
		}
		return nil
	})
}

// TrimLog drops log entries older than before, which a rewrite made
// redundant.
func (st *Store) TrimLog(ctx context.Context, before time.Time) error {
	if _, err := st.log.DeleteMany(ctx, bson.M{"at": bson.M{"$lt": before}}); err != nil {
		return fmt.Errorf("reputation: unable to trim the reputation log: %w", err)
	}
	return nil
}

type reputationDoc struct {
	Key         string             `bson:"_id"`
	Verdict     Verdict            `bson:"verdict"`
	Score       int                `bson:"score"`
	Reporters   int                `bson:"reporters"`
	Categories  map[string]int     `bson:"categories"`
	TopCategory string             `bson:"top_category,omitempty"`
	Confidence  float64            `bson:"confidence"`
	Evidence    map[string]float64 `bson:"evidence"`
	Signals     []string           `bson:"signals"`
	First       time.Time          `bson:"first_reported_at"`
	Last        time.Time          `bson:"last_reported_at"`
	CallerName  string             `bson:"caller_name,omitempty"`
	SpoofedRisk bool               `bson:"spoofed_risk,omitempty"`
	Disputed    bool               `bson:"disputed,omitempty"`
	Outcome     string             `bson:"outcome,omitempty"`
}

func (d reputationDoc) result(key string) Result {
	r := Result{
		Number: labels.Number{Key: key, Scoped: !strings.HasPrefix(key, "+")}, Verdict: d.Verdict, Score: d.Score,
		Confidence: d.Confidence, Reporters: d.Reporters, Categories: d.Categories, TopCategory: d.TopCategory,
		FirstReportedAt: d.First.UTC(), LastReportedAt: d.Last.UTC(), Signals: d.Signals, Evidence: d.Evidence,
		CallerName: d.CallerName, SpoofedRisk: d.SpoofedRisk, Disputed: d.Disputed, Outcome: d.Outcome,
	}
	if r.Categories == nil {
		r.Categories = map[string]int{}
	}
	if r.Evidence == nil {
		r.Evidence = map[string]float64{}
	}
	if r.Signals == nil {
		r.Signals = []string{}
	}
	if r.Reporters == 0 && r.CallerName == "" {
		r.Verdict = VerdictUnknown
	}
	return r
}

func toDoc(r Result) reputationDoc {
	return reputationDoc{
		Key: r.Number.Key, Verdict: r.Verdict, Score: r.Score, Reporters: r.Reporters,
		Categories: r.Categories, TopCategory: r.TopCategory, Confidence: r.Confidence, Evidence: r.Evidence,
		Signals: r.Signals, First: r.FirstReportedAt, Last: r.LastReportedAt,
		CallerName: r.CallerName, SpoofedRisk: r.SpoofedRisk, Disputed: r.Disputed, Outcome: r.Outcome,
	}
}

// Rebuild writes ix's reputations as a new generation, makes it current
// and drops the one before (and the per-number documents of a store
// written before generations). Readers see the old generation until the
// new one is complete.
func (st *Store) Rebuild(ctx context.Context, ix *Engine, progress func(done, total int)) error {
	old, err := st.generation(ctx, true)
	if err != nil {
		return err
	}
	nb := bucketsFor(ix.Len())
	ids, buckets := ix.labelled(func(key string) uint32 { return bucketOf(key, nb) })
	// Counting sort of the ids by bucket: each bucket is then encoded in
	// one go, holding a megabyte of documents at a time, not the whole
	// rewrite.
	start := make([]int, nb+1)
	for _, b := range buckets {
		start[b+1]++
	}
	for b := range nb {
		start[b+1] += start[b]
	}
	order := make([]uint32, len(ids))
	next := append([]int(nil), start[:nb]...)
	for i, b := range buckets {
		order[next[b]] = ids[i]
		next[b]++
	}
	buckets = nil

	g := &generation{ID: currentGen, Gen: max(old.Gen+1, 1), Buckets: nb, Built: time.Now().UTC()}
	coll := g.coll(st.db)
	if err := coll.Drop(ctx); err != nil { // left over by a rewrite that died
		return fmt.Errorf("reputation: unable to drop %s: %w", coll.Name(), err)
	}
	var (
		docs  []any
		size  int
		done  int
		total = len(order)
	)
	flush := func() error {
		if len(docs) == 0 {
			return nil
		}
		if _, err := coll.InsertMany(ctx, docs); err != nil {
			return fmt.Errorf("reputation: unable to insert reputations: %w", err)
		}
		docs, size = docs[:0], 0
		if progress != nil {
			progress(done, total)
		}
		return nil
	}
	for b := range nb {
		var data []byte
		n := 0
		for _, id := range order[start[b]:start[b+1]] {
			r, ok, _ := ix.resultAt(id)
			if !ok {
				continue // its last label went while the rewrite ran
			}
			if data, err = bson.MarshalAppend(data, toDoc(r)); err != nil {
				return fmt.Errorf("reputation: unable to encode %s: %w", r.Number.Key, err)
			}
			n++
		}
		done += start[b+1] - start[b]
		if n == 0 {
			continue
		}
		g.Count += int64(n)
		docs = append(docs, bucketDoc{ID: int64(b), N: n, Data: data})
		if size += len(data); size >= rewriteBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if _, err := st.meta.ReplaceOne(ctx, bson.M{"_id": currentGen}, g, options.Replace().SetUpsert(true)); err != nil {
		return fmt.Errorf("reputation: unable to switch to generation %d: %w", g.Gen, err)
	}
	st.mu.Lock()
	st.cur, st.read = g, st.now()
	st.mu.Unlock()
	// Every other generation goes, with the per-number documents of old:
	// the one just replaced, and any a crash left behind.
	names, err := st.db.ListCollectionNames(ctx, bson.M{})
	if err != nil {
		return fmt.Errorf("reputation: unable to list collections: %w", err)
	}
	for _, name := range names {
		if name == coll.Name() || (name != st.legacy.Name() && !strings.HasPrefix(name, "reputations_")) {
			continue
		}
		if err := st.db.Collection(name).Drop(ctx); err != nil {
			return fmt.Errorf("reputation: unable to drop %s: %w", name, err)
		}
	}
	return nil
}

// Count returns how many reputations the current rewrite holds.
func (st *Store) Count(ctx context.Context) (int64, error) {
	g, err := st.generation(ctx, true)
	if err != nil {
		return 0, err
	}
	if g.Gen == 0 {
		return st.legacy.CountDocuments(ctx, bson.M{})
	}
	return g.Count, nil
}
