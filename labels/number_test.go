package labels_test

import (
	"encoding/csv"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/callrep/callrep/labels"
)

// vector is one row of testdata/normalization_vectors.csv, whose expected
// values come from libphonenumber itself.
type vector struct {
	line          int
	region        string
	input         string
	source        string
	expectedValid bool
	expectedE164  string
	expectedType  string
	parseError    string
}

func readVectors(tb testing.TB) []vector {
	tb.Helper()
	f, err := os.Open("testdata/normalization_vectors.csv")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	want := "default_region,input,source,expected_valid,expected_e164,expected_type,parse_error"
	if got := strings.Join(records[0], ","); got != want {
		tb.Fatalf("header: got %q, want %q", got, want)
	}
	var vs []vector
	for i, r := range records[1:] {
		valid, err := strconv.ParseBool(r[3])
		if err != nil {
			tb.Fatalf("line %d: expected_valid: %v", i+2, err)
		}
		vs = append(vs, vector{
			line: i + 2, region: r[0], input: r[1], source: r[2],
			expectedValid: valid, expectedE164: r[4], expectedType: r[5], parseError: r[6],
		})
	}
	return vs
}

// vectorTypes maps libphonenumber's type names as the vectors spell them.
var vectorTypes = map[string]labels.NumberType{
	"MOBILE":               labels.TypeMobile,
	"FIXED_LINE":           labels.TypeFixedLine,
	"FIXED_LINE_OR_MOBILE": labels.TypeFixedLineOrMobile,
	"TOLL_FREE":            labels.TypeTollFree,
	"PREMIUM_RATE":         labels.TypePremiumRate,
	"SHARED_COST":          labels.TypeSharedCost,
	"VOIP":                 labels.TypeVoIP,
	"PERSONAL_NUMBER":      labels.TypePersonalNumber,
	"PAGER":                labels.TypePager,
	"UAN":                  labels.TypeUAN,
	"VOICEMAIL":            labels.TypeVoicemail,
	"UNKNOWN":              labels.TypeUnknown,
}

// vectorOverrides are the rows where callrep's rules deliberately differ
// from plain libphonenumber parsing. Key: region + "|" + input.
var vectorOverrides = map[string]struct {
	key  string // the scoped key expected, or
	code string // the error code expected
	why  string
}{
	// libphonenumber reads 95588 as the full number +8695588, possible only
	// locally and invalid. It is ICBC's hotline; the service rule wins.
	"CN|95588": {key: "CN:95588", why: "CN 95xxx hotline gets a scoped key"},
	// 999 and 110 parse as invalid full numbers; the emergency check comes
	// first.
	"GB|999": {code: labels.ENotLabelable, why: "GB emergency number"},
	"DE|110": {code: labels.ENotLabelable, why: "DE emergency number"},
	// libphonenumber's IsEmergencyNumber ignores "+1 911" (it does not
	// believe the country code connects), but nobody may label 911 however
	// it is written.
	"US|+1 911": {code: labels.ENotLabelable, why: "911 with a country code"},
}

// fullPossibility is libphonenumber's verdict on the full number: only
// IS_POSSIBLE counts, not IS_POSSIBLE_LOCAL_ONLY, as Normalize requires.
func fullPossibility(tb testing.TB, e164 string) bool {
	tb.Helper()
	pn, err := phonenumbers.Parse(e164, "ZZ")
	if err != nil {
		tb.Fatalf("expected_e164 %q does not parse: %v", e164, err)
	}
	return phonenumbers.IsPossibleNumberWithReason(pn) == phonenumbers.IS_POSSIBLE
}

func TestNumber_Vectors(t *testing.T) {
	vs := readVectors(t)
	if len(vs) < 400 {
		t.Fatalf("vectors: got %d rows, want at least 400", len(vs))
	}
	used := map[string]bool{}
	for _, v := range vs {
		t.Run(strconv.Itoa(v.line)+"_"+v.region+"_"+v.source, func(t *testing.T) {
			got, err := labels.Normalize(v.input, v.region, "")

			if o, ok := vectorOverrides[v.region+"|"+v.input]; ok {
				used[v.region+"|"+v.input] = true
				if o.code != "" {
					assertCode(t, v.input, err, o.code)
					return
				}
				if err != nil {
					t.Fatalf("Normalize(%q, %s) (%s): got error %v, want key %s", v.input, v.region, o.why, err, o.key)
				}
				if got.Key != o.key || !got.Scoped || got.Type != labels.TypeService {
					t.Fatalf("Normalize(%q, %s) (%s): got %+v, want scoped service key %s", v.input, v.region, o.why, got, o.key)
				}
				return
			}

			if v.parseError != "" {
				// libphonenumber itself refuses these.
				assertCode(t, v.input, err, labels.EInvalidNumber)
				return
			}
			if !fullPossibility(t, v.expectedE164) {
				// Truncated and too-short rows: libphonenumber parses them but
				// no number of that length exists, so Normalize refuses them.
				assertCode(t, v.input, err, labels.EInvalidNumber)
				return
			}
			if err != nil {
				t.Fatalf("Normalize(%q, %s): got error %v, want %s", v.input, v.region, err, v.expectedE164)
			}
			wantType, ok := vectorTypes[v.expectedType]
			if !ok {
				t.Fatalf("unknown expected_type %q", v.expectedType)
			}
			if got.E164 != v.expectedE164 {
				t.Errorf("Normalize(%q, %s).E164: got %q, want %q", v.input, v.region, got.E164, v.expectedE164)
			}
			if got.Key != v.expectedE164 {
				t.Errorf("Normalize(%q, %s).Key: got %q, want %q", v.input, v.region, got.Key, v.expectedE164)
			}
			if got.Valid != v.expectedValid {
				t.Errorf("Normalize(%q, %s).Valid: got %v, want %v", v.input, v.region, got.Valid, v.expectedValid)
			}
			if got.Type != wantType {
				t.Errorf("Normalize(%q, %s).Type: got %q, want %q", v.input, v.region, got.Type, wantType)
			}
			if got.Scoped {
				t.Errorf("Normalize(%q, %s).Scoped: got true, want false", v.input, v.region)
			}
		})
	}
	for k := range vectorOverrides {
		if !used[k] {
			t.Errorf("override %q matches no vector row", k)
		}
	}
}

func assertCode(t *testing.T, input string, err error, want string) {
	t.Helper()
	var e *labels.Error
	if !errors.As(err, &e) {
		t.Fatalf("Normalize(%q): got error %v, want *labels.Error with code %s", input, err, want)
	}
	if e.Code != want {
		t.Fatalf("Normalize(%q): got code %s (%s), want %s", input, e.Code, e.Message, want)
	}
	if e.Message == "" {
		t.Fatalf("Normalize(%q): got empty message, want an explanation", input)
	}
}

// TestNumber_FormatCharacters: every invisible format character is
// ignored alike, wherever it is; libphonenumber alone skips U+200B and
// refuses U+202E.
func TestNumber_FormatCharacters(t *testing.T) {
	for _, input := range []string{
		"+86 138\u200b0013 8000", "+86 138\u202e0013 8000", "+86 138\u200d0013\u200c8000",
		"\u202a+86 138 0013 8000\u202c", "\u2066+8613800138000\u2069", "\u200e+8613800138000\ufeff",
	} {
		for name, normalize := range map[string]func(raw, region, defaultRegion string) (labels.Number, error){
			"Normalize": labels.Normalize, "NormalizeKey": labels.NormalizeKey,
		} {
			n, err := normalize(input, "CN", "")
			if err != nil || n.Key != "+8613800138000" {
				t.Errorf("%s(%q): got %q, %v; want +8613800138000", name, input, n.Key, err)
			}
		}
	}
	// Stripped, an emergency number is still one.
	_, err := labels.Normalize("1\u202e10", "CN", "")
	assertCode(t, "1\u202e10", err, labels.ENotLabelable)
}

func TestNumber_Emergency(t *testing.T) {
	scenarios := []struct{ region, input string }{
		{"CN", "110"}, {"CN", "119"}, {"CN", "120"}, {"CN", "122"},
		{"CN", "+86 110"}, {"CN", "0086 122"}, {"CN", "CN:119"}, {"US", "cn:122"},
		{"US", "911"}, {"US", "112"}, {"US", "+1 911"}, {"CN", "+1 911"},
		{"GB", "999"}, {"GB", "112"}, {"GB", "+44 999"},
		{"DE", "112"}, {"DE", "110"},
		{"IN", "100"}, {"IN", "101"}, {"IN", "102"}, {"IN", "112"},
	}
	for _, s := range scenarios {
		t.Run(s.region+"_"+s.input, func(t *testing.T) {
			_, err := labels.Normalize(s.input, s.region, "")
			assertCode(t, s.input, err, labels.ENotLabelable)
			if got, want := labels.ErrorMessage(err), "emergency numbers cannot be labelled"; got != want {
				t.Errorf("message: got %q, want %q", got, want)
			}
		})
	}
}

func TestNumber_Service(t *testing.T) {
	scenarios := []struct{ region, input, key string }{
		{"CN", "95588", "CN:95588"},
		{"CN", "95555", "CN:95555"},
		{"CN", "95 588", "CN:95588"},
		{"CN", "+86 95588", "CN:95588"},
		{"CN", "0086 95588", "CN:95588"},
		{"US", "+86 95588", "CN:95588"},
		{"CN", "CN:95588", "CN:95588"},
		{"US", "cn:95588", "CN:95588"},
		{"CN", "96166", "CN:96166"},
		{"CN", "10086", "CN:10086"},
		{"CN", "10010", "CN:10010"},
		{"CN", "10000", "CN:10000"},
		{"CN", "12315", "CN:12315"}, // not in libphonenumber's short-number data
		{"CN", "12306", "CN:12306"},
		{"US", "611", "US:611"},
		{"DE", "116116", "DE:116116"}, // a possible full number, but a known short one
		{"DE", "+49 116116", "DE:116116"},
		{"GB", "101", "GB:101"},
	}
	for _, s := range scenarios {
		t.Run(s.region+"_"+s.input, func(t *testing.T) {
			got, err := labels.Normalize(s.input, s.region, "")
			if err != nil {
				t.Fatalf("Normalize(%q, %s): got error %v, want %s", s.input, s.region, err, s.key)
			}
			region, digits, _ := strings.Cut(s.key, ":")
			want := labels.Number{
				Key: s.key, Region: region, National: digits,
				Type: labels.TypeService, Valid: true, Scoped: true,
			}
			if got != want {
				t.Fatalf("Normalize(%q, %s): got %+v, want %+v", s.input, s.region, got, want)
			}
			// The key is itself an input, whatever region the caller is in.
			again, err := labels.Normalize(got.Key, "GB", "")
			if err != nil {
				t.Fatalf("Normalize(%q): got error %v, want %+v", got.Key, err, got)
			}
			if again != got {
				t.Fatalf("Normalize(%q): got %+v, want %+v", got.Key, again, got)
			}
		})
	}
}

func TestNumber_BadKey(t *testing.T) {
	for _, input := range []string{"CN:13800138000", "CN:9558a", "CN:", "XX:95588", "CN:95 588"} {
		t.Run(input, func(t *testing.T) {
			_, err := labels.Normalize(input, "CN", "")
			assertCode(t, input, err, labels.EInvalidNumber)
		})
	}
}

func TestNumber_OneKey(t *testing.T) {
	want := labels.Number{
		Key:           "+8613800138000",
		E164:          "+8613800138000",
		Region:        "CN",
		National:      "138 0013 8000",
		International: "+86 138 0013 8000",
		Type:          labels.TypeMobile,
		Valid:         true,
	}
	scenarios := []struct{ region, input string }{
		{"CN", "13800138000"},
		{"CN", "138 0013 8000"},
		{"CN", "138-0013-8000"},
		{"CN", "138.0013.8000"},
		{"CN", "+8613800138000"},
		{"CN", "+86 138 0013 8000"},
		{"CN", "(+86) 138-0013-8000"},
		{"CN", "0086 138 0013 8000"},
		{"CN", "008613800138000"},
		{"CN", "8613800138000"},
		{"cn", "  13800138000  "},
		{"CN", "１３８００１３８０００"}, // full-width digits from a Chinese IME
		{"CN", "tel:+86-138-0013-8000"},
		{"CN", "+86 138 0013 8000 ext. 5"},
		{"US", "+86 138 0013 8000"},
		{"US", "011 86 138 0013 8000"},
		{"DE", "00 86 138 0013 8000"},
		{"GB", "+8613800138000"},
	}
	for _, s := range scenarios {
		t.Run(s.region+"_"+s.input, func(t *testing.T) {
			got, err := labels.Normalize(s.input, s.region, "")
			if err != nil {
				t.Fatalf("Normalize(%q, %s): got error %v, want %+v", s.input, s.region, err, want)
			}
			if got != want {
				t.Fatalf("Normalize(%q, %s): got %+v, want %+v", s.input, s.region, got, want)
			}
		})
	}
}

func TestNumber_FullNumbers(t *testing.T) {
	scenarios := []struct {
		name, region, input string
		want                labels.Number
	}{
		{"CN400National", "CN", "4001234567", labels.Number{
			Key: "+864001234567", E164: "+864001234567", Region: "CN",
			National: "400 123 4567", International: "+86 400 123 4567",
			Type: labels.TypeSharedCost, Valid: true,
		}},
		{"CN400E164", "CN", "+864001234567", labels.Number{
			Key: "+864001234567", E164: "+864001234567", Region: "CN",
			National: "400 123 4567", International: "+86 400 123 4567",
			Type: labels.TypeSharedCost, Valid: true,
		}},
		{"CN800", "CN", "800 123 4567", labels.Number{
			Key: "+868001234567", E164: "+868001234567", Region: "CN",
			National: "800 123 4567", International: "+86 800 123 4567",
			Type: labels.TypeTollFree, Valid: true,
		}},
		{"CNFixedLine", "CN", "(010) 1234 5678", labels.Number{
			Key: "+861012345678", E164: "+861012345678", Region: "CN",
			National: "010 1234 5678", International: "+86 10 1234 5678",
			Type: labels.TypeFixedLine, Valid: true,
		}},
		{"CA", "US", "+1 416 555 0123", labels.Number{
			Key: "+14165550123", E164: "+14165550123", Region: "CA",
			National: "(416) 555-0123", International: "+1 416-555-0123",
			Type: labels.TypeFixedLineOrMobile, Valid: true,
		}},
		// Possible but unassigned: what spoofed caller IDs look like.
		{"SpoofedCN", "CN", "12345678901", labels.Number{
			Key: "+8612345678901", E164: "+8612345678901", Region: "CN",
			National: "12345678901", International: "+86 12345678901",
			Type: labels.TypeUnknown, Valid: false,
		}},
		// +1 is shared, so an invalid number belongs to no region.
		{"SpoofedUS", "US", "212-055-1234", labels.Number{
			Key: "+12120551234", E164: "+12120551234", Region: "",
			National: "(212) 055-1234", International: "+1 212-055-1234",
			Type: labels.TypeUnknown, Valid: false,
		}},
		{"DefaultRegion", "", "13800138000", labels.Number{
			Key: "+8613800138000", E164: "+8613800138000", Region: "CN",
			National: "138 0013 8000", International: "+86 138 0013 8000",
			Type: labels.TypeMobile, Valid: true,
		}},
		{"UpToCap", "CN", "+86" + strings.Repeat(" ", maxLenForTest-3-11) + "13800138000", labels.Number{
			Key: "+8613800138000", E164: "+8613800138000", Region: "CN",
			National: "138 0013 8000", International: "+86 138 0013 8000",
			Type: labels.TypeMobile, Valid: true,
		}},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			got, err := labels.Normalize(s.input, s.region, "CN")
			if err != nil {
				t.Fatalf("Normalize(%q, %q): got error %v, want %+v", s.input, s.region, err, s.want)
			}
			if got != s.want {
				t.Fatalf("Normalize(%q, %q): got %+v, want %+v", s.input, s.region, got, s.want)
			}
		})
	}
}

// maxLenForTest is the documented input cap.
const maxLenForTest = 64

func TestNumber_InvalidNumber(t *testing.T) {
	scenarios := []struct{ name, region, input string }{
		{"Empty", "CN", ""},
		{"Blank", "CN", "   "},
		{"Letters", "CN", "abc-def-ghij"},
		{"Vanity", "US", "1-800-FLOWERS"},
		{"VanityCN", "CN", "400-FLOWERS"},
		{"VanityWithExtension", "US", "1-800-FLOWERS ext. 5"},
		{"FullWidthLetters", "CN", "１３８ＡＢＣ"},
		{"Chinese", "CN", "电话13800138000"},
		{"TooLong65", "CN", strings.Repeat("1", maxLenForTest+1)},
		{"TooLongSpaced65", "CN", "+86" + strings.Repeat(" ", maxLenForTest+1-3-11) + "13800138000"},
		{"TooShort", "CN", "12"},
		{"OneDigit", "CN", "1"},
		{"TooShortE164", "CN", "+8612"},
		{"TooLongDigits", "CN", "+86 1380013800012345678"},
		{"UnknownCountryCode", "CN", "+99912345678"},
		{"LocalOnly", "US", "555-1234"},
		{"Punctuation", "CN", "---"},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			got, err := labels.Normalize(s.input, s.region, "")
			if err == nil {
				t.Fatalf("Normalize(%q, %s): got %+v, want error %s", s.input, s.region, got, labels.EInvalidNumber)
			}
			assertCode(t, s.input, err, labels.EInvalidNumber)
		})
	}
}

func TestNumber_BadRegion(t *testing.T) {
	scenarios := []struct{ name, region, defaultRegion string }{
		{"Unknown", "XX", "CN"},
		{"Name", "china", "CN"},
		{"Numeric", "001", "CN"},
		{"Unknown ZZ", "ZZ", "CN"},
		{"OneLetter", "c", "CN"},
		{"BadDefault", "", "XX"},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			_, err := labels.Normalize("+8613800138000", s.region, s.defaultRegion)
			assertCode(t, "+8613800138000", err, labels.EInvalid)
			if msg := labels.ErrorMessage(err); !strings.Contains(msg, "region") {
				t.Errorf("message: got %q, want it to name region", msg)
			}
		})
	}
}

// TestNumber_NoRegion: international input needs no region at all;
// national input does.
func TestNumber_NoRegion(t *testing.T) {
	for _, s := range []struct{ input, key, code string }{
		{"+8613800138000", "+8613800138000", ""},
		{"+44 20 7946 0958", "+442079460958", ""},
		{"+800 1234 5678", "+80012345678", ""},
		{"13800138000", "", labels.EInvalid},
	} {
		t.Run(s.input, func(t *testing.T) {
			n, err := labels.Normalize(s.input, "", "")
			if s.code != "" {
				assertCode(t, s.input, err, s.code)
				return
			}
			if err != nil || n.Key != s.key {
				t.Fatalf("got %+v, %v; want key %s", n, err, s.key)
			}
		})
	}
}

func BenchmarkNormalize(b *testing.B) {
	scenarios := []struct{ name, input string }{
		{"E164", "+8613800138000"},
		{"National", "138 0013 8000"},
	}
	for _, s := range scenarios {
		for _, f := range []struct {
			name string
			fn   func(raw, region, def string) (labels.Number, error)
		}{{"Full", labels.Normalize}, {"Key", labels.NormalizeKey}} {
			b.Run(s.name+"/"+f.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := f.fn(s.input, "CN", ""); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestNumber_AllRegions runs libphonenumber's own short-number examples of
// every region: emergency examples are refused, and every scoped key reads
// back to the same Number.
func TestNumber_AllRegions(t *testing.T) {
	coll, err := phonenumbers.ShortNumberMetadataCollection()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range coll.GetMetadata() {
		region := m.GetId()
		if !phonenumbers.GetSupportedRegions()[region] {
			continue
		}
		if ex := m.GetEmergency().GetExampleNumber(); ex != "" {
			_, err := labels.Normalize(ex, region, "")
			if got := labels.ErrorCode(err); got != labels.ENotLabelable {
				t.Errorf("Normalize(%q, %s): got %s (%v), want %s", ex, region, got, err, labels.ENotLabelable)
			}
		}
		ex := m.GetShortCode().GetExampleNumber()
		if ex == "" {
			continue
		}
		n, err := labels.Normalize(ex, region, "")
		if err != nil {
			if labels.ErrorCode(err) != labels.ENotLabelable {
				t.Errorf("Normalize(%q, %s): got error %v, want a number", ex, region, err)
			}
			continue
		}
		again, err := labels.Normalize(n.Key, "US", "")
		if err != nil || again != n {
			t.Errorf("Normalize(%q) after Normalize(%q, %s): got %+v, %v, want %+v", n.Key, ex, region, again, err, n)
		}
	}
}

// TestNormalizeKey: the fast path gives the same number as Normalize, only
// without display forms, and the same errors.
func TestNormalizeKey(t *testing.T) {
	for _, in := range []string{"+8613800138000", "138 0013 8000", "95588", "CN:95588", "+8611111111111", "4001234567", "110", "abc", ""} {
		full, errFull := labels.Normalize(in, "CN", "")
		key, errKey := labels.NormalizeKey(in, "CN", "")
		if labels.ErrorCode(errFull) != labels.ErrorCode(errKey) {
			t.Fatalf("%q: errors %v and %v differ", in, errFull, errKey)
		}
		if !full.Scoped {
			full.National, full.International = "", ""
		}
		if full != key {
			t.Fatalf("%q: got %+v, want %+v", in, key, full)
		}
	}
}
