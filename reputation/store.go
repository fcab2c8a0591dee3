package reputation

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
)

// Store persists the reputations in the reputations collection, one
// document per labelled number, for tools and replicas that read storage
// rather than memory. The in-memory Engine is the authority; the
// collection is rewritten from it (Rebuild) after each rescore and at
// shutdown, with inserts only: FerretDB's SQLite backend scans the
// collection for every single-document update.
type Store struct {
	coll *mongo.Collection
}

// OpenStore returns the store in db and creates its indexes.
func OpenStore(ctx context.Context, db *mongo.Database) (*Store, error) {
	st := &Store{coll: db.Collection("reputations")}
	_, err := st.coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "verdict", Value: 1}}})
	if err != nil {
		return nil, fmt.Errorf("reputation: unable to create indexes: %w", err)
	}
	return st, nil
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
}

func toDoc(r Result) reputationDoc {
	return reputationDoc{
		Key: r.Number.Key, Verdict: r.Verdict, Score: r.Score, Reporters: r.Reporters,
		Categories: r.Categories, TopCategory: r.TopCategory, Confidence: r.Confidence, Evidence: r.Evidence,
		Signals: r.Signals, First: r.FirstReportedAt, Last: r.LastReportedAt,
	}
}

// Rebuild replaces the whole collection with ix's aggregates. Inserts are
// fast on every backend, so it drops and reinserts rather than updating.
func (st *Store) Rebuild(ctx context.Context, ix *Engine, progress func(done, total int)) error {
	if err := st.coll.Drop(ctx); err != nil {
		return fmt.Errorf("reputation: unable to drop reputations: %w", err)
	}
	keys := ix.keys()
	const batch = 1000
	for start := 0; start < len(keys); start += batch {
		end := min(start+batch, len(keys))
		docs := make([]any, 0, end-start)
		for _, key := range keys[start:end] {
			if r, ok := ix.lookupKey(key); ok {
				docs = append(docs, toDoc(r))
			}
		}
		if len(docs) > 0 {
			if _, err := st.coll.InsertMany(ctx, docs); err != nil {
				return fmt.Errorf("reputation: unable to insert reputations: %w", err)
			}
		}
		if progress != nil {
			progress(end, len(keys))
		}
	}
	_, err := st.coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "verdict", Value: 1}}})
	return err
}

// Count returns how many aggregates are stored.
func (st *Store) Count(ctx context.Context) (int64, error) {
	return st.coll.CountDocuments(ctx, bson.M{})
}
