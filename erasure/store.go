package erasure

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
)

// Store keeps erasure jobs: a document per job, inserted when it is
// accepted, and a progress document per stored batch. Everything is
// inserted, nothing updated: on the embedded FerretDB an update scans its
// collection.
type Store struct {
	jobs     *mongo.Collection
	progress *mongo.Collection
}

// OpenStore returns the erasure store of db.
func OpenStore(ctx context.Context, db *mongo.Database) (*Store, error) {
	return &Store{jobs: db.Collection("erasures"), progress: db.Collection("erasure_progress")}, nil
}

type jobDoc struct {
	ID         string    `bson:"_id"`
	Reporter   string    `bson:"reporter"`
	AcceptedAt time.Time `bson:"accepted_at"`
}

// progressDoc is a job's state after a batch: the step to run next time,
// the counts so far, and, at the end, when it finished.
type progressDoc struct {
	ID         string    `bson:"_id"` // job id/sequence number
	Job        string    `bson:"job"`
	Seq        int       `bson:"seq"`
	Step       int       `bson:"step"`
	Erased     countsDoc `bson:"erased"`
	FinishedAt time.Time `bson:"finished_at,omitempty"`
}

type countsDoc struct {
	Labels        int `bson:"labels"`
	Reports       int `bson:"reports"`
	Devices       int `bson:"devices"`
	Notifications int `bson:"notifications"`
	LookupRecords int `bson:"lookup_records"`
	GuardianLinks int `bson:"guardian_links"`
	Disputes      int `bson:"disputes,omitempty"`
}

func (st *Store) insertJob(ctx context.Context, s Status) error {
	_, err := st.jobs.InsertOne(ctx, jobDoc{ID: s.ID, Reporter: s.Reporter, AcceptedAt: s.AcceptedAt})
	if err != nil {
		return fmt.Errorf("erasure: unable to store job: %w", err)
	}
	return nil
}

func (st *Store) insertProgress(ctx context.Context, s Status, seq, step int) error {
	c := s.Erased
	_, err := st.progress.InsertOne(ctx, progressDoc{
		ID: fmt.Sprintf("%s/%d", s.ID, seq), Job: s.ID, Seq: seq, Step: step, FinishedAt: s.FinishedAt,
		Erased: countsDoc(c),
	})
	if err != nil {
		return fmt.Errorf("erasure: unable to store progress: %w", err)
	}
	return nil
}

// load reads every job with its latest progress.
func (st *Store) load(ctx context.Context) ([]*job, error) {
	byID := map[string]*job{}
	var order []*job
	err := each(ctx, st.jobs, func(d jobDoc) {
		j := &job{status: Status{ID: d.ID, Reporter: d.Reporter, State: Running, AcceptedAt: d.AcceptedAt.UTC()}}
		byID[d.ID] = j
		order = append(order, j)
	})
	if err != nil {
		return nil, err
	}
	err = each(ctx, st.progress, func(d progressDoc) {
		j := byID[d.Job]
		if j == nil || d.Seq <= j.seq {
			return
		}
		c := d.Erased
		j.seq, j.step = d.Seq, d.Step
		j.status.Erased = Counts(c)
		if !d.FinishedAt.IsZero() {
			j.status.State, j.status.FinishedAt = Done, d.FinishedAt.UTC()
		}
	})
	return order, err
}

func each[T any](ctx context.Context, coll *mongo.Collection, fn func(T)) error {
	cur, err := coll.Find(ctx, bson.M{})
	if err != nil {
		return fmt.Errorf("erasure: unable to read %s: %w", coll.Name(), err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var d T
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("erasure: unable to decode %s: %w", coll.Name(), err)
		}
		fn(d)
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("erasure: unable to read %s: %w", coll.Name(), err)
	}
	return nil
}
