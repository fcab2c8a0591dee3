package labels

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/mongo"
)

// CreateIndexes creates models on coll one at a time, so that it can run at
// every start. The embedded FerretDB mishandles a createIndexes command that
// names two or more indexes which already exist: it panics and drops the
// connection, or skips a new index that follows them. One index per command
// avoids both; TestCreateIndexesExisting pins the behaviour. Creating an
// index that exists with the same name and keys is a no-op.
func CreateIndexes(ctx context.Context, coll *mongo.Collection, models []mongo.IndexModel) error {
	for _, m := range models {
		if _, err := coll.Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("labels: unable to create index on %s: %w", coll.Name(), err)
		}
	}
	return nil
}
