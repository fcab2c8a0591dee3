package labels_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
)

// TestQuotaLedger: a day's grants add up across writes and stores, and a
// new day's write drops the days before.
func TestQuotaLedger(t *testing.T) {
	ctx := context.Background()
	m := mongotest.Open(t)
	st, err := labels.OpenStore(ctx, m.DB)
	if err != nil {
		t.Fatal(err)
	}
	d1 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	d2 := d1.Add(24 * time.Hour)
	for _, g := range []map[string]int{{"alice": 2, "bob": 1}, {"alice": 1}, {}} {
		if err := st.AddQuota(ctx, d1, g); err != nil {
			t.Fatal(err)
		}
	}
	again, err := labels.OpenStore(ctx, m.DB) // as after a restart
	if err != nil {
		t.Fatal(err)
	}
	if used, err := again.QuotaUsed(ctx, d1); err != nil || !maps.Equal(used, map[string]int{"alice": 3, "bob": 1}) {
		t.Fatalf("day 1: %v %v", used, err)
	}
	if err := again.AddQuota(ctx, d2, map[string]int{"bob": 4}); err != nil {
		t.Fatal(err)
	}
	if used, _ := again.QuotaUsed(ctx, d1); len(used) != 0 {
		t.Fatalf("day 1 outlived day 2's first write: %v", used)
	}
	if used, _ := again.QuotaUsed(ctx, d2); !maps.Equal(used, map[string]int{"bob": 4}) {
		t.Fatalf("day 2: %v", used)
	}
}
