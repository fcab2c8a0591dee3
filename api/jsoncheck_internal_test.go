package api

import (
	"reflect"
	"strings"
	"testing"

	"github.com/callrep/callrep/labels"
)

// TestCheckJSON: duplicate keys at any depth, invalid UTF-8 and lone
// surrogates are found; the opaque key's items are left to their own
// decoding.
func TestCheckJSON(t *testing.T) {
	many := `{`
	for i := range 20 {
		many += `"k` + string(rune('a'+i)) + `":0,`
	}
	for _, tc := range []struct {
		body, opaque, want string
	}{
		{`{"a":1,"b":[1,{"a":2}],"c":{"a":"x"}}`, "", ""},
		{`{"a":1,"a":2}`, "", "duplicate"},
		{` { "a" : { "b" : 1 , "b" : 2 } } `, "", "duplicate"},
		{`[{"a":1},{"a":1,"a":1}]`, "", "duplicate"},
		{`{"a\"b":1,"a\u0022b":2}`, "", "duplicate"},
		{many + `"kq":1}`, "", "duplicate"},
		{many + `"kz":1}`, "", ""},
		{`{"reports":[{"a":1,"a":2},"\ud800"],"x":1}`, "reports", ""},
		{`{"reports":[{"a":"]}"}],"reports":[]}`, "reports", "duplicate"},
		{`{"s":"\ud83d\ude00 \u00e9 é"}`, "", ""},
		{`{"s":"\ud83d"}`, "", "surrogate"},
		{`{"s":"\ud83d\u0041"}`, "", "surrogate"},
		{`{"s":"\ude00\ud83d"}`, "", "surrogate"},
		{`{"s":"\\ud800"}`, "", ""},
		{"{\"s\":\"\xc3\"}", "", "UTF-8"},
		{"{\"s\xed\xa0\x80\":1}", "", "UTF-8"},
	} {
		err := checkJSON([]byte(tc.body), tc.opaque)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: got %v, want nil", tc.body, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || labels.ErrorCode(err) != labels.EInvalidJSON):
			t.Errorf("%s: got %v, want an invalid_json error about %s", tc.body, err, tc.want)
		}
	}
	if got := opaqueKey(reflect.TypeOf(&batchRequestJSON{})); got != "reports" {
		t.Errorf("opaque key of a batch: got %q, want reports", got)
	}
	if got := opaqueKey(reflect.TypeOf(&reportInputJSON{})); got != "" {
		t.Errorf("opaque key of a report: got %q, want none", got)
	}
}

// BenchmarkCheckJSON is the scan of a typical report.
func BenchmarkCheckJSON(b *testing.B) {
	body := []byte(`{"number":"+8613800138000","region":"CN","category":"fraud","comment":"Claimed to be the police.",` +
		`"call":{"direction":"incoming","duration_s":74,"ring_s":6,"answered":true},"client_report_id":"5b0e6a3e-3f0e-4d53"}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := checkJSON(body, ""); err != nil {
			b.Fatal(err)
		}
	}
}
