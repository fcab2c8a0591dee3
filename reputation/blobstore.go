package reputation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/callrep/callrep/labels"
)

// BlobStore keeps versioned binary artefacts (filter snapshots) in
// storage as chunked documents, so that a restart or another replica serves
// the same bytes. A blob's chunks are inserted first and a small pointer
// document is switched to them afterwards: a reader sees the old version
// or the new one, never a mix, and an interrupted write leaves only
// orphan chunks that the next write of that version replaces.
type BlobStore struct {
	chunks   *mongo.Collection
	pointers *mongo.Collection
	changes  *mongo.Collection // list changes (see Change)
}

// BlobChunk is the size of one chunk document, well under MongoDB's 16 MiB
// document limit.
const BlobChunk = 1 << 20

// OpenBlobStore returns the blob store in db.
func OpenBlobStore(ctx context.Context, db *mongo.Database) (*BlobStore, error) {
	bs := &BlobStore{chunks: db.Collection("blob_chunks"), pointers: db.Collection("blobs"), changes: db.Collection("list_changes")}
	err := labels.CreateIndexes(ctx, bs.chunks, []mongo.IndexModel{
		{Keys: bson.D{{Key: "name", Value: 1}, {Key: "version", Value: 1}, {Key: "i", Value: 1}}},
	})
	if err != nil {
		return nil, err
	}
	return bs, nil
}

// Blob is one stored version.
type Blob struct {
	Name    string
	Version uint64
	SHA256  string
	Created time.Time
	// Digest identifies the content the blob was built from, so that a
	// rebuild can tell an unchanged list without the old inputs.
	Digest string
	Data   []byte
}

type blobPointer struct {
	Name    string    `bson:"_id"`
	Version int64     `bson:"version"`
	SHA256  string    `bson:"sha256"`
	Size    int       `bson:"size"`
	Chunks  int       `bson:"chunks"`
	Created time.Time `bson:"created"`
	Digest  string    `bson:"digest,omitempty"`
}

type blobChunk struct {
	ID      string `bson:"_id"`
	Name    string `bson:"name"`
	Version int64  `bson:"version"`
	I       int    `bson:"i"`
	Data    []byte `bson:"data"`
}

// Put stores b as the current version of its name and removes versions
// older than keep versions before it.
func (bs *BlobStore) Put(ctx context.Context, b Blob, keep uint64) error {
	sum := sha256.Sum256(b.Data)
	b.SHA256 = hex.EncodeToString(sum[:])
	var docs []any
	for i, off := 0, 0; off < len(b.Data) || i == 0; i, off = i+1, off+BlobChunk {
		end := min(off+BlobChunk, len(b.Data))
		docs = append(docs, blobChunk{ID: chunkID(b.Name, b.Version, i), Name: b.Name,
			Version: int64(b.Version), I: i, Data: b.Data[off:end]})
	}
	// A retry of the same version meets its own chunks: clear them first.
	if _, err := bs.chunks.DeleteMany(ctx, bson.M{"name": b.Name, "version": int64(b.Version)}); err != nil {
		return fmt.Errorf("reputation: unable to clear blob %s/%d: %w", b.Name, b.Version, err)
	}
	if _, err := labels.InsertNew(ctx, bs.chunks, docs); err != nil {
		return fmt.Errorf("reputation: unable to write blob %s/%d: %w", b.Name, b.Version, err)
	}
	p := blobPointer{Name: b.Name, Version: int64(b.Version), SHA256: b.SHA256, Size: len(b.Data), Chunks: len(docs), Created: b.Created, Digest: b.Digest}
	if _, err := bs.pointers.ReplaceOne(ctx, bson.M{"_id": b.Name}, p, options.Replace().SetUpsert(true)); err != nil {
		return fmt.Errorf("reputation: unable to point at blob %s/%d: %w", b.Name, b.Version, err)
	}
	if b.Version > keep {
		if _, err := bs.chunks.DeleteMany(ctx, bson.M{"name": b.Name, "version": bson.M{"$lt": int64(b.Version - keep)}}); err != nil {
			return fmt.Errorf("reputation: unable to drop old blobs of %s: %w", b.Name, err)
		}
	}
	return nil
}

// blobReaders is how many chunks Get reads at a time.
const blobReaders = 4

// chunkID is the _id of chunk i of version of blob name.
func chunkID(name string, version uint64, i int) string {
	return fmt.Sprintf("%s/%d/%d", name, version, i)
}

// ErrNoBlob is returned by Get for a name never stored.
var ErrNoBlob = errors.New("reputation: no such blob")

// pointer reads the pointer document of name.
func (bs *BlobStore) pointer(ctx context.Context, name string) (blobPointer, error) {
	var p blobPointer
	err := bs.pointers.FindOne(ctx, bson.M{"_id": name}).Decode(&p)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return p, ErrNoBlob
	}
	if err != nil {
		return p, fmt.Errorf("reputation: unable to read blob pointer %s: %w", name, err)
	}
	return p, nil
}

// Get returns the current version of name with its data, checked against
// its SHA-256.
func (bs *BlobStore) Get(ctx context.Context, name string) (Blob, error) {
	p, err := bs.pointer(ctx, name)
	if err != nil {
		return Blob{}, err
	}
	// Chunk by chunk, by _id: the one filter the embedded FerretDB serves
	// from an index. A query on name and version read every chunk of every
	// blob: with the trust estimate of a million app reporters stored
	// (about 100 MiB), a start spent over a minute reading the filters.
	// One chunk a reply also stays far below the 48 MB limit of a wire
	// message; a few are read at a time.
	parts := make([][]byte, p.Chunks)
	err = labels.InParallel(p.Chunks, blobReaders, func(i int) error {
		var c blobChunk
		err := bs.chunks.FindOne(ctx, bson.M{"_id": chunkID(name, uint64(p.Version), i)}).Decode(&c)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			return fmt.Errorf("reputation: blob %s/%d misses chunk %d", name, p.Version, i)
		case err != nil:
			return fmt.Errorf("reputation: unable to read blob %s/%d: %w", name, p.Version, err)
		}
		parts[i] = c.Data
		return nil
	})
	if err != nil {
		return Blob{}, err
	}
	data := make([]byte, 0, p.Size)
	for i, part := range parts {
		data = append(data, part...)
		parts[i] = nil
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != p.SHA256 {
		return Blob{}, fmt.Errorf("reputation: blob %s/%d is corrupt", name, p.Version)
	}
	return Blob{Name: name, Version: uint64(p.Version), SHA256: p.SHA256, Created: p.Created.UTC(), Digest: p.Digest, Data: data}, nil
}

// changeChunk is one chunk of a stored Change, in its own collection and
// read by _id only (the one filter the embedded FerretDB serves from an
// index). The _id names the list, the version and the version's content
// digest, so a retried build of a version with other content never
// collides with an orphan of the failed one, and every write is an insert.
type changeChunk struct {
	ID      string    `bson:"_id"`
	List    string    `bson:"list"`
	Version int64     `bson:"version"`
	I       int       `bson:"i"`
	Created time.Time `bson:"created"`
	Data    []byte    `bson:"data"`
	// Chunk 0 only.
	Chunks     int    `bson:"chunks,omitempty"`
	SHA256     string `bson:"sha256,omitempty"`
	Digest     string `bson:"digest,omitempty"`
	Prev       int64  `bson:"prev,omitempty"`
	PrevDigest string `bson:"prev_digest,omitempty"`
}

func changeChunkID(list string, version uint64, digest string, i int) string {
	return fmt.Sprintf("%s/%d/%s/%d", list, version, KeyHash(digest)[:16], i)
}

// PutChange stores c. Storing a change twice stores it once.
func (bs *BlobStore) PutChange(ctx context.Context, c *Change) error {
	data := encodeChange(c)
	sum := sha256.Sum256(data)
	var docs []any
	for i, off := 0, 0; off < len(data) || i == 0; i, off = i+1, off+BlobChunk {
		end := min(off+BlobChunk, len(data))
		docs = append(docs, changeChunk{ID: changeChunkID(c.List, c.Version, c.Digest, i), List: c.List,
			Version: int64(c.Version), I: i, Created: c.Created, Data: data[off:end]})
	}
	first := docs[0].(changeChunk)
	first.Chunks, first.SHA256, first.Digest = len(docs), hex.EncodeToString(sum[:]), c.Digest
	first.Prev, first.PrevDigest = int64(c.Prev), c.PrevDigest
	docs[0] = first
	// The first chunk last: a reader finds a change only once it is whole.
	if _, err := labels.InsertNew(ctx, bs.changes, append(docs[1:], docs[0])); err != nil {
		return fmt.Errorf("reputation: unable to store change %s/%d: %w", c.List, c.Version, err)
	}
	return nil
}

// GetChange returns the change that made version of list with content
// digest; ErrNoBlob when it is not stored (never, or dropped).
func (bs *BlobStore) GetChange(ctx context.Context, list string, version uint64, digest string) (*Change, error) {
	var head changeChunk
	read := func(i int, into *changeChunk) error {
		err := bs.changes.FindOne(ctx, bson.M{"_id": changeChunkID(list, version, digest, i)}).Decode(into)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return ErrNoBlob
		}
		if err != nil {
			return fmt.Errorf("reputation: unable to read change %s/%d: %w", list, version, err)
		}
		return nil
	}
	if err := read(0, &head); err != nil {
		return nil, err
	}
	data := head.Data
	for i := 1; i < head.Chunks; i++ {
		var c changeChunk
		if err := read(i, &c); err != nil {
			return nil, err
		}
		data = append(data, c.Data...)
	}
	sum := sha256.Sum256(data)
	c := &Change{List: list, Version: version, Digest: head.Digest, Prev: uint64(head.Prev), PrevDigest: head.PrevDigest, Created: head.Created.UTC()}
	if hex.EncodeToString(sum[:]) != head.SHA256 || head.Digest != digest {
		return nil, fmt.Errorf("reputation: change %s/%d is corrupt", list, version)
	}
	if err := decodeChange(c, data); err != nil {
		return nil, fmt.Errorf("reputation: change %s/%d: %w", list, version, err)
	}
	return c, nil
}

// DropChanges removes the changes of list made before t.
func (bs *BlobStore) DropChanges(ctx context.Context, list string, before time.Time) error {
	if _, err := bs.changes.DeleteMany(ctx, bson.M{"list": list, "created": bson.M{"$lt": before}}); err != nil {
		return fmt.Errorf("reputation: unable to drop old changes of %s: %w", list, err)
	}
	return nil
}
