package api

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
)

// TestAppendReputationMatches: the hand encoder writes exactly what
// encoding/json writes, for random answers and hostile inputs.
func TestAppendReputationMatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	strs := []string{"", "+8613800138000", "CN:95588", "fraud", "<script>&\"\\", "\x00\x1f\x7f", "假冒银行客服",
		"\u2028\u2029", "bad \xff utf8", "tab\tnew\nline\r", "emoji 😀"}
	floats := []float64{0, 1, 0.5, 1e-7, 123456.789, 1e21, 2.5e-10, 0.001, 3.14159, 100}
	pick := func() string { return strs[rng.IntN(len(strs))] }
	for i := range 2000 {
		r := &reputationJSON{
			Number: pick(), Valid: rng.IntN(2) == 0, NumberType: pick(), Region: pick(), Verdict: pick(),
			Score: rng.IntN(101), Reporters: rng.IntN(1000), Categories: map[string]int{}, Evidence: map[string]float64{},
			Signals: []string{},
		}
		if rng.IntN(2) == 0 {
			r.Confidence = floats[rng.IntN(len(floats))]
			r.TopCategory = pick()
		}
		for range rng.IntN(4) {
			r.Categories[pick()] = rng.IntN(50)
			r.Evidence[pick()] = floats[rng.IntN(len(floats))] * rng.Float64()
			r.Signals = append(r.Signals, pick())
		}
		if rng.IntN(2) == 0 {
			ts := time.Date(2026, 1, 2, 3, 4, 5, rng.IntN(1e9), time.UTC)
			r.FirstReportedAt, r.LastReportedAt = ts, ts
		}
		if i%5 == 0 {
			r.CallerName, r.SpoofedRisk, r.Disputed, r.DisputeOutcome = pick(), rng.IntN(2) == 0, rng.IntN(2) == 0, pick()
		}
		if i%7 == 0 {
			l := toLabelJSON(labels.Label{Key: pick(), Category: "fraud", CreatedAt: time.Unix(1, 0)})
			r.MyLabel = &l
		}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendReputation(nil, r); string(got) != string(want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
		batch := lookupResponseJSON{Results: []lookupResultJSON{
			{Input: pick(), reputationJSON: r},
			{Input: pick(), Error: &errorDetail{Code: "invalid_number", Message: pick()}},
		}}
		want, _ = json.Marshal(batch)
		if got := appendLookupResponse(nil, &batch); string(got) != string(want) {
			t.Fatalf("batch: got  %s\nwant %s", got, want)
		}
	}
}

// TestInexactTopKey: the fast key check finds the same misspelt keys as
// the generic pass, or declines.
func TestInexactTopKey(t *testing.T) {
	typ := reflect.TypeOf(&lookupRequestJSON{})
	for _, tc := range []struct {
		body, key string
		ok        bool
	}{
		{`{"numbers":["+8613800138000","a,b]}"],"region":"CN"}`, "", true},
		{` { "numbers" : [ "1" , "2" ] , "region" : "CN" } `, "", true},
		{`{}`, "", true},
		{`{"NUMBERS":["1"]}`, "NUMBERS", true},
		{`{"numbers":["1"],"Region":"CN"}`, "Region", true},
		{`{"numbers":["\"quoted\""],"regioN":"CN"}`, "regioN", true},
		{`{"num\u0062ers":["1"]}`, "", false},
		{`[1]`, "", false},
	} {
		key, ok := inexactTopKey([]byte(tc.body), typ)
		if key != tc.key || ok != tc.ok {
			t.Errorf("%s: got %q, %v; want %q, %v", tc.body, key, ok, tc.key, tc.ok)
		}
		var v lookupRequestJSON
		err := decodeStrict(strings.NewReader(tc.body), &v)
		if tc.key != "" && err == nil {
			t.Errorf("%s: decoded, want unknown field %q", tc.body, tc.key)
		}
	}
	if _, ok := inexactTopKey([]byte(`{"reports":[]}`), reflect.TypeOf(&batchRequestJSON{})); !ok {
		t.Error("batch request body declined")
	}
}
