package labels_test

import (
	"slices"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/callrep/callrep/labels"
)

// sortedRegions lists libphonenumber's regions in a fixed order.
func sortedRegions() []string {
	var rs []string
	for r := range phonenumbers.GetSupportedRegions() {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	return rs
}

// checkRoundTrip: whatever Normalize accepts in a region, its key
// normalises in that region to the same key, validity and type. (Not in
// every region: a caller in a region that shares the country code reads a
// possible number as that region's short number, +290 1743 is a service
// number in SH and not in TA.)
func checkRoundTrip(t *testing.T, raw, region string) {
	t.Helper()
	n, err := labels.NormalizeKey(raw, region, "")
	if err != nil {
		return
	}
	again, err := labels.NormalizeKey(n.Key, region, "")
	if err != nil {
		t.Fatalf("NormalizeKey(%q, %q) = %s, but NormalizeKey(%q, %q): got error %v, want %s", raw, region, n.Key, n.Key, region, err, n.Key)
	}
	if again.Key != n.Key || again.Valid != n.Valid || again.Type != n.Type {
		t.Fatalf("NormalizeKey(%q, %q) = %s (valid %v, %s), but NormalizeKey(%q, %q): got %s (valid %v, %s), want the same",
			raw, region, n.Key, n.Valid, n.Type, n.Key, region, again.Key, again.Valid, again.Type)
	}
}

// FuzzNormalizeRoundTrip: keys are fixed points of normalisation. The
// region is an index into the sorted regions so that the fuzzer spends its
// time on numbers, not on region names.
func FuzzNormalizeRoundTrip(f *testing.F) {
	regions := sortedRegions()
	for _, c := range roundTripCases {
		f.Add(c.input, uint16(slices.Index(regions, c.region)))
	}
	f.Fuzz(func(t *testing.T, raw string, r uint16) {
		checkRoundTrip(t, raw, regions[int(r)%len(regions)])
	})
}

// roundTripCases are inputs whose key used to parse to another key: each
// has a national prefix inside its national significant number. key is
// the settled key, "" where the input is refused because its chain of
// re-reads ends on a valid number.
var roundTripCases = []struct{ input, region, key string }{
	// Once read: +8600000000, then +860000000.
	{"000000000", "CN", "+860000000"},
	// +490301234567, then the Berlin line +49301234567.
	{"+4900301234567", "DE", ""},
	{"+490007953", "DE", "+497953"},
	{"00008167394", "CN", "+868167394"},
	{"+86007141555125", "CN", ""},
	{"00022937824", "MN", "+97622937824"},
	{"+3750004159458", "BY", "+3754159458"},
	// BY's national prefix is 8: 8 8 … reads as 8 … as well.
	{"008782175", "BY", "+3758782175"},
	{"8880073880", "BY", ""},
	{"+550086106123", "BR", "+5586106123"},
	{"0080231", "KR", "+8280231"},
	{"+4300312225", "AT", "+43312225"},
	{"+3100344692330", "NL", ""},
	// Leading zeros that a second read keeps: the length rule stops it.
	{"0000017267", "JP", "+8100017267"},
	{"+4400050800156", "GB", "+44050800156"},
	{"000115320082", "AR", "+540115320082"},
	{"+9100432651372", "IN", "+91432651372"},
	{"+3810011452104108", "RS", ""},
}

func TestNormalize_RoundTripCases(t *testing.T) {
	for _, c := range roundTripCases {
		t.Run(c.region+"_"+c.input, func(t *testing.T) {
			n, err := labels.NormalizeKey(c.input, c.region, "")
			if c.key == "" {
				if got := labels.ErrorCode(err); got != labels.EInvalidNumber {
					t.Fatalf("NormalizeKey(%q, %s): got %+v, %v, want error %s", c.input, c.region, n, err, labels.EInvalidNumber)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeKey(%q, %s): got error %v, want %s", c.input, c.region, err, c.key)
			}
			if n.Key != c.key || n.Valid {
				t.Fatalf("NormalizeKey(%q, %s): got %s (valid %v), want %s (invalid)", c.input, c.region, n.Key, n.Valid, c.key)
			}
			checkRoundTrip(t, c.input, c.region)
		})
	}
}

// TestNormalize_RoundTripGenerated runs the property on generated numbers,
// with extra national prefixes and zeros, which is where keys drifted.
func TestNormalize_RoundTripGenerated(t *testing.T) {
	g := newNumberGen(t, 7)
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for range n {
		raw, region := g.next()
		checkRoundTrip(t, raw, region)
		raw, region = g.nextPrefixed()
		checkRoundTrip(t, raw, region)
	}
}
