package labels_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/callrep/callrep/labels"
)

// TestInParallel: every index runs once when none fails; a failure stops
// new indices and the lowest failing index's error is returned.
func TestInParallel(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n, w    int
		fail    map[int]bool
		want    string
		maxRuns int
	}{
		{name: "none", n: 0, w: 4},
		{name: "all", n: 100, w: 4, maxRuns: 100},
		{name: "more workers than work", n: 3, w: 8, maxRuns: 3},
		{name: "lowest error", n: 100, w: 1, fail: map[int]bool{7: true, 3: true}, want: "3", maxRuns: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var runs atomic.Int64
			seen := make([]atomic.Int32, tc.n)
			err := labels.InParallel(tc.n, tc.w, func(i int) error {
				runs.Add(1)
				seen[i].Add(1)
				if tc.fail[i] {
					return errors.New(fmt.Sprint(i))
				}
				return nil
			})
			if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
				t.Fatalf("error: got %v, want %q", err, tc.want)
			}
			if tc.fail == nil {
				for i := range seen {
					if seen[i].Load() != 1 {
						t.Fatalf("index %d ran %d times, want 1", i, seen[i].Load())
					}
				}
			}
			if int(runs.Load()) > tc.maxRuns {
				t.Fatalf("%d calls, want at most %d", runs.Load(), tc.maxRuns)
			}
		})
	}
}
