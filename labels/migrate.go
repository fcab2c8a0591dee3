package labels

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// migrateBatch is the number of documents read per cursor batch and written
// per insertMany. Inserts of new documents are not affected by the embedded
// FerretDB's bulk-update hang, so this is not bound by MaxBulkOps.
const migrateBatch = 1000

// migrateBatchBytes bounds the bytes of one cursor batch and one
// insertMany: a reply must fit in a 48 MB wire message, and FerretDB fills
// a batch to the number of documents asked for whatever their size (blob
// chunks are 1 MiB each).
const migrateBatchBytes = 8 << 20

// MigrateProgress reports how far Migrate has come with one collection.
type MigrateProgress struct {
	// Collection is the collection being copied.
	Collection string
	// Copied counts the documents of Collection read from the source and
	// written to the destination so far, including those the destination
	// already had from an earlier run.
	Copied int64
	// Total is the source's estimated document count for Collection.
	Total int64
}

// MigrateStats sums up a Migrate run.
type MigrateStats struct {
	// Collections is the number of collections copied.
	Collections int
	// Documents is the number of documents read from the source.
	Documents int64
	// Inserted is the number of documents the destination did not have yet;
	// Documents-Inserted were already there (a re-run or a resumed run).
	Inserted int64
	// Indexes is the number of index definitions applied to the destination,
	// not counting the _id indexes.
	Indexes int
}

// Migrate copies every collection of src, with its documents and index
// definitions, into dst. It is how a user moves the embedded store to a
// MongoDB deployment, and it is meant to run while nothing writes to src.
//
// Documents are inserted unordered in batches and duplicate-key errors are
// ignored, so an interrupted run can simply be started again: documents dst
// already has (by _id) are kept as they are, the rest are added. Indexes are
// created after the data; creating an index that exists is a no-op. At the
// end every collection of dst must hold at least as many documents as its
// source. progress, when not nil, is called from Migrate's goroutine when a
// collection starts and after each batch.
func Migrate(ctx context.Context, src, dst *mongo.Database, progress func(MigrateProgress)) (MigrateStats, error) {
	var stats MigrateStats
	if src.Client() == dst.Client() && src.Name() == dst.Name() {
		return stats, errors.New("labels: unable to migrate: source and destination are the same database")
	}
	if progress == nil {
		progress = func(MigrateProgress) {}
	}
	specs, err := src.ListCollectionSpecifications(ctx, bson.D{})
	if err != nil {
		return stats, fmt.Errorf("labels: unable to list source collections: %w", err)
	}
	existing, err := dst.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return stats, fmt.Errorf("labels: unable to list destination collections: %w", err)
	}
	have := make(map[string]bool, len(existing))
	for _, name := range existing {
		have[name] = true
	}

	var copied []string
	for _, spec := range specs {
		// Views and time-series collections hold no documents of their own;
		// system.* collections belong to the server.
		if strings.HasPrefix(spec.Name, "system.") || (spec.Type != "" && spec.Type != "collection") {
			continue
		}
		if !have[spec.Name] {
			if err := createCollection(ctx, dst, spec); err != nil {
				return stats, err
			}
		}
		read, inserted, err := copyDocuments(ctx, src.Collection(spec.Name), dst.Collection(spec.Name), progress)
		stats.Documents += read
		stats.Inserted += inserted
		if err != nil {
			return stats, err
		}
		n, err := copyIndexes(ctx, src.Collection(spec.Name), dst.Collection(spec.Name))
		stats.Indexes += n
		if err != nil {
			return stats, err
		}
		stats.Collections++
		copied = append(copied, spec.Name)
	}

	for _, name := range copied {
		if err := verifyCount(ctx, src.Collection(name), dst.Collection(name)); err != nil {
			return stats, err
		}
	}
	return stats, nil
}

// createCollection creates spec's collection in dst with the source's
// options (capped size and the like), which an implicit creation by the
// first insert would lose.
func createCollection(ctx context.Context, dst *mongo.Database, spec *mongo.CollectionSpecification) error {
	cmd := bson.D{{Key: "create", Value: spec.Name}}
	elems, err := spec.Options.Elements()
	if err != nil {
		return fmt.Errorf("labels: unable to read options of collection %s: %w", spec.Name, err)
	}
	for _, e := range elems {
		cmd = append(cmd, bson.E{Key: e.Key(), Value: e.Value()})
	}
	if err := dst.RunCommand(ctx, cmd).Err(); err != nil {
		var ce mongo.CommandError
		if errors.As(err, &ce) && ce.Code == 48 { // NamespaceExists: created meanwhile
			return nil
		}
		return fmt.Errorf("labels: unable to create collection %s: %w", spec.Name, err)
	}
	return nil
}

// copyDocuments copies every document of from into to and returns how many
// it read and how many to did not have yet.
func copyDocuments(ctx context.Context, from, to *mongo.Collection, progress func(MigrateProgress)) (read, inserted int64, err error) {
	total, err := from.EstimatedDocumentCount(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("labels: unable to count %s: %w", from.Name(), err)
	}
	progress(MigrateProgress{Collection: from.Name(), Total: total})

	// The first batch is two documents, as large as documents get; later
	// ones are sized by the largest document seen.
	cur, err := from.Find(ctx, bson.D{}, options.Find().SetBatchSize(2))
	if err != nil {
		return 0, 0, fmt.Errorf("labels: unable to read %s: %w", from.Name(), err)
	}
	defer cur.Close(ctx)

	batch := make([]any, 0, migrateBatch)
	largest, size := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := insertIgnoringDuplicates(ctx, to, batch)
		read += int64(len(batch))
		inserted += n
		batch, size = batch[:0], 0
		if err != nil {
			return err
		}
		progress(MigrateProgress{Collection: from.Name(), Copied: read, Total: max(total, read)})
		return nil
	}
	for cur.Next(ctx) {
		// cur.Current is only valid until the next call to Next.
		batch = append(batch, bson.Raw(append([]byte(nil), cur.Current...)))
		if n := len(cur.Current); n > largest {
			largest = n
			cur.SetBatchSize(int32(min(migrateBatch, max(1, migrateBatchBytes/largest))))
		}
		if size += len(cur.Current); len(batch) == migrateBatch || size >= migrateBatchBytes {
			if err := flush(); err != nil {
				return read, inserted, err
			}
		}
	}
	if err := cur.Err(); err != nil {
		return read, inserted, fmt.Errorf("labels: unable to read %s: %w", from.Name(), err)
	}
	return read, inserted, flush()
}

// insertIgnoringDuplicates inserts docs unordered and returns how many were
// new; documents whose _id exists are left as they are.
func insertIgnoringDuplicates(ctx context.Context, coll *mongo.Collection, docs []any) (int64, error) {
	dup, err := InsertNew(ctx, coll, docs)
	if err != nil {
		return 0, fmt.Errorf("labels: unable to insert into %s: %w", coll.Name(), err)
	}
	n := int64(len(docs))
	for _, d := range dup {
		if d {
			n--
		}
	}
	return n, nil
}

// indexSpec is one listIndexes entry with the options Migrate carries over.
type indexSpec struct {
	Key                     bson.D          `bson:"key"`
	Name                    string          `bson:"name"`
	Unique                  *bool           `bson:"unique"`
	Sparse                  *bool           `bson:"sparse"`
	Hidden                  *bool           `bson:"hidden"`
	ExpireAfterSeconds      *int32          `bson:"expireAfterSeconds"`
	PartialFilterExpression bson.Raw        `bson:"partialFilterExpression"`
	Collation               *indexCollation `bson:"collation"`
}

// indexCollation spells the collation fields as the server does;
// options.Collation's own BSON field names do not match them.
type indexCollation struct {
	Locale          string `bson:"locale"`
	CaseLevel       bool   `bson:"caseLevel"`
	CaseFirst       string `bson:"caseFirst"`
	Strength        int    `bson:"strength"`
	NumericOrdering bool   `bson:"numericOrdering"`
	Alternate       string `bson:"alternate"`
	MaxVariable     string `bson:"maxVariable"`
	Normalization   bool   `bson:"normalization"`
	Backwards       bool   `bson:"backwards"`
}

// indexFields lists the listIndexes fields Migrate understands; any other
// option (text, geo, wildcard …) fails the migration rather than being
// dropped silently. v, ns and background carry no meaning for a new index.
var indexFields = map[string]bool{
	"v": true, "ns": true, "background": true, "key": true, "name": true,
	"unique": true, "sparse": true, "hidden": true, "expireAfterSeconds": true,
	"partialFilterExpression": true, "collation": true,
}

// copyIndexes creates the indexes of from, except _id_, on to and returns
// how many definitions it applied.
func copyIndexes(ctx context.Context, from, to *mongo.Collection) (int, error) {
	cur, err := from.Indexes().List(ctx)
	if err != nil {
		return 0, fmt.Errorf("labels: unable to list indexes of %s: %w", from.Name(), err)
	}
	defer cur.Close(ctx)
	var models []mongo.IndexModel
	for cur.Next(ctx) {
		m, err := indexModel(cur.Current)
		if err != nil {
			return 0, fmt.Errorf("labels: unable to copy an index of %s: %w", from.Name(), err)
		}
		if m != nil {
			models = append(models, *m)
		}
	}
	if err := cur.Err(); err != nil {
		return 0, fmt.Errorf("labels: unable to list indexes of %s: %w", from.Name(), err)
	}
	if len(models) == 0 {
		return 0, nil
	}
	// A copy keeps every index, whatever serves the destination.
	if err := createIndexes(ctx, to, models); err != nil {
		return 0, err
	}
	return len(models), nil
}

// indexModel turns a listIndexes entry into an IndexModel, or nil for the
// _id index that every collection has anyway.
func indexModel(raw bson.Raw) (*mongo.IndexModel, error) {
	elems, err := raw.Elements()
	if err != nil {
		return nil, err
	}
	for _, e := range elems {
		if !indexFields[e.Key()] {
			return nil, fmt.Errorf("index option %q is not supported (%s)", e.Key(), raw)
		}
	}
	var spec indexSpec
	if err := bson.Unmarshal(raw, &spec); err != nil {
		return nil, err
	}
	if spec.Name == "_id_" {
		return nil, nil
	}
	opts := options.Index().SetName(spec.Name)
	if spec.Unique != nil {
		opts.SetUnique(*spec.Unique)
	}
	if spec.Sparse != nil {
		opts.SetSparse(*spec.Sparse)
	}
	if spec.Hidden != nil {
		opts.SetHidden(*spec.Hidden)
	}
	if spec.ExpireAfterSeconds != nil {
		opts.SetExpireAfterSeconds(*spec.ExpireAfterSeconds)
	}
	if spec.PartialFilterExpression != nil {
		opts.SetPartialFilterExpression(spec.PartialFilterExpression)
	}
	if c := spec.Collation; c != nil {
		opts.SetCollation(&options.Collation{
			Locale: c.Locale, CaseLevel: c.CaseLevel, CaseFirst: c.CaseFirst,
			Strength: c.Strength, NumericOrdering: c.NumericOrdering,
			Alternate: c.Alternate, MaxVariable: c.MaxVariable,
			Normalization: c.Normalization, Backwards: c.Backwards,
		})
	}
	return &mongo.IndexModel{Keys: spec.Key, Options: opts}, nil
}

// verifyCount checks that to holds at least as many documents as from.
func verifyCount(ctx context.Context, from, to *mongo.Collection) error {
	want, err := from.CountDocuments(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("labels: unable to count %s in the source: %w", from.Name(), err)
	}
	got, err := to.CountDocuments(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("labels: unable to count %s in the destination: %w", to.Name(), err)
	}
	if got < want {
		return fmt.Errorf("labels: unable to verify %s: destination has %d documents, source %d", from.Name(), got, want)
	}
	return nil
}
