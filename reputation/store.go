package reputation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/callrep/callrep/labels"
)

// Store persists the reputations in the reputations collection, one
// document per labelled number, for tools and replicas that read storage
// rather than memory. The in-memory Engine is the authority; the
// collection is rewritten from it (Rebuild) after each rescore and at
// shutdown, with inserts only: FerretDB's SQLite backend scans the
// collection for every single-document update.
//
// Between rewrites, the writer appends every changed reputation to
// reputation_log (insert-only); lookup replicas tail it, and a read takes
// the newest log entry of a key before the rewritten document.
type Store struct {
	coll *mongo.Collection
	log  *mongo.Collection
}

// OpenStore returns the store in db and creates its indexes.
func OpenStore(ctx context.Context, db *mongo.Database) (*Store, error) {
	st := &Store{coll: db.Collection("reputations"), log: db.Collection("reputation_log")}
	if err := labels.CreateIndexes(ctx, st.coll, []mongo.IndexModel{{Keys: bson.D{{Key: "verdict", Value: 1}}}}); err != nil {
		return nil, err
	}
	err := labels.CreateIndexes(ctx, st.log, []mongo.IndexModel{
		{Keys: bson.D{{Key: "at", Value: 1}, {Key: "seq", Value: 1}}},
		{Keys: bson.D{{Key: "key", Value: 1}, {Key: "at", Value: -1}}},
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// logDoc is one appended reputation.
type logDoc struct {
	Key string        `bson:"key"`
	At  time.Time     `bson:"at"`
	Seq int64         `bson:"seq"`
	Rep reputationDoc `bson:"rep"`
}

// Append adds the current reputations of changed numbers to the log; a
// number that lost its last label is logged as unknown with no reporters.
func (st *Store) Append(ctx context.Context, rs []Result, at time.Time, seq int64) error {
	docs := make([]any, len(rs))
	for i, r := range rs {
		docs[i] = logDoc{Key: r.Number.Key, At: at, Seq: seq + int64(i), Rep: toDoc(r)}
	}
	if _, err := labels.InsertNew(ctx, st.log, docs); err != nil {
		return fmt.Errorf("reputation: unable to append reputations: %w", err)
	}
	return nil
}

// LogEntry is one logged reputation.
type LogEntry struct {
	Result Result
	At     time.Time
	Seq    int64
}

// LogSince returns the log entries at or after since, oldest first.
func (st *Store) LogSince(ctx context.Context, since time.Time) ([]LogEntry, error) {
	cur, err := st.log.Find(ctx, bson.M{"at": bson.M{"$gte": since}}, options.Find().SetSort(bson.D{{Key: "at", Value: 1}, {Key: "seq", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("reputation: unable to read the reputation log: %w", err)
	}
	var docs []logDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("reputation: unable to read the reputation log: %w", err)
	}
	out := make([]LogEntry, len(docs))
	for i, d := range docs {
		out[i] = LogEntry{Result: d.Rep.result(d.Key), At: d.At.UTC(), Seq: d.Seq}
	}
	return out, nil
}

// Get returns the stored reputation of key: its newest log entry, else its
// rewritten document; ok is false when neither exists.
func (st *Store) Get(ctx context.Context, key string) (Result, bool, error) {
	var ld logDoc
	err := st.log.FindOne(ctx, bson.M{"key": key}, options.FindOne().SetSort(bson.D{{Key: "at", Value: -1}, {Key: "seq", Value: -1}})).Decode(&ld)
	if err == nil {
		return ld.Rep.result(key), ld.Rep.Reporters > 0, nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return Result{}, false, fmt.Errorf("reputation: unable to read the reputation log: %w", err)
	}
	var d reputationDoc
	err = st.coll.FindOne(ctx, bson.M{"_id": key}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Result{}, false, nil
	}
	if err != nil {
		return Result{}, false, fmt.Errorf("reputation: unable to read reputation: %w", err)
	}
	return d.result(key), true, nil
}

// EachKey calls fn with the key of every stored reputation, rewritten or
// logged (a key may come twice).
func (st *Store) EachKey(ctx context.Context, fn func(string)) error {
	for _, q := range []struct {
		coll  *mongo.Collection
		field string
	}{{st.coll, "_id"}, {st.log, "key"}} {
		cur, err := q.coll.Find(ctx, bson.M{}, options.Find().SetProjection(bson.M{q.field: 1}).SetBatchSize(10000))
		if err != nil {
			return fmt.Errorf("reputation: unable to list keys: %w", err)
		}
		for cur.Next(ctx) {
			if k, ok := cur.Current.Lookup(q.field).StringValueOK(); ok {
				fn(k)
			}
		}
		err = cur.Err()
		cur.Close(ctx)
		if err != nil {
			return fmt.Errorf("reputation: unable to list keys: %w", err)
		}
	}
	return nil
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

// Rebuild replaces the whole collection with ix's aggregates. Inserts are
// fast on every backend, so it drops and reinserts rather than updating.
func (st *Store) Rebuild(ctx context.Context, ix *Engine, progress func(done, total int)) error {
	if err := st.coll.Drop(ctx); err != nil {
		return fmt.Errorf("reputation: unable to drop reputations: %w", err)
	}
	total := ix.Len()
	const batch = 1000
	docs := make([]any, 0, batch)
	done := 0
	flush := func() error {
		if len(docs) == 0 {
			return nil
		}
		if _, err := st.coll.InsertMany(ctx, docs); err != nil {
			return fmt.Errorf("reputation: unable to insert reputations: %w", err)
		}
		done += len(docs)
		docs = docs[:0]
		if progress != nil {
			progress(done, total)
		}
		return nil
	}
	var err error
	ix.Each(func(r Result) {
		if err != nil {
			return
		}
		if docs = append(docs, toDoc(r)); len(docs) == batch {
			err = flush()
		}
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	return labels.CreateIndexes(ctx, st.coll, []mongo.IndexModel{{Keys: bson.D{{Key: "verdict", Value: 1}}}})
}

// Count returns how many aggregates are stored.
func (st *Store) Count(ctx context.Context) (int64, error) {
	return st.coll.CountDocuments(ctx, bson.M{})
}
