package labels

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Leases hands out time-limited, named leases stored in the meta
// collection, so that of several replicas over one database exactly one
// runs a background job at a time. A holder renews its lease by acquiring
// it again before it expires; a crashed holder's lease simply runs out.
type Leases struct {
	meta *mongo.Collection
}

// Leases returns the store's leases.
func (st *Store) Leases() *Leases { return &Leases{meta: st.meta} }

// LeasesOf returns the leases of the store in db without opening it.
func LeasesOf(db *mongo.Database) *Leases { return &Leases{meta: db.Collection("meta")} }

type leaseDoc struct {
	ID     string    `bson:"_id"`
	Kind   string    `bson:"kind"`
	Holder string    `bson:"holder"`
	Until  time.Time `bson:"until"`
}

// Acquire takes or renews the lease name for holder until now+ttl. It
// returns false, without error, while another holder's lease runs.
//
// The update matches the lease only if holder has it or it expired; when
// it matches nothing the upsert tries to insert a document with the
// lease's _id, which fails with a duplicate key exactly when someone else
// holds it. That makes the check and the take one atomic write, with no
// transaction, on MongoDB and FerretDB alike.
func (l *Leases) Acquire(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error) {
	id := "lease:" + name
	filter := bson.M{"_id": id, "$or": bson.A{bson.M{"holder": holder}, bson.M{"until": bson.M{"$lt": now}}}}
	update := bson.M{"$set": bson.M{"kind": "lease", "holder": holder, "until": now.Add(ttl)}}
	_, err := l.meta.UpdateOne(ctx, filter, update, options.Update().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("labels: unable to acquire lease %s: %w", name, err)
	}
	return true, nil
}

// Release gives the lease up early if holder has it.
func (l *Leases) Release(ctx context.Context, name, holder string) error {
	_, err := l.meta.DeleteOne(ctx, bson.M{"_id": "lease:" + name, "holder": holder})
	if err != nil {
		return fmt.Errorf("labels: unable to release lease %s: %w", name, err)
	}
	return nil
}

// Holder returns who holds the lease name and until when; "" when nobody.
func (l *Leases) Holder(ctx context.Context, name string) (string, time.Time, error) {
	var d leaseDoc
	err := l.meta.FindOne(ctx, bson.M{"_id": "lease:" + name}).Decode(&d)
	if err == mongo.ErrNoDocuments {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("labels: unable to read lease %s: %w", name, err)
	}
	return d.Holder, d.Until.UTC(), nil
}
