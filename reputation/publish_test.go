package reputation_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/callrep/callrep/labels/mongotest"
	"github.com/callrep/callrep/reputation"
)

// TestPublisherReadyAfterRestart: a publisher that starts from stored
// filters is ready only once it serves everything, CallKit exports
// included, and then it serves them.
func TestPublisherReadyAfterRestart(t *testing.T) {
	ctx := context.Background()
	m := mongotest.Open(t)
	blobs, err := reputation.OpenBlobStore(ctx, m.DB)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(nil)
	for _, id := range w.established("c", 4, 60*24*time.Hour) {
		w.label(id, "+8613800138000", "fraud")
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	first := reputation.NewPublisher(reputation.DefaultPublisherConfig(), w.e, blobs, quiet)
	if first.Ready() {
		t.Fatal("a publisher that has built nothing says it is ready")
	}
	if err := first.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := first.CallKit("block", 0)
	if err != nil || len(before.Entries) != 1 {
		t.Fatalf("CallKit before the restart: got %+v, %v; want one entry", before, err)
	}

	restarted := reputation.NewPublisher(reputation.DefaultPublisherConfig(), w.e, blobs, quiet)
	if err := restarted.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !restarted.Ready() {
		t.Fatal("not ready after loading the stored filters and building the catalog")
	}
	for _, kind := range []string{"block", "identify"} {
		ex, err := restarted.CallKit(kind, 0)
		if err != nil || ex.Version == 0 || !ex.Full {
			t.Fatalf("CallKit %s after the restart: got %+v, %v; want a full export", kind, ex, err)
		}
	}
	if ex, _ := restarted.CallKit("block", 0); len(ex.Entries) != 1 || ex.Entries[0] != before.Entries[0] {
		t.Fatalf("CallKit block after the restart: got %+v, want %+v", ex.Entries, before.Entries)
	}
	// The filters were loaded, not rebuilt: same versions.
	for i, s := range restarted.Filters() {
		if want := first.Filters()[i]; s.Version != want.Version || s.SHA256 != want.SHA256 {
			t.Errorf("filter %s: got version %d, want the stored %d", s.Name, s.Version, want.Version)
		}
	}
}
