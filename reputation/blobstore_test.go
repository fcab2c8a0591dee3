package reputation_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/callrep/callrep/labels/mongotest"
	"github.com/callrep/callrep/reputation"
)

// TestBlobStore round-trips multi-chunk blobs on the embedded FerretDB (or
// MONGODB_URI), replaces versions, drops old ones and detects corruption.
func TestBlobStore(t *testing.T) {
	ctx := context.Background()
	m := mongotest.Open(t)
	bs, err := reputation.OpenBlobStore(ctx, m.DB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bs.Get(ctx, "fraud"); !errors.Is(err, reputation.ErrNoBlob) {
		t.Fatalf("empty store: got %v", err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	blob := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return b
	}
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for v, size := range []int{0, 10, 3*reputation.BlobChunk + 17, reputation.BlobChunk} {
		data := blob(size)
		if err := bs.Put(ctx, reputation.Blob{Name: "fraud", Version: uint64(v + 1), Created: now, Data: data}, 1); err != nil {
			t.Fatal(err)
		}
		got, err := bs.Get(ctx, "fraud")
		if err != nil || got.Version != uint64(v+1) || !bytes.Equal(got.Data, data) || !got.Created.Equal(now) {
			t.Fatalf("version %d (%d bytes): got v%d %d bytes, %v", v+1, size, got.Version, len(got.Data), err)
		}
	}
	n, _ := m.DB.Collection("blob_chunks").CountDocuments(ctx, map[string]any{"version": map[string]any{"$lt": 3}})
	if n != 0 {
		t.Fatalf("%d chunks of dropped versions remain", n)
	}
	// Corrupt a chunk: Get refuses it.
	if _, err := m.DB.Collection("blob_chunks").UpdateOne(ctx, map[string]any{"name": "fraud", "version": 4, "i": 0},
		map[string]any{"$set": map[string]any{"data": []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.Get(ctx, "fraud"); err == nil {
		t.Fatal("corrupt blob accepted")
	}
}

// TestBlobStoreLarge round-trips a blob the size of a large trust
// estimate: its chunks would not fit in one 48 MB reply.
func TestBlobStoreLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads 55 MB")
	}
	ctx := context.Background()
	m := mongotest.Open(t)
	bs, err := reputation.OpenBlobStore(ctx, m.DB)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 55<<20+12345)
	rand.NewChaCha8([32]byte{1}).Read(data)
	if err := bs.Put(ctx, reputation.Blob{Name: "trust", Version: 1, Data: data}, 1); err != nil {
		t.Fatal(err)
	}
	got, err := bs.Get(ctx, "trust")
	if err != nil {
		t.Fatalf("get: got %v, want the blob", err)
	}
	if !bytes.Equal(got.Data, data) {
		t.Fatalf("got %d bytes, want the %d bytes stored", len(got.Data), len(data))
	}
}
