package api

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/callrep/callrep/labels"
)

// checkDecoded holds what decodeStrict promises of a body it accepted:
// valid UTF-8 JSON whose strings hold no U+FFFD that the body did not
// spell, and whose value reads back the same with the plain decoder.
func checkDecoded[T any](t *testing.T, body []byte, v *T) {
	t.Helper()
	if !utf8.Valid(body) || !json.Valid(body) {
		t.Fatalf("accepted a body that is not valid UTF-8 JSON: %q", body)
	}
	enc, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc, []byte("\ufffd")) && !bytes.Contains(body, []byte("\ufffd")) && !bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`)) {
		t.Fatalf("accepted %q, which decoded with a replacement character", body)
	}
	var plain T
	if err := json.Unmarshal(body, &plain); err != nil {
		t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
	}
	again, _ := json.Marshal(plain)
	if !bytes.Equal(enc, again) {
		t.Fatalf("accepted %q as %s, encoding/json reads %s", body, enc, again)
	}
}

// checkRefusal holds what a refusal promises: a caller-safe error with a
// 4xx code.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	if status, _ := classify(err); status < 400 || status >= 500 {
		t.Fatalf("refused with %v (status %d), want a 4xx error", err, status)
	}
}

// FuzzDecodeReport: any body of POST /v1/reports is refused with a 4xx
// error or decodes to what it says, and then becomes a report input or a
// 4xx error.
func FuzzDecodeReport(f *testing.F) {
	for _, s := range []string{
		`{"number":"+8613800138000","category":"fraud","comment":"Claimed to be the police.","client_report_id":"a-1"}`,
		`{"number":"138 0013 8000","region":"CN","category":"fraud","call":{"direction":"incoming","duration_s":74,"ring_s":6,"answered":true,"attestation":"C"}}`,
		`{"number":"1","category":"fraud","category":"safe"}`,
		`{"number":"1","comment":"\ud800"}`,
		`{"number":"1","comment":"\ud83d\ude00"}`,
		"{\"number\":\"\xff\"}",
		`{"NUMBER":"1"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v reportInputJSON
		if err := decodeStrict(bytes.NewReader(body), &v); err != nil {
			checkRefusal(t, err)
			return
		}
		checkDecoded(t, body, &v)
		if _, err := v.input(); err != nil {
			checkRefusal(t, err)
		}
	})
}

// FuzzDecodeBatch: a batch body is refused whole with a 4xx error, or each
// of its items is decoded alone, as a report body would be: an item with
// invalid UTF-8 is refused, not the batch.
func FuzzDecodeBatch(f *testing.F) {
	for _, s := range []string{
		`{"reports":[{"number":"+8613800138000","category":"fraud"},{"number":"110","category":"fraud"}]}`,
		`{"reports":[{"number":"1","category":"fraud","category":"safe"},null,"x",{"comment":"\udc00"}]}`,
		`{"reports":[],"reports":[{}]}`,
		`{"reports":[{"a":"]}\"[{"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req batchRequestJSON
		if err := decodeStrict(bytes.NewReader(body), &req); err != nil {
			checkRefusal(t, err)
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted a batch that is not JSON: %q", body)
		}
		for _, raw := range req.Reports {
			var v reportInputJSON
			err := decodeBytes(raw, &v)
			if err != nil {
				checkRefusal(t, err)
				continue
			}
			if !utf8.Valid(raw) {
				t.Fatalf("accepted item %q, which is not valid UTF-8", raw)
			}
			checkDecoded(t, raw, &v)
			if strings.TrimSpace(string(raw)) == "null" {
				continue
			}
			if _, err := v.input(); err != nil && labels.ErrorCode(err) == labels.EInternal {
				t.Fatalf("item %s: internal error %v", raw, err)
			}
		}
	})
}

// FuzzDecodeLookupRequest: the fast decoder of a batch lookup's body takes
// only bodies that decodeStrict takes, and decodes them to the same
// value; whatever it leaves, decodeLookupRequest answers as decodeStrict.
func FuzzDecodeLookupRequest(f *testing.F) {
	for _, s := range []string{
		`{"numbers":["+8613800138000","(415) 555-0123"],"region":"US"}`,
		` { "region" : "CN" , "numbers" : [ "95588" ] } `,
		`{"numbers":[]}`, `{}`, `{"numbers":null}`, `{"region":"US"}`,
		`{"numbers":["a"],"numbers":["b"]}`, `{"Numbers":["a"]}`, `{"numbers":["a",]}`,
		`{"numbers":["\u002b86"]}`, `{"numbers":[1]}`, `{"numbers":["a"]} x`, `{"numbers":["a"],"other":1}`,
		"{\"numbers\":[\"\xff\"]}", `{"numbers":["<&>"],"region":""}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var strict lookupRequestJSON
		strictErr := decodeStrict(bytes.NewReader(body), &strict)
		var fast lookupRequestJSON
		if fastLookupRequest(body, &fast) {
			if strictErr != nil {
				t.Fatalf("fast path took %q, which decodeStrict refuses: %v", body, strictErr)
			}
			if !slices.Equal(fast.Numbers, strict.Numbers) || (fast.Numbers == nil) != (strict.Numbers == nil) || fast.Region != strict.Region {
				t.Fatalf("%q: fast path %#v, decodeStrict %#v", body, fast, strict)
			}
		}
		var got lookupRequestJSON
		err := decodeLookupRequest(bytes.NewReader(body), &got)
		if (err == nil) != (strictErr == nil) || err != nil && err.Error() != strictErr.Error() {
			t.Fatalf("%q: decodeLookupRequest %v, decodeStrict %v", body, err, strictErr)
		}
		if err == nil && (!slices.Equal(got.Numbers, strict.Numbers) || got.Region != strict.Region) {
			t.Fatalf("%q: decodeLookupRequest %#v, decodeStrict %#v", body, got, strict)
		}
	})
}
