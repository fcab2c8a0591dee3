package labels

import (
	"math/rand/v2"
	"regexp"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestCompileDFA(t *testing.T) {
	d, err := compileDFA(`1[3-9]\d{9}`, `(?:10|2[0-57-9])\d{8}`, `\d{5,6}`)
	if err != nil {
		t.Fatal(err)
	}
	scenarios := []struct {
		digits string
		want   uint16
	}{
		{"13800138000", 1},
		{"12800138000", 0},
		{"1012345678", 2},
		{"95588", 4},
		{"955880", 4},
		{"9558800", 0},
		{"", 0},
	}
	for _, s := range scenarios {
		if got := d.match([]byte(s.digits)); got != s.want {
			t.Errorf("match(%q): got %b, want %b", s.digits, got, s.want)
		}
	}
	p, err := compileDFA(`0|(1(?:[12]\d|79)\d\d)`)
	if err != nil {
		t.Fatal(err)
	}
	for digits, want := range map[string]bool{"0": true, "0123": true, "17900": true, "1790": false, "17": false, "138": false, "": false} {
		if got := p.matchPrefix([]byte(digits)); got != want {
			t.Errorf("matchPrefix(%q): got %v, want %v", digits, got, want)
		}
	}
	e, err := compileDFA(`([2-9]\d{6})$|1`)
	if err != nil {
		t.Fatal(err)
	}
	for digits, want := range map[string]bool{"2345678": true, "23456789": false, "1": true, "1999": true, "234": false} {
		if got := e.matchPrefix([]byte(digits)); got != want {
			t.Errorf("matchPrefix(%q) of a pattern with $: got %v, want %v", digits, got, want)
		}
	}
	for digits, want := range map[string]int{"0": 1, "0123": 1, "17900": 5, "179001": 5, "1790": -1, "": -1} {
		if got := p.longestPrefix([]byte(digits)); got != want {
			t.Errorf("longestPrefix(%q): got %d, want %d", digits, got, want)
		}
	}
	if _, err := compileDFA(`^1\d$`); err == nil {
		t.Errorf("compileDFA with anchors: got no error, want one")
	}
}

// TestCompileDFA_Metadata: every national number pattern of every region
// compiles and agrees with package regexp on random digits and on the
// region's example numbers.
func TestCompileDFA_Metadata(t *testing.T) {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, m := range coll.GetMetadata() {
		descs := []*phonenumbers.PhoneNumberDesc{m.GetGeneralDesc(), m.GetFixedLine(), m.GetMobile(), m.GetTollFree(), m.GetPremiumRate()}
		for _, desc := range descs {
			p := desc.GetNationalNumberPattern()
			d, err := compileDFA(p)
			if err != nil {
				t.Errorf("%s: compileDFA(%q): %v", m.GetId(), p, err)
				continue
			}
			re := regexp.MustCompile("^(?:" + p + ")$")
			inputs := []string{desc.GetExampleNumber()}
			for range 200 {
				b := []byte(desc.GetExampleNumber())
				from := rng.IntN(len(b) + 1)
				if len(b) == 0 || rng.IntN(3) == 0 {
					b, from = make([]byte, 1+rng.IntN(17)), 0
				}
				for j := from; j < len(b); j++ {
					b[j] = byte('0' + rng.IntN(10))
				}
				inputs = append(inputs, string(b))
			}
			for _, in := range inputs {
				if got, want := d.match([]byte(in)) == 1, re.MatchString(in); got != want {
					t.Errorf("%s: %q on %q: got %v, want %v", m.GetId(), p, in, got, want)
				}
			}
		}
	}
}

// TestBuildAllCodes builds the rules of every country calling code and
// reports what they cost; every code must compile.
func TestBuildAllCodes(t *testing.T) {
	size, states, failed := 0, 0, 0
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		c := rulesFor(cc)
		if c == nil || !c.ok {
			failed++
			t.Errorf("+%d: rules did not compile", cc)
			continue
		}
		for _, r := range c.rules {
			for _, d := range []*digitDFA{r.types, r.leading, r.nationalPrefix, r.idd, r.short, r.emergency} {
				if d != nil {
					size += d.size()
					states += len(d.accept)
				}
			}
		}
	}
	t.Logf("%d codes: %d DFA states, %d KiB of tables, %d failed", len(phonenumbers.GetSupportedCallingCodes()), states, size/1024, failed)
}

// TestLongestIsFirst: the fast path strips a national prefix only where
// the longest match is the one package regexp picks.
func TestLongestIsFirst(t *testing.T) {
	scenarios := []struct {
		pattern string
		want    bool
	}{
		{`0`, true},
		{`(1(?:[12]\d|79)\d\d)|0`, true},
		// Greedy: "80" wins over "8", "012" over "0".
		{`0|80?`, true},
		{`0(1\d)?`, true},
		// The first alternative wins over a longer second.
		{`0|01`, false},
		{`0(1\d)??`, false},
		// Infinite languages and "$" are not taken.
		{`0+`, false},
		{`0|([2-9]\d{6})$`, false},
	}
	for _, s := range scenarios {
		d, err := compileDFA(s.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := longestIsFirst(s.pattern, d); got != s.want {
			t.Errorf("longestIsFirst(%q): got %v, want %v", s.pattern, got, s.want)
		}
	}
}

// TestStripPrefix: every region whose national prefix has no transform
// rule strips it on the fast path.
func TestStripPrefix(t *testing.T) {
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		c := rulesFor(cc)
		for i, r := range c.rules {
			m := regionMetadata(c.regions[i], cc)
			if r.nationalPrefix != nil && !r.stripPrefix && m.GetNationalPrefixTransformRule() == "" {
				t.Errorf("%s: national prefix %q is not stripped on the fast path", c.regions[i], m.GetNationalPrefixForParsing())
			}
		}
	}
}
