package reputation_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

// TestFTCSampleVerdicts feeds a real day of FTC complaints, dated at import
// time, through the engine as the importer does: every number with at
// least five complaints is spam or fraud, none with one complaint is fraud.
func TestFTCSampleVerdicts(t *testing.T) {
	files, _ := filepath.Glob("../labels/testdata/ftc/*.csv")
	if len(files) == 0 {
		t.Fatal("no FTC sample")
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := newWorld(nil)
	complaints := map[string]map[string]bool{} // number → complaint ids
	_, err = labels.ReadFTC(f, func(c labels.FTCComplaint) error {
		n, err := labels.NormalizeKey(c.Number, "US", "")
		if err != nil {
			return nil // the importer skips and counts these
		}
		if complaints[n.Key] == nil {
			complaints[n.Key] = map[string]bool{}
		}
		if complaints[n.Key][c.ID] {
			return nil
		}
		complaints[n.Key][c.ID] = true
		var call *labels.Call
		if c.Robocall {
			call = &labels.Call{Robocall: true}
		}
		w.label("ftc:"+c.ID, n.Key, c.Category, source(labels.ImportSource("ftc")), withCall(call), fromPrefix(""))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	five, single := 0, 0
	for key, ids := range complaints {
		r := w.lookup(key)
		switch {
		case len(ids) >= 5:
			five++
			if r.Verdict != reputation.VerdictSpam && r.Verdict != reputation.VerdictFraud {
				t.Errorf("%s: %d complaints, verdict %s (evidence %v)", key, len(ids), r.Verdict, r.Evidence)
			}
		case len(ids) == 1:
			single++
			if r.Verdict == reputation.VerdictFraud {
				t.Errorf("%s: one complaint made it fraud", key)
			}
		}
	}
	if five < 50 || single < 1000 {
		t.Fatalf("sample too small: %d numbers with ≥5 complaints, %d with one", five, single)
	}
	t.Logf("%d numbers with ≥5 complaints, %d with one", five, single)
}
