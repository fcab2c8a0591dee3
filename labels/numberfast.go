package labels

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nyaruka/phonenumbers"
)

// The fast path of NormalizeKey. libphonenumber spends a lookup's time in
// regular expressions: an extension pattern over the whole input, the
// general and per-type national number patterns, and the type patterns of
// every region that shares a country code, twice. Here the patterns of a
// country calling code are compiled once into digit automata (digitDFA) and
// the parse is redone for inputs of ASCII digits with common punctuation:
// E.164, national format with or without a national prefix (stripped as
// maybeStripNationalPrefixAndCarrierCode does), an IDD or a country code
// without a plus; short, service and emergency numbers are checked on the
// short-number metadata's automata, and keys are settled as settle does.
// Anything else (letters, extensions, tel: URIs, other scripts' digits, a
// plus inside, more than 17 national digits, errors other than length) goes
// to the slow path; libphonenumber alone (referenceNormalizeKey) stays the
// reference: the fast path returns what it would, or declines.

// Bits of the type automaton's accept masks, in the order in which
// libphonenumber's getNumberTypeHelper tries the types.
const (
	descGeneral = iota
	descPremiumRate
	descTollFree
	descSharedCost
	descVoIP
	descPersonalNumber
	descPager
	descUAN
	descVoicemail
	descFixedLine
	descMobile
	numDescs
)

// regionRules are one region's patterns as automata.
type regionRules struct {
	id string
	// types matches the general description and every type at once.
	types *digitDFA
	// lengths[l] has bit i set when description i admits numbers of l
	// digits, as isNumberPossibleForDesc checks before the pattern.
	lengths            [maxNSNLen + 1]uint16
	sameMobileAndFixed bool
	// leading is the region's leading digits pattern, nil when it has none
	// (the region is then found by validity among those sharing its code).
	leading *digitDFA
	// nationalPrefix is the national prefix for parsing, nil when none.
	nationalPrefix *digitDFA
	// stripPrefix is true when the fast path may strip a national prefix
	// as maybeStripNationalPrefixAndCarrierCode does: the region has no
	// transform rule, and of the prefixes of a number that the pattern
	// matches, the library's regexp always picks the longest.
	stripPrefix bool
	// prefixRE and transformRule are the library's national prefix
	// matcher and transform rule, for the regions that do not strip on the
	// automaton alone.
	prefixRE      *regexp.Regexp
	transformRule string
	// strippable[l] is true when parseHelper keeps the stripping of a
	// national prefix that leaves l digits: testNumberLength says neither
	// TOO_SHORT, IS_POSSIBLE_LOCAL_ONLY nor INVALID_LENGTH.
	strippable [maxNSNLen + 1]bool
	// idd is the international prefix; nil when the region has none or one
	// that matches the empty string, which the fast path does not take.
	// iddLongest is true when the longest match is the one package regexp
	// picks (see longestIsFirst).
	idd        *digitDFA
	iddLongest bool
	// generalDesc is the general description of the region's numbers.
	generalDesc *phonenumbers.PhoneNumberDesc
	// possibility[l] is testNumberLength's verdict on l digits.
	possibility [maxNSNLen + 1]phonenumbers.ValidationResult
	// short matches the short-number metadata's general description (bit
	// 0) and short codes (bit 1), nil when the region has no short
	// numbers; shortLengths[i] has bit l set when description i admits l
	// digits.
	short        *digitDFA
	shortLengths [2]uint32
	// emergency matches the region's emergency numbers, nil for none.
	emergency *digitDFA
	// extraEmergency lists callrep's own emergency numbers of the region.
	extraEmergency []string
}

// isEmergency is isEmergencyDigits: whether the digits, at most
// maxEmergencyDigits of them, are an emergency number of the region.
func (r *regionRules) isEmergency(digits []byte) bool {
	// IsEmergencyNumber matches the emergency pattern whatever the length.
	if r.emergency != nil && r.emergency.match(digits)&1 != 0 {
		return true
	}
	for _, n := range r.extraEmergency {
		if string(digits) == n {
			return true
		}
	}
	return false
}

// isService is isService of number.go for a national significant number.
func (r *regionRules) isService(nsn []byte) bool {
	if r.id == "CN" && len(nsn) == 5 {
		switch string(nsn[:2]) {
		case "95", "96", "12":
			return true
		}
	}
	// IsValidShortNumberForRegion: the possible lengths and the pattern of
	// the general description, then of the short codes.
	if r.short == nil || len(nsn) >= 32 {
		return false
	}
	bit := uint32(1) << len(nsn)
	return r.shortLengths[0]&bit != 0 && r.shortLengths[1]&bit != 0 && r.short.match(nsn) == 3
}

// typeOf is getNumberTypeHelper on the automaton.
func (r *regionRules) typeOf(nsn []byte) phonenumbers.PhoneNumberType {
	m := r.types.match(nsn) & r.lengths[len(nsn)]
	if m&(1<<descGeneral) == 0 {
		return phonenumbers.UNKNOWN
	}
	switch {
	case m&(1<<descPremiumRate) != 0:
		return phonenumbers.PREMIUM_RATE
	case m&(1<<descTollFree) != 0:
		return phonenumbers.TOLL_FREE
	case m&(1<<descSharedCost) != 0:
		return phonenumbers.SHARED_COST
	case m&(1<<descVoIP) != 0:
		return phonenumbers.VOIP
	case m&(1<<descPersonalNumber) != 0:
		return phonenumbers.PERSONAL_NUMBER
	case m&(1<<descPager) != 0:
		return phonenumbers.PAGER
	case m&(1<<descUAN) != 0:
		return phonenumbers.UAN
	case m&(1<<descVoicemail) != 0:
		return phonenumbers.VOICEMAIL
	case m&(1<<descFixedLine) != 0:
		if r.sameMobileAndFixed || m&(1<<descMobile) != 0 {
			return phonenumbers.FIXED_LINE_OR_MOBILE
		}
		return phonenumbers.FIXED_LINE
	case !r.sameMobileAndFixed && m&(1<<descMobile) != 0:
		return phonenumbers.MOBILE
	}
	return phonenumbers.UNKNOWN
}

// codeRules are the rules of one country calling code.
type codeRules struct {
	cc     int
	digits string // cc in decimal
	// regions are libphonenumber's regions of the code, main region first;
	// rules[i] belongs to regions[i] ("001": the non-geographic metadata).
	regions []string
	rules   []*regionRules
	// ok is false when some pattern did not compile: the slow path keeps
	// the whole code.
	ok bool
}

// regionFor is GetRegionCodeForNumber and GetNumberType: the index of the
// region nsn belongs to, -1 for none, and its type there. Regions without
// a leading digits pattern are told apart by type, so the type of the one
// found comes with it.
func (c *codeRules) regionFor(nsn []byte) (int, phonenumbers.PhoneNumberType) {
	if len(c.regions) == 1 {
		return 0, c.rules[0].typeOf(nsn)
	}
	for i, r := range c.rules {
		if r.leading != nil {
			if r.leading.matchPrefix(nsn) {
				return i, r.typeOf(nsn)
			}
		} else if typ := r.typeOf(nsn); typ != phonenumbers.UNKNOWN {
			return i, typ
		}
	}
	return -1, phonenumbers.UNKNOWN
}

func (c *codeRules) index(region string) int {
	for i, r := range c.regions {
		if r == region {
			return i
		}
	}
	return -1
}

// maxCC bounds country calling codes, which have at most three digits.
const maxCC = 1000

// codeTable holds the rules of each country calling code once built.
var (
	codeTable   [maxCC]atomic.Pointer[codeRules]
	codeTableMu sync.Mutex
)

// rulesFor returns the rules of cc, building them on first use; nil for a
// code libphonenumber does not know.
func rulesFor(cc int) *codeRules {
	if cc <= 0 || cc >= maxCC || !knownCodes()[cc] {
		return nil
	}
	if c := codeTable[cc].Load(); c != nil {
		return c
	}
	codeTableMu.Lock()
	defer codeTableMu.Unlock()
	if c := codeTable[cc].Load(); c != nil {
		return c
	}
	regions := phonenumbers.GetRegionCodesForCountryCode(cc)
	if len(regions) == 0 {
		return nil
	}
	c := buildCodeRules(cc, regions)
	codeTable[cc].Store(c)
	return c
}

// knownCodes marks the country calling codes libphonenumber knows.
var knownCodes = sync.OnceValue(func() *[maxCC]bool {
	var known [maxCC]bool
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		if 0 < cc && cc < maxCC {
			known[cc] = true
		}
	}
	return &known
})

// shortMetadata indexes the short-number metadata by region.
var shortMetadata = sync.OnceValue(func() map[string]*phonenumbers.PhoneMetadata {
	idx := map[string]*phonenumbers.PhoneMetadata{}
	coll, _ := phonenumbers.ShortNumberMetadataCollection()
	for _, m := range coll.GetMetadata() {
		idx[m.GetId()] = m
	}
	return idx
})

func buildCodeRules(cc int, regions []string) *codeRules {
	c := &codeRules{cc: cc, digits: strconv.Itoa(cc), regions: regions, ok: true}
	for _, region := range regions {
		r, ok := buildRegionRules(region, cc)
		if !ok {
			c.ok = false
			return c
		}
		c.rules = append(c.rules, r)
	}
	return c
}

func buildRegionRules(region string, cc int) (*regionRules, bool) {
	m := regionMetadata(region, cc)
	if m == nil {
		return nil, false
	}
	r := &regionRules{id: region, sameMobileAndFixed: m.GetSameMobileAndFixedLinePattern()}
	descs := [numDescs]*phonenumbers.PhoneNumberDesc{
		descGeneral:        m.GetGeneralDesc(),
		descPremiumRate:    m.GetPremiumRate(),
		descTollFree:       m.GetTollFree(),
		descSharedCost:     m.GetSharedCost(),
		descVoIP:           m.GetVoip(),
		descPersonalNumber: m.GetPersonalNumber(),
		descPager:          m.GetPager(),
		descUAN:            m.GetUan(),
		descVoicemail:      m.GetVoicemail(),
		descFixedLine:      m.GetFixedLine(),
		descMobile:         m.GetMobile(),
	}
	var patterns [numDescs]string
	for i, d := range descs {
		// A missing description matches nothing; an empty pattern matches
		// only the empty string, which no national number is.
		patterns[i] = d.GetNationalNumberPattern()
		for l := range r.lengths {
			if d != nil && (len(d.GetPossibleLength()) == 0 || containsLength(d.GetPossibleLength(), l)) {
				r.lengths[l] |= 1 << i
			}
		}
	}
	var err error
	if r.types, err = compileDFA(patterns[:]...); err != nil {
		return nil, false
	}
	if p := m.GetLeadingDigits(); p != "" {
		if r.leading, err = compileDFA(p); err != nil {
			return nil, false
		}
	}
	general := m.GetGeneralDesc()
	r.generalDesc = general
	if p := m.GetNationalPrefixForParsing(); p != "" {
		if r.nationalPrefix, err = compileDFA(p); err != nil {
			return nil, false
		}
		r.stripPrefix = m.GetNationalPrefixTransformRule() == "" && longestIsFirst(p, r.nationalPrefix)
		if !r.stripPrefix {
			if r.prefixRE, err = regexp.Compile("^(?:" + p + ")"); err != nil {
				return nil, false
			}
			r.transformRule = m.GetNationalPrefixTransformRule()
		}
	}
	if len(general.GetPossibleLength()) == 0 {
		// testNumberLength would fail on it.
		return nil, false
	}
	if p := m.GetInternationalPrefix(); p != "" {
		if idd, err := compileDFA(p); err == nil && idd.accept[dfaStart] == 0 {
			r.idd = idd
			r.iddLongest = longestIsFirst(p, idd)
		}
	}
	for l := range r.possibility {
		r.possibility[l] = possibility(general, l)
		switch testLength(general, l) {
		case phonenumbers.TOO_SHORT, phonenumbers.IS_POSSIBLE_LOCAL_ONLY, phonenumbers.INVALID_LENGTH:
		default:
			r.strippable[l] = true
		}
	}
	if sm := shortMetadata()[region]; sm != nil {
		// MatchNationalNumber finds no match in an empty pattern, and a
		// pattern "" compiles to one that matches only no digits.
		if r.short, err = compileDFA(sm.GetGeneralDesc().GetNationalNumberPattern(), sm.GetShortCode().GetNationalNumberPattern()); err != nil {
			return nil, false
		}
		for i, d := range []*phonenumbers.PhoneNumberDesc{sm.GetGeneralDesc(), sm.GetShortCode()} {
			if d == nil {
				continue // no pattern: the automaton matches nothing
			}
			lengths := d.GetPossibleLength()
			if len(lengths) == 0 {
				r.shortLengths[i] = ^uint32(0)
			}
			for _, l := range lengths {
				if 0 <= l && l < 32 {
					r.shortLengths[i] |= 1 << l
				}
			}
		}
		if e := sm.GetEmergency(); e.GetNationalNumberPattern() != "" {
			if r.emergency, err = compileDFA(e.GetNationalNumberPattern()); err != nil {
				return nil, false
			}
		}
	}
	r.extraEmergency = extraEmergency[region]
	return r, true
}

func containsLength(lengths []int32, l int) bool {
	for _, x := range lengths {
		if int(x) == l {
			return true
		}
	}
	return false
}

// possibility is IsPossibleNumberWithReason for a national number of l
// digits under the general description of the code's main region: the
// library's testNumberLength with the type UNKNOWN.
func possibility(general *phonenumbers.PhoneNumberDesc, l int) phonenumbers.ValidationResult {
	if general.GetNationalNumberPattern() == "" {
		switch {
		case l < 2:
			return phonenumbers.TOO_SHORT
		case l > maxNSNLen:
			return phonenumbers.TOO_LONG
		}
		return phonenumbers.IS_POSSIBLE
	}
	return testLength(general, l)
}

// testLength is the library's testNumberLength for the type UNKNOWN: the
// general description's lengths alone.
func testLength(general *phonenumbers.PhoneNumberDesc, l int) phonenumbers.ValidationResult {
	lengths := general.GetPossibleLength()
	if len(lengths) == 0 || lengths[0] == -1 {
		return phonenumbers.INVALID_LENGTH
	}
	if containsLength(general.GetPossibleLengthLocalOnly(), l) {
		return phonenumbers.IS_POSSIBLE_LOCAL_ONLY
	}
	switch {
	case int(lengths[0]) == l:
		return phonenumbers.IS_POSSIBLE
	case int(lengths[0]) > l:
		return phonenumbers.TOO_SHORT
	case int(lengths[len(lengths)-1]) < l:
		return phonenumbers.TOO_LONG
	case containsLength(lengths[1:], l):
		return phonenumbers.IS_POSSIBLE
	}
	return phonenumbers.INVALID_LENGTH
}

// longestIsFirst reports whether, on any digits, the national prefix
// pattern p (compiled as d) matches the longest of the prefixes it could
// match, as d.longestPrefix finds it, when run as libphonenumber runs it:
// "^(?:p)" in package regexp, which takes the first alternative that
// matches, not the longest. Checking each word of the pattern's finite
// language suffices: on any input the candidates are the words that
// prefix it, and those are the words that prefix the longest of them.
func longestIsFirst(p string, d *digitDFA) bool {
	words, ok := d.prefixLanguage(4096)
	if !ok {
		return false
	}
	re, err := regexp.Compile("^(?:" + p + ")")
	if err != nil {
		return false
	}
	for _, w := range words {
		if loc := re.FindStringIndex(w); loc == nil || loc[1] != len(w) {
			return false
		}
	}
	return true
}

// regionCodes maps each supported region to its country calling code.
var regionCodes = sync.OnceValue(func() map[string]int {
	codes := map[string]int{}
	for r := range phonenumbers.GetSupportedRegions() {
		codes[r] = phonenumbers.GetCountryCodeForRegion(r)
	}
	return codes
})

// fastNormalizeKey is NormalizeKey for the inputs it knows. decided is
// false when the input needs normalize; n and err are then zero.
func fastNormalizeKey(raw, region, defaultRegion string) (n Number, decided bool, err error) {
	orig := raw
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > maxRawLen {
		return Number{}, false, nil
	}
	var buf [maxRawLen]byte
	digits := buf[:0]
	plus := false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			digits = append(digits, c)
		case '+':
			// Only in front: libphonenumber reads a later one as no number.
			if plus || len(digits) > 0 {
				return Number{}, false, nil
			}
			plus = true
		case ' ', '-', '.', '(', ')':
		default:
			// Letters, extensions, tel: URIs, other scripts' digits.
			return Number{}, false, nil
		}
	}
	if len(digits) < 3 {
		// libphonenumber's errors for too few digits.
		return Number{}, false, nil
	}

	if region == "" {
		region = defaultRegion
	}
	var c *codeRules
	var national []byte
	var parse *regionRules // the rules libphonenumber parses with
	if plus {
		if digits[0] == '0' {
			return Number{}, false, nil
		}
		cc := 0
		for l := 1; l <= 3; l++ {
			cc = cc*10 + int(digits[l-1]-'0')
			if c = rulesFor(cc); c != nil {
				national = digits[l:]
				break
			}
		}
		if c == nil || !c.ok {
			return Number{}, false, nil
		}
		parse = c.rules[0]
		if region == "" {
			// internationalRegion, which wants the plus in front.
			if raw[0] != '+' {
				return Number{}, false, nil
			}
			region = c.regions[0]
			if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
				region = "US"
			}
		}
	}
	region, ok := upperRegion(region)
	if !ok {
		return Number{}, false, nil
	}
	cc, ok := regionCodes()[region]
	if !ok {
		return Number{}, false, nil
	}
	if len(digits) <= maxEmergencyDigits && !plus {
		// isEmergency on the input, in the caller's region; libphonenumber
		// knows no emergency number after a plus.
		home := rulesFor(cc)
		if home == nil || !home.ok {
			return Number{}, false, nil
		}
		if home.rules[home.index(region)].isEmergency(digits) {
			return Number{}, true, errEmergency()
		}
	}
	if !plus {
		if c = rulesFor(cc); c == nil || !c.ok {
			return Number{}, false, nil
		}
		parse = c.rules[c.index(region)]
		if c, parse, national, ok = c.extractCountryCode(parse, digits); !ok {
			return Number{}, false, nil
		}
	}
	short := c.shortIndex(region)
	f, ok := c.read(parse, national, short)
	if !ok {
		return Number{}, false, nil
	}
	if f.failed() {
		n, err := c.result(raw, f, short)
		return n, true, err
	}
	f, ok, err = c.settle(orig, f, short)
	if !ok || err != nil {
		return Number{}, ok, err
	}
	return c.number(f), true, nil
}

// extractCountryCode is maybeExtractCountryCode for digits without a plus,
// dialled in the region of home whose rules are parse: after an IDD, the
// country code that follows; digits that start with home's code and read
// better without it, that code; else none. It returns the rules of the
// code, those libphonenumber then parses with, and the digits after the
// code; ok is false when the fast path cannot tell.
func (home *codeRules) extractCountryCode(parse *regionRules, digits []byte) (c *codeRules, rules *regionRules, national []byte, ok bool) {
	if parse.idd == nil {
		return nil, nil, nil, false
	}
	if parse.idd.matchPrefix(digits) {
		// parsePrefixAsIdd, which keeps the IDD when a 0 follows it.
		if !parse.iddLongest {
			return nil, nil, nil, false
		}
		// With nothing after it, the IDD is stripped too.
		if end := parse.idd.longestPrefix(digits); end == len(digits) || digits[end] != '0' {
			rest := digits[end:]
			if len(rest) <= 2 {
				return nil, nil, nil, false // ErrTooShortAfterIDD
			}
			for l := 1; l <= 3 && l <= len(rest); l++ {
				cc := 0
				for _, d := range rest[:l] {
					cc = cc*10 + int(d-'0')
				}
				if c = rulesFor(cc); c != nil {
					if !c.ok {
						return nil, nil, nil, false
					}
					return c, c.rules[0], rest[l:], true
				}
			}
			return nil, nil, nil, false // ErrInvalidCountryCode
		}
	}
	if len(digits) > len(home.digits) && string(digits[:len(home.digits)]) == home.digits {
		// The code without a plus, taken if the number without it, and
		// without its national prefix, matches the general pattern where
		// the whole did not, or if the whole is too long.
		potential := parse.stripNationalPrefix(digits[len(home.digits):])
		fullValid := parse.general(digits)
		if !fullValid && parse.general(potential) || testLength(parse.generalDesc, len(digits)) == phonenumbers.TOO_LONG {
			return home, home.rules[0], potential, true
		}
	}
	return home, parse, digits, true
}

// fastRead is one reading of a number on the fast path, normalizeOnce's
// answer for a full number.
type fastRead struct {
	// nsn is the national significant number.
	nsn []byte
	// at is the index of the number's region, -1 for none.
	at  int
	typ phonenumbers.PhoneNumberType
	// reason is IsPossibleNumberWithReason's verdict when typ is UNKNOWN.
	reason phonenumbers.ValidationResult
	// emergency and scoped are set for an emergency number and a service
	// number of the caller's region (the region at short).
	emergency, scoped bool
}

// read is normalizeOnce from ParseToNumber on: national, the digits after
// any country code, as libphonenumber parses them in the rules of parse,
// for a caller in the region of index short (-1 for none). ok is false
// when the fast path cannot tell.
func (c *codeRules) read(parse *regionRules, national []byte, short int) (f fastRead, ok bool) {
	if len(national) < 2 || len(national) > maxNSNLen {
		return fastRead{}, false
	}
	// parseHelper keeps the stripping of a national prefix only if what is
	// left has a possible length.
	nsn := national
	if potential := parse.stripNationalPrefix(national); len(potential) <= maxNSNLen && parse.strippable[len(potential)] {
		nsn = potential
	} else if len(potential) > maxNSNLen {
		return fastRead{}, false
	}
	if len(nsn) < 2 {
		return fastRead{}, false
	}
	return c.classify(nsn, short), true
}

// stripNationalPrefix is maybeStripNationalPrefixAndCarrierCode: national
// without its national prefix, unless that turns a number of the general
// pattern into one outside it. The result may share national's memory.
func (r *regionRules) stripNationalPrefix(national []byte) []byte {
	if r.nationalPrefix == nil || !r.nationalPrefix.matchPrefix(national) {
		return national
	}
	viable := r.general(national)
	if r.stripPrefix {
		stripped := national[r.nationalPrefix.longestPrefix(national):]
		if viable && !r.general(stripped) {
			return national
		}
		return stripped
	}
	// A transform rule, or a pattern whose longest match is not always the
	// one package regexp picks: the library's own steps. They allocate, but
	// few regions need them. (A copy in a string keeps national, which is
	// on the caller's stack, from escaping through package regexp.)
	number := string(national)
	groups := r.prefixRE.FindStringSubmatchIndex(number)
	last := len(groups)/2 - 1
	if r.transformRule == "" || groups[last*2] < 0 {
		if viable && !r.general(national[groups[1]:]) {
			return national
		}
		return national[groups[1]:]
	}
	transformed := []byte(r.prefixRE.ReplaceAllString(number, r.transformRule))
	if viable && !r.general(transformed) {
		return national
	}
	return transformed
}

// general reports whether the general description's pattern matches all of
// digits, as the library's nationalNumberRule does.
func (r *regionRules) general(digits []byte) bool {
	return r.types.match(digits)&(1<<descGeneral) != 0
}

// classify is normalizeOnce after the parse: the type and region of a full
// number of c, or what else its national significant number is, for a
// caller in the region of index short (-1 for none).
func (c *codeRules) classify(nsn []byte, short int) fastRead {
	f := fastRead{nsn: nsn, reason: phonenumbers.IS_POSSIBLE}
	f.at, f.typ = c.regionFor(nsn)
	if f.typ != phonenumbers.UNKNOWN {
		return f
	}
	// Not valid: an emergency or service number of shortRegion, a
	// possible number, or an error.
	if short >= 0 {
		s := c.rules[short]
		if len(nsn) <= maxEmergencyDigits && s.isEmergency(nsn) {
			f.emergency = true
			return f
		}
		if s.isService(nsn) {
			f.scoped = true
			return f
		}
	}
	f.reason = c.rules[0].possibility[len(nsn)]
	return f
}

// failed reports whether normalizeOnce gives no full number: an error, an
// emergency or a service number.
func (f *fastRead) failed() bool {
	return f.emergency || f.scoped || f.typ == phonenumbers.UNKNOWN && f.reason != phonenumbers.IS_POSSIBLE
}

// settle is settle of number.go on the fast path: while the national
// prefix pattern of the main region matches the start of f's national
// significant number, its key is read again, as normalize would read it.
// orig is the input as given, for the error.
func (c *codeRules) settle(orig string, f fastRead, short int) (fastRead, bool, error) {
	main := c.rules[0]
	for range maxSettle {
		if main.nationalPrefix == nil || !main.nationalPrefix.matchPrefix(f.nsn) {
			return f, true, nil
		}
		g, ok := c.read(main, f.nsn, short)
		if !ok {
			return fastRead{}, false, nil
		}
		if !g.failed() && string(g.nsn) == string(f.nsn) && g.typ == f.typ {
			return f, true, nil
		}
		if g.failed() || f.typ != phonenumbers.UNKNOWN || g.typ != phonenumbers.UNKNOWN {
			break
		}
		f = g
	}
	return fastRead{}, true, errPrefixTooMany(orig, c.key(f.nsn))
}

// shortIndex is shortRegion: the index of the region whose short numbers
// a number of c may be for a caller in region, -1 for none.
func (c *codeRules) shortIndex(region string) int {
	short := c.index(region)
	if short < 0 && c.regions[0] != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
		short = 0
	}
	return short
}

// result is normalizeOnce's answer for f, read from raw by a caller in the
// region at short.
func (c *codeRules) result(raw string, f fastRead, short int) (Number, error) {
	switch {
	case f.emergency:
		return Number{}, errEmergency()
	case f.scoped:
		return scopedNumber(c.regions[short], string(f.nsn)), nil
	case f.failed():
		return Number{}, possibilityError(raw, f.reason, c.cc)
	}
	return c.number(f), nil
}

// key is the E.164 key of a national significant number of c.
func (c *codeRules) key(nsn []byte) string {
	var kb [1 + 3 + maxNSNLen]byte
	return string(append(append(append(kb[:0], '+'), c.digits...), nsn...))
}

// number is the Number of a full number read on the fast path.
func (c *codeRules) number(f fastRead) Number {
	region := ""
	if f.at >= 0 && c.regions[f.at] != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
		region = c.regions[f.at]
	}
	key := c.key(f.nsn)
	return Number{
		Key:    key,
		E164:   key,
		Region: region,
		Type:   numberType(f.typ),
		Valid:  f.typ != phonenumbers.UNKNOWN,
	}
}
