package labels

import (
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
// the parse is redone for the inputs that need none of its subtleties:
// ASCII digits with common punctuation, in E.164 or in national format
// without a national prefix, IDD or carrier code. Anything else, and every
// case where libphonenumber or callrep's own rules would do more than the
// fast path knows (short, service and emergency numbers, national
// prefixes, errors other than length), goes to normalize, which stays the
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
	// idd is the international prefix; nil when the region has none or one
	// that matches the empty string, which the fast path does not take.
	idd *digitDFA
	// possibility[l] is testNumberLength's verdict on l digits.
	possibility [maxNSNLen + 1]phonenumbers.ValidationResult
	// shortLengths has bit l set when a short number of l digits may be
	// valid in the region.
	shortLengths uint32
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

// regionFor is GetRegionCodeForNumber: the index of the region nsn belongs
// to, -1 for none.
func (c *codeRules) regionFor(nsn []byte) int {
	if len(c.regions) == 1 {
		return 0
	}
	for i, r := range c.rules {
		if r.leading != nil {
			if r.leading.matchPrefix(nsn) {
				return i
			}
		} else if r.typeOf(nsn) != phonenumbers.UNKNOWN {
			return i
		}
	}
	return -1
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
	if p := m.GetNationalPrefixForParsing(); p != "" {
		if r.nationalPrefix, err = compileDFA(p); err != nil {
			return nil, false
		}
	}
	if p := m.GetInternationalPrefix(); p != "" {
		if idd, err := compileDFA(p); err == nil && idd.accept[dfaStart] == 0 {
			r.idd = idd
		}
	}
	general := m.GetGeneralDesc()
	for l := range r.possibility {
		r.possibility[l] = possibility(general, l)
	}
	if sm := shortMetadata()[region]; sm != nil {
		lengths := sm.GetGeneralDesc().GetPossibleLength()
		if len(lengths) == 0 {
			r.shortLengths = ^uint32(0)
		}
		for _, l := range lengths {
			if 0 <= l && l < 32 {
				r.shortLengths |= 1 << l
			}
		}
	}
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
	if len(digits) <= maxEmergencyDigits {
		// Emergency and short numbers.
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
	if !plus {
		if c = rulesFor(cc); c == nil || !c.ok {
			return Number{}, false, nil
		}
		parse = c.rules[c.index(region)]
		if parse.idd == nil || parse.idd.matchPrefix(digits) {
			return Number{}, false, nil
		}
		if len(digits) >= len(c.digits) && string(digits[:len(c.digits)]) == c.digits {
			// Maybe the country code without a plus.
			return Number{}, false, nil
		}
		national = digits
	}
	if len(national) < 2 || len(national) > maxNSNLen {
		return Number{}, false, nil
	}
	// A national prefix to strip, in the rules of the parse or in those of
	// the main region, which parse the key again.
	if parse.nationalPrefix != nil && parse.nationalPrefix.matchPrefix(national) {
		return Number{}, false, nil
	}
	if main := c.rules[0]; main != parse && main.nationalPrefix != nil && main.nationalPrefix.matchPrefix(national) {
		return Number{}, false, nil
	}
	nsn := national

	at := c.regionFor(nsn)
	typ := phonenumbers.UNKNOWN
	numberRegion := ""
	if at >= 0 {
		typ = c.rules[at].typeOf(nsn)
		if r := c.regions[at]; r != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
			numberRegion = r
		}
	}
	if typ == phonenumbers.UNKNOWN {
		// shortRegion, then the checks normalize makes of a short number.
		short := c.index(region)
		if short < 0 && c.regions[0] != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
			short = 0
		}
		if short >= 0 {
			if len(nsn) <= maxEmergencyDigits || c.regions[short] == "CN" && len(nsn) == 5 {
				return Number{}, false, nil
			}
			if c.rules[short].shortLengths&(1<<len(nsn)) != 0 {
				return Number{}, false, nil
			}
		}
		if r := c.rules[0].possibility[len(nsn)]; r != phonenumbers.IS_POSSIBLE {
			return Number{}, true, possibilityError(raw, r, c.cc)
		}
	}
	var kb [1 + 3 + maxNSNLen]byte
	key := string(append(append(append(kb[:0], '+'), c.digits...), nsn...))
	return Number{
		Key:    key,
		E164:   key,
		Region: numberRegion,
		Type:   numberType(typ),
		Valid:  typ != phonenumbers.UNKNOWN,
	}, true, nil
}
