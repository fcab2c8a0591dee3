package labels

import (
	"context"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/mongo"
)

// CreateIndexes creates models on coll one at a time, so that it can run at
// every start. The embedded FerretDB mishandles a createIndexes command that
// names two or more indexes which already exist: it panics and drops the
// connection, or skips a new index that follows them. One index per command
// avoids both; TestCreateIndexesExisting pins the behaviour. Creating an
// index that exists with the same name and keys is a no-op.
//
// On FerretDB, whose queries use an index only for _id, indexes that are
// not unique are left out: each would cost every insert (a JSON parse per
// document) and the start that builds it, and serve no query. Against
// MongoDB they are made at the first start there, as after a migration.
func CreateIndexes(ctx context.Context, coll *mongo.Collection, models []mongo.IndexModel) error {
	ferret, err := IsFerretDB(ctx, coll.Database())
	if err != nil {
		return err
	}
	if ferret {
		models = slices.DeleteFunc(slices.Clone(models), func(m mongo.IndexModel) bool {
			return m.Options == nil || m.Options.Unique == nil || !*m.Options.Unique
		})
	}
	return createIndexes(ctx, coll, models)
}

// createIndexes creates every one of models, one at a time.
func createIndexes(ctx context.Context, coll *mongo.Collection, models []mongo.IndexModel) error {
	for _, m := range models {
		if _, err := coll.Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("labels: unable to create index on %s: %w", coll.Name(), err)
		}
	}
	return nil
}
