package contract_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/bits-and-blooms/bloom/v3"

	"github.com/callrep/callrep/contract"
	"github.com/callrep/callrep/reputation"
)

// TestVectorsMatchCode regenerates the vectors in memory and compares them
// with the committed files, so that the vectors cannot drift from the code.
// After a deliberate change, `go run ./cmd/callrep vectors` rewrites them.
func TestVectorsMatchCode(t *testing.T) {
	files, err := contract.Vectors()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("vectors")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(files) {
		t.Errorf("contract/vectors holds %d files, the code makes %d", len(entries), len(files))
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("vectors", name))
		if err != nil {
			t.Errorf("%s: %v; run go run ./cmd/callrep vectors", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("contract/vectors/%s differs from what the code makes; run go run ./cmd/callrep vectors and review the diff", name)
		}
	}
}

// TestHashMatchesBloom holds the hash written from the spec to bloom/v3 on
// keys of every length around the 16-byte block, and membership of a
// filter file read with the spec's bit layout to reputation's.
func TestHashMatchesBloom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 40 {
		key := make([]byte, n)
		for i := range key {
			key[i] = byte(r.IntN(256))
		}
		want := bloom.Locations(key, 9)
		h := contract.BaseHashes(key)
		for i, w := range want {
			if got := contract.Location(h, uint64(i)); got != w {
				t.Fatalf("%d-byte key, location %d: got %#x, want %#x", n, i, got, w)
			}
		}
	}
	var keys []string
	for i := range 500 {
		keys = append(keys, fmt.Sprintf("+86138%08d", i*31))
	}
	s, err := reputation.BuildFilter(reputation.FilterSpec{Name: "fraud", FPRate: 0.01}, keys, 1, 0, contract.Epoch())
	if err != nil {
		t.Fatal(err)
	}
	words := s.Bytes[7+len(s.Name)+48+24:]
	for i := range 5000 {
		key := fmt.Sprintf("+86138%08d", i)
		if got, want := contract.Member(words, uint64(s.M), uint64(s.K), []byte(key)), s.Test(key); got != want {
			t.Fatalf("%s: spec says %v, reputation %v", key, got, want)
		}
	}
}
