package labels

import (
	"errors"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// NumberType is the kind of line a number belongs to, as libphonenumber
// classifies it, plus TypeService for region-scoped short numbers.
type NumberType string

// The number types. Only valid numbers have a type other than TypeUnknown.
const (
	TypeMobile            NumberType = "mobile"
	TypeFixedLine         NumberType = "fixed_line"
	TypeFixedLineOrMobile NumberType = "fixed_line_or_mobile"
	TypeTollFree          NumberType = "toll_free"
	TypePremiumRate       NumberType = "premium_rate"
	TypeSharedCost        NumberType = "shared_cost"
	TypeVoIP              NumberType = "voip"
	TypePersonalNumber    NumberType = "personal_number"
	TypePager             NumberType = "pager"
	TypeUAN               NumberType = "uan"
	TypeVoicemail         NumberType = "voicemail"
	TypeService           NumberType = "service"
	TypeUnknown           NumberType = "unknown"
)

// Number is a normalised phone number.
type Number struct {
	// Key is the identity used everywhere: the E.164 form ("+8613800138000")
	// or, for regional service numbers, REGION:digits ("CN:95588").
	Key string
	// E164 is the E.164 form; "" for region-scoped keys.
	E164 string
	// Region is the ISO 3166 region the number belongs to ("CN"); for +1
	// numbers the libphonenumber region (US, CA, ...); "" if unknown or
	// non-geographic (+800, +882, ...).
	Region string
	// National is the national format as libphonenumber prints it
	// ("138 0013 8000"); the bare digits for scoped keys.
	National string
	// International is the international format ("+86 138 0013 8000"); ""
	// for scoped keys.
	International string
	// Type is the kind of line; TypeUnknown when the number is not valid.
	Type NumberType
	// Valid reports whether libphonenumber considers the number valid. A
	// false value means a possible number in an unassigned range, which is
	// what spoofed caller IDs typically look like.
	Valid bool
	// Scoped is true for region-scoped service numbers.
	Scoped bool
}

// maxRawLen caps the input in characters. libphonenumber accepts up to 250,
// but nothing a caller ID shows, even with formatting and an extension,
// comes near 64.
const maxRawLen = 64

// maxNSNLen is libphonenumber's longest national significant number.
const maxNSNLen = 17

// extraEmergency lists emergency numbers that libphonenumber's short-number
// metadata does not mark as such: 122 is China's road-accident police line.
var extraEmergency = map[string][]string{
	"CN": {"122"},
}

// maxEmergencyDigits is the longest emergency number of any region; inputs
// with more digits skip the emergency check, which is not cheap.
var maxEmergencyDigits = emergencyDigits()

func emergencyDigits() int {
	longest := 3
	coll, err := phonenumbers.ShortNumberMetadataCollection()
	if err != nil {
		// The library panics at init if its metadata is broken; be generous.
		return 8
	}
	for _, m := range coll.GetMetadata() {
		lengths := m.GetEmergency().GetPossibleLength()
		if len(lengths) == 0 {
			lengths = m.GetGeneralDesc().GetPossibleLength()
		}
		for _, l := range lengths {
			longest = max(longest, int(l))
		}
	}
	for _, nums := range extraEmergency {
		for _, n := range nums {
			longest = max(longest, len(n))
		}
	}
	return longest
}

// Normalize parses raw as dialled or shown in region, an ISO 3166 code such
// as "CN" in any case; an empty region means defaultRegion.
//
// A valid number yields its E.164 key. A number that is not valid but has a
// possible length is accepted with Valid false, because spoofed caller IDs
// look like that and are worth labelling. Short service numbers (China's
// 95xxx and 96xxx hotlines, 10086, 12315, and whatever libphonenumber knows
// as a valid short number of the region) get a region-scoped key such as
// "CN:95588", and such a key is itself accepted as input.
//
// Normalize returns an *Error with code EInvalid for an unknown region,
// ENotLabelable for emergency numbers and EInvalidNumber for input that is
// no phone number.
func Normalize(raw, region, defaultRegion string) (Number, error) {
	n, pn, err := normalize(raw, region, defaultRegion, false)
	if err == nil && pn != nil {
		n.National = phonenumbers.Format(pn, phonenumbers.NATIONAL)
		n.International = phonenumbers.Format(pn, phonenumbers.INTERNATIONAL)
	}
	return n, err
}

// NormalizeKey is Normalize without the display forms (National and
// International stay empty for full numbers), which take more than half of
// Normalize's time; lookups need only the key and the type.
//
// Most lookups take a fast path that compiles libphonenumber's patterns
// into digit automata (see fastNormalizeKey); it returns exactly what the
// slow path would, and leaves it every input it is not sure of.
func NormalizeKey(raw, region, defaultRegion string) (Number, error) {
	if n, decided, err := fastNormalizeKey(raw, region, defaultRegion); decided {
		return n, err
	}
	return slowNormalizeKey(raw, region, defaultRegion)
}

// slowNormalizeKey is NormalizeKey for the inputs the fast path leaves:
// libphonenumber parses them, and the automata classify what it parsed.
func slowNormalizeKey(raw, region, defaultRegion string) (Number, error) {
	n, _, err := normalize(raw, region, defaultRegion, true)
	return n, err
}

// referenceNormalizeKey is NormalizeKey by libphonenumber alone, the
// reference for the fast path and for slowNormalizeKey.
func referenceNormalizeKey(raw, region, defaultRegion string) (Number, error) {
	n, _, err := normalize(raw, region, defaultRegion, false)
	return n, err
}

// normalize does the work of Normalize; pn is the parsed full number, nil
// for scoped keys. With automata, what libphonenumber parsed is classified
// and settled on the automata of its country code when they compiled,
// which gives the same answer in a fraction of the time.
func normalize(raw, region, defaultRegion string, automata bool) (Number, *phonenumbers.PhoneNumber, error) {
	n, pn, err := normalizeOnce(raw, region, defaultRegion, automata)
	if err != nil || pn == nil {
		return n, pn, err
	}
	if automata {
		if settled, decided, err := settleOnAutomata(raw, region, defaultRegion, pn); decided {
			if err != nil {
				return Number{}, nil, err
			}
			if settled {
				return n, pn, nil
			}
		}
	}
	return settle(raw, region, defaultRegion, n, pn, automata)
}

// settleOnAutomata is settle on the automata of pn's country code, as the
// fast path settles: decided is false when they cannot tell, and settled
// is false when the key moves to another number, which settle then reads
// with libphonenumber to have its PhoneNumber.
func settleOnAutomata(raw, region, defaultRegion string, pn *phonenumbers.PhoneNumber) (settled, decided bool, err error) {
	c := rulesFor(int(pn.GetCountryCode()))
	if c == nil || !c.ok {
		return false, false, nil
	}
	// The region normalizeOnce reads the key in: internationalRegion of an
	// E.164 key is the main region of its code.
	if region == "" {
		region = defaultRegion
	}
	if region == "" {
		region = c.regions[0]
		if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
			region = "US"
		}
	}
	region, ok := upperRegion(region)
	if _, known := regionCodes()[region]; !ok || !known {
		return false, false, nil
	}
	nsn := []byte(phonenumbers.GetNationalSignificantNumber(pn))
	if len(nsn) < 2 || len(nsn) > maxNSNLen {
		return false, false, nil
	}
	short := c.shortIndex(region)
	f, ok, err := c.settle(raw, c.classify(nsn, short), short)
	if !ok || err != nil {
		return false, ok, err
	}
	return string(f.nsn) == string(nsn), true, nil
}

// maxSettle bounds the re-reads of settle. Each re-read strips a national
// prefix; none of the fuzzer's chains needed more than two.
const maxSettle = 4

// settle makes a full number's key a fixed point: normalising the key again
// must reach the same key, because the key is what lookups and retractions
// send back. libphonenumber strips one national prefix per parse, so a
// number whose national significant number starts with another one
// ("+49 00 30 1234567", "000000000" in CN) yields a key that a second parse
// shortens again. Such a key is re-read until it is stable as long as the
// number stays invalid: merging two unassigned numbers harms no one, and it
// keeps spoofed caller IDs labellable. A chain that reaches a valid number,
// a service number or an error is refused, so that reports about a spoofed
// "+49 00 30 …" never land on the real line +49 30 ….
func settle(raw, region, defaultRegion string, n Number, pn *phonenumbers.PhoneNumber, automata bool) (Number, *phonenumbers.PhoneNumber, error) {
	for range maxSettle {
		if !mayStripNationalPrefix(pn) {
			return n, pn, nil
		}
		m, pm, err := normalizeOnce(n.Key, region, defaultRegion, automata)
		if err == nil && pm != nil && m.Key == n.Key && m.Valid == n.Valid && m.Type == n.Type {
			return n, pn, nil
		}
		if err != nil || pm == nil || n.Valid || m.Valid {
			break
		}
		n, pn = m, pm
	}
	return Number{}, nil, errPrefixTooMany(raw, n.Key)
}

func errPrefixTooMany(raw, key string) error {
	return Errorf(EInvalidNumber, "%q reads as another number once written as %s; it has a national prefix too many", raw, key)
}

// mayStripNationalPrefix reports whether parsing pn's E.164 form could strip
// a national prefix off its national significant number: whether the
// national prefix pattern of the country code's main region matches its
// start. When it cannot, the E.164 form parses back to pn.
func mayStripNationalPrefix(pn *phonenumbers.PhoneNumber) bool {
	re := nationalPrefixRegexp(int(pn.GetCountryCode()))
	return re != nil && re.MatchString(phonenumbers.GetNationalSignificantNumber(pn))
}

// nationalPrefixRegexps holds, per country calling code, the anchored
// national prefix pattern of its main region, nil where there is none.
var nationalPrefixRegexps sync.Map // int -> *regexp.Regexp

func nationalPrefixRegexp(cc int) *regexp.Regexp {
	if re, ok := nationalPrefixRegexps.Load(cc); ok {
		return re.(*regexp.Regexp)
	}
	var re *regexp.Regexp
	if m := mainMetadata(cc); m != nil && m.GetNationalPrefixForParsing() != "" {
		re = regexp.MustCompile("^(?:" + m.GetNationalPrefixForParsing() + ")")
	}
	nationalPrefixRegexps.Store(cc, re)
	return re
}

// normalizeOnce is one reading of raw, before settle. With automata, the
// parsed number is classified on the automata of its country code.
func normalizeOnce(raw, region, defaultRegion string, automata bool) (Number, *phonenumbers.PhoneNumber, error) {
	if region == "" {
		region = defaultRegion
	}
	if region == "" {
		region = internationalRegion(raw)
	}
	region, err := canonicalRegion(region)
	if err != nil {
		return Number{}, nil, err
	}

	raw = strings.TrimSpace(stripFormat(raw))
	if raw == "" {
		return Number{}, nil, Errorf(EInvalidNumber, "number is empty")
	}
	if len(raw) > maxRawLen*utf8.UTFMax || utf8.RuneCountInString(raw) > maxRawLen {
		return Number{}, nil, Errorf(EInvalidNumber, "number is longer than %d characters", maxRawLen)
	}
	if keyRegion, digits, ok := splitKey(raw); ok {
		n, err := normalizeKey(raw, keyRegion, digits)
		return n, nil, err
	}
	if err := checkLetters(raw); err != nil {
		return Number{}, nil, err
	}
	if isEmergency(raw, region) {
		return Number{}, nil, errEmergency()
	}

	var pn phonenumbers.PhoneNumber
	if err := phonenumbers.ParseToNumber(raw, region, &pn); err != nil {
		return Number{}, nil, parseError(raw, err)
	}
	// Caller IDs carry no extension, and a key with one would split the
	// reports about one line.
	pn.Extension = nil
	if automata {
		if n, ok, err := classifyOnAutomata(raw, region, &pn); ok {
			if err != nil || n.Scoped {
				return n, nil, err
			}
			return n, &pn, nil
		}
	}

	typ := phonenumbers.GetNumberType(&pn)
	if typ != phonenumbers.UNKNOWN {
		// GetNumberType finds a type exactly when IsValidNumber holds; one
		// call instead of two halves the pattern matching.
		return fullNumber(&pn, typ), &pn, nil
	}

	// Not a valid full number: a short service number dialled as such or
	// with its country code ("+86 95588"), a possible but unassigned number,
	// or nothing at all. A known short number is the more specific reading,
	// so it wins over mere possibility.
	nsn := phonenumbers.GetNationalSignificantNumber(&pn)
	if short := shortRegion(&pn, region); short != "" {
		if isEmergencyDigits(nsn, short) {
			return Number{}, nil, errEmergency()
		}
		if isService(&pn, nsn, short) {
			return scopedNumber(short, nsn), nil, nil
		}
	}

	r := phonenumbers.IsPossibleNumberWithReason(&pn)
	if r == phonenumbers.IS_POSSIBLE {
		return fullNumber(&pn, phonenumbers.UNKNOWN), &pn, nil
	}
	return Number{}, nil, possibilityError(raw, r, int(pn.GetCountryCode()))
}

// stripFormat removes the invisible format characters (Unicode category
// Cf) from raw: zero-width spaces and joiners, the byte order mark, and the
// bidirectional marks, embeddings, overrides and isolates that phones put
// around a number they display or copy (Android wraps one in U+202A …
// U+202C). None of them is part of a number, and all are treated alike:
// libphonenumber alone skips U+200B and refuses U+202E. The fast path
// never sees them: it leaves every input with a byte outside ASCII.
func stripFormat(raw string) string {
	for i := 0; i < len(raw); i++ {
		if raw[i] >= utf8.RuneSelf {
			return strings.Map(func(r rune) rune {
				if unicode.Is(unicode.Cf, r) {
					return -1
				}
				return r
			}, raw)
		}
	}
	return raw
}

// classifyOnAutomata is the rest of normalizeOnce for the parsed pn, read
// in region, on the automata of its country code; ok is false when they
// did not compile.
func classifyOnAutomata(raw, region string, pn *phonenumbers.PhoneNumber) (n Number, ok bool, err error) {
	c := rulesFor(int(pn.GetCountryCode()))
	if c == nil || !c.ok {
		return Number{}, false, nil
	}
	nsn := phonenumbers.GetNationalSignificantNumber(pn)
	if len(nsn) < 2 || len(nsn) > maxNSNLen {
		return Number{}, false, nil
	}
	short := c.shortIndex(region)
	n, err = c.result(raw, c.classify([]byte(nsn), short), short)
	return n, true, err
}

// possibilityError explains why raw, of country calling code cc, is no
// possible number.
func possibilityError(raw string, r phonenumbers.ValidationResult, cc int) error {
	switch r {
	case phonenumbers.INVALID_COUNTRY_CODE:
		return Errorf(EInvalidNumber, "%q has an unknown country calling code", raw)
	case phonenumbers.TOO_SHORT:
		return Errorf(EInvalidNumber, "%q is too short to be a phone number", raw)
	case phonenumbers.TOO_LONG:
		return Errorf(EInvalidNumber, "%q is too long to be a phone number", raw)
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return Errorf(EInvalidNumber, "%q is too short for a full number; include the area code", raw)
	default:
		return Errorf(EInvalidNumber, "%q has no possible length for a phone number of +%d", raw, cc)
	}
}

// internationalRegion returns, for input in international form ("+44 …"),
// the main region of its country calling code, so that E.164 input needs no
// region; "" otherwise. Non-geographic codes (+800, +882 …) get "US": any
// region parses an international number the same way.
func internationalRegion(raw string) string {
	raw = strings.TrimSpace(raw)
	if !strings.HasPrefix(raw, "+") || len(raw) > maxRawLen {
		return ""
	}
	var pn phonenumbers.PhoneNumber
	if phonenumbers.ParseToNumber(raw, "ZZ", &pn) != nil {
		return ""
	}
	r := phonenumbers.GetRegionCodeForCountryCode(int(pn.GetCountryCode()))
	if !phonenumbers.GetSupportedRegions()[r] {
		return "US"
	}
	return r
}

// canonicalRegion upper-cases region and checks that libphonenumber knows it.
// CanonicalRegion returns region, a 2-letter ISO 3166 code in any case,
// in upper case, or an EInvalid error when libphonenumber does not know it.
func CanonicalRegion(region string) (string, error) { return canonicalRegion(region) }

func canonicalRegion(region string) (string, error) {
	if region == "" {
		return "", Errorf(EInvalid, "region is required")
	}
	up, ok := upperRegion(region)
	if !ok || !phonenumbers.GetSupportedRegions()[up] {
		return "", Errorf(EInvalid, "region %q is not a known 2-letter ISO 3166 region code", region)
	}
	return up, nil
}

// upperRegion upper-cases a 2-letter ASCII region code without allocating
// when it already is.
func upperRegion(s string) (string, bool) {
	if len(s) != 2 || !isASCIILetter(s[0]) || !isASCIILetter(s[1]) {
		return "", false
	}
	if s[0] <= 'Z' && s[1] <= 'Z' {
		return s, true
	}
	return strings.ToUpper(s), true
}

func isASCIILetter(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// splitKey recognises a scoped key "CN:95588" (region in any case). The
// digits are not checked here so that "CN:955x8" is reported as a bad key
// rather than as letters.
func splitKey(raw string) (region, digits string, ok bool) {
	if len(raw) < 4 || raw[2] != ':' || !isASCIILetter(raw[0]) || !isASCIILetter(raw[1]) {
		return "", "", false
	}
	return raw[:2], raw[3:], true
}

// normalizeKey re-reads a scoped key so that Normalize(n.Key) == n.
func normalizeKey(raw, region, digits string) (Number, error) {
	region, _ = upperRegion(region)
	if !phonenumbers.GetSupportedRegions()[region] {
		return Number{}, Errorf(EInvalidNumber, "%q names an unknown region", raw)
	}
	if len(digits) > maxNSNLen || !allASCIIDigits(digits) {
		return Number{}, Errorf(EInvalidNumber, "%q is not a service number key; want REGION:digits such as CN:95588", raw)
	}
	if isEmergencyDigits(digits, region) {
		return Number{}, errEmergency()
	}
	pn := shortNumber(region, digits)
	if !isService(pn, digits, region) {
		return Number{}, Errorf(EInvalidNumber, "%q is not a service number of %s", raw, region)
	}
	return scopedNumber(region, digits), nil
}

// shortNumber builds the PhoneNumber libphonenumber would parse from the
// national digits, leading zeros included.
func shortNumber(region, digits string) *phonenumbers.PhoneNumber {
	var national uint64
	for i := 0; i < len(digits); i++ {
		national = national*10 + uint64(digits[i]-'0')
	}
	cc := int32(phonenumbers.GetCountryCodeForRegion(region))
	pn := &phonenumbers.PhoneNumber{CountryCode: &cc, NationalNumber: &national}
	if len(digits) > 1 && digits[0] == '0' {
		// As libphonenumber counts them: an all-zero number keeps its last
		// zero as the national number itself.
		zeros := int32(1)
		for int(zeros) < len(digits)-1 && digits[zeros] == '0' {
			zeros++
		}
		italian := true
		pn.ItalianLeadingZero = &italian
		if zeros > 1 {
			pn.NumberOfLeadingZeros = &zeros
		}
	}
	return pn
}

func allASCIIDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkLetters rejects vanity numbers ("1-800-FLOWERS"): libphonenumber
// would turn the letters into digits, but a caller ID never shows letters,
// so they are a typo or a guess. Letters are fine in an extension marker
// ("ext. 5") and in a tel: URI's scheme and parameters.
func checkLetters(raw string) error {
	if !hasLetter(raw) {
		return nil
	}
	s := raw
	if len(s) >= 4 && strings.EqualFold(s[:4], "tel:") {
		s = s[4:]
		if i := strings.IndexByte(s, ';'); i >= 0 {
			s = s[:i]
		}
	} else {
		s, _ = phonenumbers.MaybeSeparateExtensionFromPhone(s)
	}
	if hasLetter(s) {
		return Errorf(EInvalidNumber, "%q contains letters; enter the digits of the number", raw)
	}
	return nil
}

func hasLetter(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// isEmergency reports whether raw, exactly as dialled in region, is an
// emergency number. Like libphonenumber, it does not consider "+1 911" one;
// isEmergencyDigits catches that after parsing.
func isEmergency(raw, region string) bool {
	digits := 0
	for _, r := range raw {
		if unicode.IsDigit(r) {
			digits++
		}
	}
	if digits > maxEmergencyDigits {
		return false
	}
	if phonenumbers.IsEmergencyNumber(raw, region) {
		return true
	}
	if strings.ContainsAny(raw, "+＋") {
		return false
	}
	return isExtraEmergency(phonenumbers.NormalizeDigitsOnly(raw), region)
}

// isEmergencyDigits reports whether nsn is an emergency number of region.
func isEmergencyDigits(nsn, region string) bool {
	if len(nsn) > maxEmergencyDigits {
		return false
	}
	return phonenumbers.IsEmergencyNumber(nsn, region) || isExtraEmergency(nsn, region)
}

func isExtraEmergency(digits, region string) bool {
	for _, n := range extraEmergency[region] {
		if digits == n {
			return true
		}
	}
	return false
}

func errEmergency() error {
	return Errorf(ENotLabelable, "emergency numbers cannot be labelled")
}

// shortRegion returns the region whose short numbers pn may be: the caller's
// region when it shares pn's country code (US and CA share +1), otherwise
// the main region of the country code. Non-geographic codes have none.
func shortRegion(pn *phonenumbers.PhoneNumber, region string) string {
	regions := phonenumbers.GetRegionCodesForCountryCode(int(pn.GetCountryCode()))
	for _, r := range regions {
		if r == region {
			return region
		}
	}
	if len(regions) == 0 || regions[0] == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
		return ""
	}
	return regions[0]
}

// isService reports whether nsn is a service number of region: a valid
// short number by libphonenumber, or one of China's 5-digit 95xxx/96xxx
// hotlines and 12xxx public-service lines (12315, 12306, 12345), most of
// which libphonenumber does not list.
func isService(pn *phonenumbers.PhoneNumber, nsn, region string) bool {
	if region == "CN" && len(nsn) == 5 {
		switch nsn[:2] {
		case "95", "96", "12":
			return true
		}
	}
	return phonenumbers.IsValidShortNumberForRegion(pn, region)
}

func scopedNumber(region, digits string) Number {
	return Number{
		Key:      region + ":" + digits,
		Region:   region,
		National: digits,
		Type:     TypeService,
		Valid:    true,
		Scoped:   true,
	}
}

// fullNumber describes pn; typ is UNKNOWN for a possible but invalid number.
func fullNumber(pn *phonenumbers.PhoneNumber, typ phonenumbers.PhoneNumberType) Number {
	e164 := phonenumbers.Format(pn, phonenumbers.E164)
	region := phonenumbers.GetRegionCodeForNumber(pn)
	if region == phonenumbers.UNKNOWN_REGION || region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
		region = ""
	}
	return Number{
		Key:    e164,
		E164:   e164,
		Region: region,
		Type:   numberType(typ),
		Valid:  typ != phonenumbers.UNKNOWN,
	}
}

func numberType(t phonenumbers.PhoneNumberType) NumberType {
	switch t {
	case phonenumbers.MOBILE:
		return TypeMobile
	case phonenumbers.FIXED_LINE:
		return TypeFixedLine
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		return TypeFixedLineOrMobile
	case phonenumbers.TOLL_FREE:
		return TypeTollFree
	case phonenumbers.PREMIUM_RATE:
		return TypePremiumRate
	case phonenumbers.SHARED_COST:
		return TypeSharedCost
	case phonenumbers.VOIP:
		return TypeVoIP
	case phonenumbers.PERSONAL_NUMBER:
		return TypePersonalNumber
	case phonenumbers.PAGER:
		return TypePager
	case phonenumbers.UAN:
		return TypeUAN
	case phonenumbers.VOICEMAIL:
		return TypeVoicemail
	default:
		return TypeUnknown
	}
}

// parseError turns a libphonenumber parse failure into a caller-safe error.
func parseError(raw string, err error) error {
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return Errorf(EInvalidNumber, "%q has an unknown country calling code", raw)
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return Errorf(EInvalidNumber, "%q is too short to be a phone number", raw)
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return Errorf(EInvalidNumber, "%q is too long to be a phone number", raw)
	default:
		return Errorf(EInvalidNumber, "%q is not a phone number", raw)
	}
}
