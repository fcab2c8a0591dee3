package labels_test

import (
	"flag"
	"slices"
	"testing"

	"github.com/callrep/callrep/labels"
)

var fastpathN = flag.Int("fastpath.n", 100_000, "how many generated numbers TestFastPathAgrees compares")

// agreement counts what the fast path decided and how it compared.
type agreement struct {
	inputs, decided, valid, invalid, scoped, errors, emergency, mismatches int
	// slowChecked counts the inputs whose slow path (libphonenumber's parse,
	// classified on the automata) was compared too; slowMismatches the
	// differences.
	slowChecked, slowMismatches int
}

// compare runs raw through the paths: a decided fast path, and the slow
// path for every input the fast path leaves and for one in four it
// decides, must give the reference's number or error (libphonenumber
// alone).
func (a *agreement) compare(t *testing.T, raw, region, defaultRegion string) {
	t.Helper()
	a.inputs++
	ref, rerr := labels.ReferenceNormalizeKey(raw, region, defaultRegion)
	fast, decided, ferr := labels.FastNormalizeKey(raw, region, defaultRegion)
	if !decided || a.inputs%4 == 0 {
		a.slowChecked++
		slow, serr := labels.SlowNormalizeKey(raw, region, defaultRegion)
		if !sameResult(slow, serr, ref, rerr) {
			a.slowMismatches++
			if a.slowMismatches <= 20 {
				t.Errorf("%q in %q (default %q): slow path got %+v, %v; want %+v, %v", raw, region, defaultRegion, slow, serr, ref, rerr)
			}
		}
	}
	if !decided {
		return
	}
	a.decided++
	switch {
	case !sameResult(fast, ferr, ref, rerr):
		a.mismatches++
		if a.mismatches <= 20 {
			t.Errorf("%q in %q (default %q): fast path got %+v, %v; want %+v, %v", raw, region, defaultRegion, fast, ferr, ref, rerr)
		}
	case labels.ErrorCode(ferr) == labels.ENotLabelable:
		a.emergency++
	case ferr != nil:
		a.errors++
	case fast.Scoped:
		a.scoped++
	case fast.Valid:
		a.valid++
	default:
		a.invalid++
	}
}

// sameResult compares numbers, and errors by code and message.
func sameResult(n labels.Number, err error, want labels.Number, wantErr error) bool {
	if err != nil || wantErr != nil {
		return labels.ErrorCode(err) == labels.ErrorCode(wantErr) && labels.ErrorMessage(err) == labels.ErrorMessage(wantErr)
	}
	return n == want
}

func (a *agreement) report(t *testing.T, minDecided float64) {
	t.Helper()
	t.Logf("%d inputs: fast path decided %d (%d valid, %d invalid, %d service, %d emergency, %d errors), %d mismatches; slow path checked on %d, %d mismatches",
		a.inputs, a.decided, a.valid, a.invalid, a.scoped, a.emergency, a.errors, a.mismatches, a.slowChecked, a.slowMismatches)
	if got := float64(a.decided) / float64(a.inputs); got < minDecided {
		t.Errorf("fast path decided %.0f%% of inputs, want at least %.0f%%", 100*got, 100*minDecided)
	}
}

// TestFastPathAgrees compares the fast path with the slow one on numbers
// generated from every region's metadata: valid and invalid, E.164 and
// national, formatted or not, with stray national prefixes. Run millions
// with -fastpath.n=5000000.
func TestFastPathAgrees(t *testing.T) {
	n := *fastpathN
	if testing.Short() {
		n /= 10
	}
	g := newNumberGen(t, 11)
	var a agreement
	for i := range n {
		raw, region := g.next()
		def := ""
		switch i % 10 {
		case 0:
			// E.164 needs no region; national input then fails.
			region = ""
		case 1:
			region, def = "", region
		case 2:
			raw, region = g.nextPrefixed()
		case 3:
			raw, region = g.nextShort()
		}
		a.compare(t, raw, region, def)
	}
	a.report(t, 0.6)
}

// TestFastPathAgrees_Production compares the paths on the production mix
// (prodGen), where the fast path must decide nearly everything.
func TestFastPathAgrees_Production(t *testing.T) {
	n := *fastpathN
	if testing.Short() {
		n /= 10
	}
	g := newProdGen(t, 13)
	var a agreement
	for range n {
		raw, region := g.next()
		a.compare(t, raw, region, "CN")
	}
	a.report(t, 0.5)
}

// TestFastPathAgrees_Vectors runs the shared normalisation vectors through
// both paths.
func TestFastPathAgrees_Vectors(t *testing.T) {
	var a agreement
	for _, c := range roundTripCases {
		a.compare(t, c.input, c.region, "")
	}
	for _, v := range readVectors(t) {
		a.compare(t, v.input, v.region, "")
		if got, err := labels.NormalizeKey(v.input, v.region, ""); err == nil {
			if want, _ := labels.SlowNormalizeKey(v.input, v.region, ""); got != want {
				t.Errorf("NormalizeKey(%q, %s): got %+v, want %+v", v.input, v.region, got, want)
			}
		}
	}
	a.report(t, 0.3)
}

// FuzzFastPathAgrees: whatever the fast path decides, the slow path
// decides alike, on any input in any region.
func FuzzFastPathAgrees(f *testing.F) {
	regions := sortedRegions()
	for _, c := range roundTripCases {
		f.Add(c.input, uint16(slices.Index(regions, c.region)))
	}
	for _, s := range []struct{ input, region string }{
		{"0086 138 0013 8000", "CN"}, {"011 44 20 7946 0958", "US"}, {"86 10 6552 9988", "CN"},
		{"+86 12345 678901", "CN"}, {"020 7946 0958", "GB"}, {"0154", "UY"}, {"95588", "CN"},
		{"110", "CN"}, {"+44 (0)20 7946 0958", "GB"}, {"0 90 1234 5678", "JP"},
	} {
		f.Add(s.input, uint16(slices.Index(regions, s.region)))
	}
	f.Fuzz(func(t *testing.T, raw string, r uint16) {
		var a agreement
		a.compare(t, raw, regions[int(r)%len(regions)], "")
	})
}
