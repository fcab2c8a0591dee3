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
	return g.international(m, nsn), region
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
