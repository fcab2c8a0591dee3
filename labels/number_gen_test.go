package labels_test

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// numberGen makes phone-number inputs from libphonenumber's own metadata:
// each region's example numbers with digits replaced, digits of the
// region's possible lengths, a length off by one, stray leading zeros and
// national prefixes, in E.164 and national format, with and without
// formatting. About half of what it makes is valid.
type numberGen struct {
	rng   *rand.Rand
	metas []*phonenumbers.PhoneMetadata
	// regions are the supported regions, for callers abroad.
	regions []string
}

func newNumberGen(tb testing.TB, seed uint64) *numberGen {
	tb.Helper()
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		tb.Fatal(err)
	}
	g := &numberGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for _, m := range coll.GetMetadata() {
		if m.GetCountryCode() == 0 {
			continue
		}
		g.metas = append(g.metas, m)
		if phonenumbers.GetSupportedRegions()[m.GetId()] {
			g.regions = append(g.regions, m.GetId())
		}
	}
	return g
}

// descs lists the number types of m that have an example number.
func exampleNumbers(m *phonenumbers.PhoneMetadata) []string {
	var out []string
	for _, d := range []*phonenumbers.PhoneNumberDesc{
		m.GetFixedLine(), m.GetMobile(), m.GetTollFree(), m.GetPremiumRate(),
		m.GetSharedCost(), m.GetPersonalNumber(), m.GetVoip(), m.GetPager(),
		m.GetUan(), m.GetVoicemail(),
	} {
		if ex := d.GetExampleNumber(); ex != "" {
			out = append(out, ex)
		}
	}
	return out
}

// next returns an input and the region it is dialled in.
func (g *numberGen) next() (raw, region string) {
	m := g.metas[g.rng.IntN(len(g.metas))]
	nsn := g.nsn(m)
	region = m.GetId()
	if !phonenumbers.GetSupportedRegions()[region] || g.rng.IntN(10) == 0 {
		// A caller abroad, or a non-geographic number.
		region = g.regions[g.rng.IntN(len(g.regions))]
	}
	if region == m.GetId() && g.rng.IntN(5) == 0 {
		return g.national(m, nsn), region
	}
	if g.rng.IntN(10) == 0 {
		// Dialled from region with its IDD, or with the country code and
		// no plus.
		cc := strconv.Itoa(int(m.GetCountryCode()))
		if idd := g.idd(region); idd != "" && g.rng.IntN(2) == 0 {
			return idd + " " + cc + " " + nsn, region
		}
		return cc + nsn, region
	}
	return g.international(m, nsn), region
}

// idd returns an international prefix of region, "" if none is plain
// digits.
func (g *numberGen) idd(region string) string {
	for _, m := range g.metas {
		if m.GetId() != region {
			continue
		}
		if p := m.GetPreferredInternationalPrefix(); p != "" && allDigits(p) {
			return p
		}
		if p := m.GetInternationalPrefix(); allDigits(p) {
			return p
		}
	}
	return ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (g *numberGen) digit() byte { return byte('0' + g.rng.IntN(10)) }

// nsn makes a national significant number for m.
func (g *numberGen) nsn(m *phonenumbers.PhoneMetadata) string {
	var b []byte
	examples := exampleNumbers(m)
	lengths := m.GetGeneralDesc().GetPossibleLength()
	switch k := g.rng.IntN(10); {
	case k < 6 && len(examples) > 0:
		// An example number with its tail replaced: mostly valid.
		ex := examples[g.rng.IntN(len(examples))]
		keep := len(ex) - g.rng.IntN(min(len(ex), 7)+1)
		b = append(b, ex[:keep]...)
		for len(b) < len(ex) {
			b = append(b, g.digit())
		}
	case k < 9 && len(lengths) > 0:
		// Random digits of a possible length: mostly invalid.
		n := int(lengths[g.rng.IntN(len(lengths))])
		for range n {
			b = append(b, g.digit())
		}
	default:
		n := 2 + g.rng.IntN(16)
		for range n {
			b = append(b, g.digit())
		}
	}
	switch g.rng.IntN(20) {
	case 0:
		b = append([]byte{'0'}, b...)
	case 1:
		b = append([]byte(m.GetNationalPrefix()), b...)
	case 2:
		b = append(b, g.digit())
	case 3:
		if len(b) > 1 {
			b = b[:len(b)-1]
		}
	}
	return string(b)
}

func (g *numberGen) international(m *phonenumbers.PhoneMetadata, nsn string) string {
	cc := strconv.Itoa(int(m.GetCountryCode()))
	switch g.rng.IntN(8) {
	case 0:
		return "+" + cc + " " + g.group(nsn, " ")
	case 1:
		return "+" + cc + "-" + g.group(nsn, "-")
	case 2:
		return "(+" + cc + ") " + g.group(nsn, " ")
	default:
		return "+" + cc + nsn
	}
}

func (g *numberGen) national(m *phonenumbers.PhoneMetadata, nsn string) string {
	if p := m.GetNationalPrefix(); p != "" && g.rng.IntN(3) == 0 {
		nsn = p + nsn
	}
	switch g.rng.IntN(4) {
	case 0:
		if m.GetCountryCode() == 1 && len(nsn) == 10 {
			return "(" + nsn[:3] + ") " + nsn[3:6] + "-" + nsn[6:]
		}
		return g.group(nsn, " ")
	case 1:
		return g.group(nsn, "-")
	default:
		return nsn
	}
}

// group splits digits into groups of 2 to 4 joined by sep.
func (g *numberGen) group(digits, sep string) string {
	var parts []string
	for len(digits) > 0 {
		n := min(len(digits), 2+g.rng.IntN(3))
		parts = append(parts, digits[:n])
		digits = digits[n:]
	}
	return strings.Join(parts, sep)
}

// nextPrefixed returns a number with one to three national prefixes or
// zeros in front of its national significant number, in E.164 or national
// format: the shape of inputs whose keys used to drift.
func (g *numberGen) nextPrefixed() (raw, region string) {
	m := g.metas[g.rng.IntN(len(g.metas))]
	nsn := g.nsn(m)
	prefix := m.GetNationalPrefix()
	if prefix == "" || g.rng.IntN(2) == 0 {
		prefix = "0"
	}
	for range 1 + g.rng.IntN(3) {
		nsn = prefix + nsn
	}
	region = m.GetId()
	if !phonenumbers.GetSupportedRegions()[region] {
		region = g.regions[g.rng.IntN(len(g.regions))]
	}
	if region == m.GetId() && g.rng.IntN(2) == 0 {
		return nsn, region
	}
	return "+" + strconv.Itoa(int(m.GetCountryCode())) + nsn, region
}

// prodGen makes the mix of inputs that lookups see in production: mostly
// E.164, a fifth in national format with the region, about half of them
// valid and half unassigned (the shape of spoofed caller IDs), with the
// shapes that start like a national prefix (a national "0", China's +86
// 1[12]… and 179… spoofs) and a few that only the slow path reads (an IDD,
// an extension, a tel: URI, a "(0)" inside an E.164 number).
type prodGen struct {
	*numberGen
	countries []prodCountry
	total     int
}

// prodCountry is one country of the mix and its weight.
type prodCountry struct {
	region string
	weight int
	meta   *phonenumbers.PhoneMetadata
}

func newProdGen(tb testing.TB, seed uint64) *prodGen {
	tb.Helper()
	g := &prodGen{numberGen: newNumberGen(tb, seed)}
	weights := []struct {
		region string
		weight int
	}{
		{"CN", 30}, {"US", 16}, {"CA", 3}, {"IN", 9}, {"GB", 7}, {"DE", 6},
		{"FR", 3}, {"JP", 3}, {"BR", 2}, {"RU", 2}, {"KR", 2}, {"AU", 2},
		{"IT", 1}, {"ES", 1}, {"MX", 1}, {"HK", 1}, {"TW", 1}, {"SG", 1},
		// The rest of the world, through numberGen.
		{"", 9},
	}
	for _, w := range weights {
		c := prodCountry{region: w.region, weight: w.weight}
		if w.region != "" {
			for _, m := range g.metas {
				if m.GetId() == w.region {
					c.meta = m
				}
			}
			if c.meta == nil {
				tb.Fatalf("no metadata for %s", w.region)
			}
		}
		g.countries = append(g.countries, c)
		g.total += w.weight
	}
	return g
}

// next returns an input and the region of the user who looks it up.
func (g *prodGen) next() (raw, region string) {
	k := g.rng.IntN(g.total)
	var c prodCountry
	for _, c = range g.countries {
		if k < c.weight {
			break
		}
		k -= c.weight
	}
	if c.meta == nil {
		return g.numberGen.next()
	}
	m := c.meta
	nsn := g.prodNSN(m)
	region = m.GetId()
	switch k := g.rng.IntN(100); {
	case k < 20:
		return g.prodNational(m, nsn), region
	case k < 21:
		return g.oddShape(m, nsn), region
	case k < 23:
		return g.nextShort()
	case k < 45:
		// A user abroad, or a Chinese user called from abroad.
		if g.rng.IntN(2) == 0 {
			region = "CN"
		} else {
			region = g.regions[g.rng.IntN(len(g.regions))]
		}
	}
	return g.international(m, nsn), region
}

// prodNSN makes a national significant number of m: half an example number
// with its tail replaced (mostly valid), half random digits of a possible
// length or a spoof shape (mostly invalid).
func (g *prodGen) prodNSN(m *phonenumbers.PhoneMetadata) string {
	var b []byte
	if g.rng.IntN(2) == 0 {
		ex := []string{m.GetMobile().GetExampleNumber(), m.GetFixedLine().GetExampleNumber()}[g.rng.IntN(2)]
		keep := len(ex) - min(4, len(ex)-3)
		b = append(b, ex[:keep]...)
		for len(b) < len(ex) {
			b = append(b, g.digit())
		}
		return string(b)
	}
	lengths := m.GetGeneralDesc().GetPossibleLength()
	n := int(lengths[g.rng.IntN(len(lengths))])
	switch {
	case m.GetId() == "CN" && g.rng.IntN(3) == 0:
		// Spoofs that start like China's carrier prefixes 1[12]xx and 179xx.
		b = append(b, []string{"11", "12", "179"}[g.rng.IntN(3)]...)
		n = 11 + g.rng.IntN(2)
	case g.rng.IntN(10) == 0:
		// A digit too many or too few.
		n += 1 - 2*g.rng.IntN(2)
	}
	for len(b) < n {
		b = append(b, g.digit())
	}
	return string(b)
}

// prodNational formats nsn as dialled at home: NANPA's (415) 555-0123,
// China's mobiles bare and its landlines with the 0, elsewhere the
// national prefix and groups.
func (g *prodGen) prodNational(m *phonenumbers.PhoneMetadata, nsn string) string {
	switch {
	case m.GetCountryCode() == 1 && len(nsn) == 10:
		if g.rng.IntN(4) == 0 {
			return nsn[:3] + "-" + nsn[3:6] + "-" + nsn[6:]
		}
		return "(" + nsn[:3] + ") " + nsn[3:6] + "-" + nsn[6:]
	case m.GetId() == "CN" && len(nsn) == 11 && nsn[0] == '1':
		return nsn[:3] + " " + nsn[3:7] + " " + nsn[7:]
	case m.GetId() == "IN" && len(nsn) == 10:
		return "0" + nsn[:5] + " " + nsn[5:]
	}
	if p := m.GetNationalPrefix(); p != "" && m.GetCountryCode() != 1 {
		nsn = p + nsn
	}
	if len(nsn) > 4 && g.rng.IntN(3) > 0 {
		return nsn[:3] + " " + g.group(nsn[3:], " ")
	}
	return nsn
}

// oddShape writes nsn in one of the rarer shapes: IDD, an extension, a tel:
// URI, a "(0)" after the country code.
func (g *prodGen) oddShape(m *phonenumbers.PhoneMetadata, nsn string) string {
	cc := strconv.Itoa(int(m.GetCountryCode()))
	switch g.rng.IntN(4) {
	case 0:
		return "00" + cc + " " + nsn
	case 1:
		return "+" + cc + " " + nsn + " ext. " + strconv.Itoa(1+g.rng.IntN(999))
	case 2:
		return "tel:+" + cc + "-" + g.group(nsn, "-")
	default:
		return "+" + cc + " (0)" + nsn
	}
}

// nextShort returns a short number: a region's example short code,
// emergency or carrier number with digits changed, China's 95xxx, 96xxx and
// 12xxx lines, or a few random digits, dialled as such, with the country
// code or after a national prefix.
func (g *numberGen) nextShort() (raw, region string) {
	coll, err := phonenumbers.ShortNumberMetadataCollection()
	if err != nil {
		panic(err)
	}
	metas := coll.GetMetadata()
	sm := metas[g.rng.IntN(len(metas))]
	region = sm.GetId()
	var b []byte
	switch k := g.rng.IntN(6); {
	case k == 0 && region == "CN" || k == 1 && g.rng.IntN(10) == 0:
		region = "CN"
		b = append(b, []string{"95", "96", "12", "10"}[g.rng.IntN(4)]...)
		for range 3 {
			b = append(b, g.digit())
		}
	case k < 4:
		descs := []*phonenumbers.PhoneNumberDesc{sm.GetShortCode(), sm.GetEmergency(), sm.GetCarrierSpecific(), sm.GetStandardRate(), sm.GetTollFree()}
		b = append(b, descs[g.rng.IntN(len(descs))].GetExampleNumber()...)
		if len(b) > 2 && g.rng.IntN(2) == 0 {
			b[len(b)-1] = g.digit()
		}
	default:
		for range 2 + g.rng.IntN(6) {
			b = append(b, g.digit())
		}
	}
	cc := phonenumbers.GetCountryCodeForRegion(region)
	switch g.rng.IntN(4) {
	case 0:
		return "+" + strconv.Itoa(cc) + " " + string(b), region
	case 1:
		if p := phonenumbers.GetNddPrefixForRegion(region, true); p != "" {
			return p + string(b), region
		}
	}
	return string(b), region
}
