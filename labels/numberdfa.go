package labels

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
)

// digitDFA is a deterministic automaton over the ASCII digits, compiled
// from up to 16 of libphonenumber's patterns at once. Running it over a
// national number costs one table look-up per digit, where the library's
// regular expressions cost 140 to 190 ns per pattern.
type digitDFA struct {
	// next[s*10+d] is the state after digit d in state s. State 0 is dead,
	// state 1 the start.
	next []uint16
	// accept[s] has bit i set when pattern i matches the digits read to
	// reach s: all of them for a full match, a prefix for a prefix match.
	accept []uint16
	// acceptEnd[s] has the patterns that match when the input ends in s
	// through a "$" (national prefixes such as NANPA's "1|([2-9]\d{6})$").
	acceptEnd []uint16
}

const (
	dfaDead  = 0
	dfaStart = 1
	// maxDFAStates keeps a state in a uint16 and caps what one region's
	// patterns may cost; a region past it keeps the slow path.
	maxDFAStates = 1 << 15
)

// match returns the patterns that match all of digits.
func (d *digitDFA) match(digits []byte) uint16 {
	s := uint16(dfaStart)
	for _, c := range digits {
		s = d.next[int(s)*10+int(c-'0')]
	}
	return d.accept[s] | d.acceptEnd[s]
}

// matchPrefix reports whether pattern 0 matches some prefix of digits, the
// empty one included, as "^(?:pattern)" would.
func (d *digitDFA) matchPrefix(digits []byte) bool {
	s := uint16(dfaStart)
	if d.accept[s] != 0 {
		return true
	}
	for _, c := range digits {
		s = d.next[int(s)*10+int(c-'0')]
		if s == dfaDead {
			return false
		}
		if d.accept[s] != 0 {
			return true
		}
	}
	return d.acceptEnd[s] != 0
}

// longestPrefix returns the length of the longest prefix of digits that
// pattern 0 matches, -1 if none does. It ignores matches through a "$".
func (d *digitDFA) longestPrefix(digits []byte) int {
	s := uint16(dfaStart)
	longest := -1
	if d.accept[s] != 0 {
		longest = 0
	}
	for i, c := range digits {
		if s = d.next[int(s)*10+int(c-'0')]; s == dfaDead {
			break
		}
		if d.accept[s] != 0 {
			longest = i + 1
		}
	}
	return longest
}

// prefixLanguage lists the digit strings that pattern 0 matches, if there
// are at most limit of them and none of them needs a "$"; ok is false
// otherwise.
func (d *digitDFA) prefixLanguage(limit int) (words []string, ok bool) {
	const maxDepth = 24
	var walk func(s uint16, w []byte) bool
	walk = func(s uint16, w []byte) bool {
		if d.acceptEnd[s] != 0 || len(w) > maxDepth {
			return false
		}
		if d.accept[s] != 0 {
			if words = append(words, string(w)); len(words) > limit {
				return false
			}
		}
		for digit := range 10 {
			if t := d.next[int(s)*10+digit]; t != dfaDead {
				if !walk(t, append(w, byte('0'+digit))) {
					return false
				}
			}
		}
		return true
	}
	if !walk(dfaStart, nil) {
		return nil, false
	}
	return words, true
}

// size is the memory the tables take, in bytes.
func (d *digitDFA) size() int { return 2*len(d.next) + 4*len(d.accept) }

// errUnsupported marks a pattern outside the subset compileDFA handles.
var errUnsupported = errors.New("unsupported pattern")

// compileDFA builds one automaton for patterns, regular expressions over
// digits in Go's syntax (libphonenumber's national number, leading digit
// and prefix patterns: classes, alternations, repeats, groups, "$"). A
// pattern with "^" or word boundaries, or a set whose automaton grows past
// maxDFAStates, is refused with an error; the caller keeps the slow path.
//
// The subset construction runs over the NFA that regexp/syntax compiles, so
// repeats and classes mean exactly what they mean to package regexp. Only
// the digits '0' to '9' are fed to it: national numbers hold nothing else.
func compileDFA(patterns ...string) (*digitDFA, error) {
	if len(patterns) == 0 || len(patterns) > 16 {
		return nil, fmt.Errorf("compile %d patterns: want 1 to 16", len(patterns))
	}
	progs := make([]*syntax.Prog, len(patterns))
	for i, p := range patterns {
		re, err := syntax.Parse(p, syntax.Perl)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", p, err)
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", p, err)
		}
		for _, inst := range prog.Inst {
			if inst.Op == syntax.InstEmptyWidth && syntax.EmptyOp(inst.Arg) != syntax.EmptyEndText {
				return nil, fmt.Errorf("pattern %q: %w: anchors", p, errUnsupported)
			}
		}
		progs[i] = prog
	}

	// An NFA state is a pattern and an instruction: pattern<<20 | pc.
	type nfaState = uint32
	// closure adds pc of pattern p and what it reaches without reading a
	// digit to set, and the pattern to *acc if that includes a match, or
	// to *accEnd if the match is past a "$" (end is true past one: nothing
	// more may be read).
	var closure func(p int, pc uint32, end bool, set map[nfaState]bool, acc, accEnd *uint16)
	closure = func(p int, pc uint32, end bool, set map[nfaState]bool, acc, accEnd *uint16) {
		k := nfaState(p)<<20 | pc
		if end {
			k |= 1 << 19
		}
		if set[k] {
			return
		}
		set[k] = true
		inst := &progs[p].Inst[pc]
		switch inst.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			closure(p, inst.Out, end, set, acc, accEnd)
			closure(p, inst.Arg, end, set, acc, accEnd)
		case syntax.InstCapture, syntax.InstNop:
			closure(p, inst.Out, end, set, acc, accEnd)
		case syntax.InstEmptyWidth:
			closure(p, inst.Out, true, set, acc, accEnd)
		case syntax.InstMatch:
			if end {
				*accEnd |= 1 << p
			} else {
				*acc |= 1 << p
			}
		}
	}
	keyOf := func(set map[nfaState]bool) (string, []nfaState) {
		states := make([]nfaState, 0, len(set))
		for k := range set {
			// Only the instructions that read a digit matter from here on,
			// and none past a "$".
			if k&(1<<19) != 0 {
				continue
			}
			inst := &progs[k>>20].Inst[k&(1<<19-1)]
			switch inst.Op {
			case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
				states = append(states, k)
			}
		}
		slices.Sort(states)
		var b strings.Builder
		for _, s := range states {
			b.WriteString(strconv.FormatUint(uint64(s), 36))
			b.WriteByte(',')
		}
		return b.String(), states
	}

	d := &digitDFA{next: make([]uint16, 20), accept: make([]uint16, 2), acceptEnd: make([]uint16, 2)}
	index := map[string]uint16{}
	var pending [][]nfaState // NFA states of DFA state i+1, still to expand
	add := func(set map[nfaState]bool, acc, accEnd uint16) (uint16, error) {
		key, states := keyOf(set)
		key += "/" + strconv.Itoa(int(acc)) + "/" + strconv.Itoa(int(accEnd))
		if s, ok := index[key]; ok {
			return s, nil
		}
		if len(states) == 0 && acc == 0 && accEnd == 0 {
			return dfaDead, nil
		}
		s := len(d.accept)
		if s >= maxDFAStates {
			return 0, fmt.Errorf("%w: more than %d states", errUnsupported, maxDFAStates)
		}
		if s > 1 {
			d.next = append(d.next, make([]uint16, 10)...)
			d.accept = append(d.accept, 0)
			d.acceptEnd = append(d.acceptEnd, 0)
		}
		d.accept[s], d.acceptEnd[s] = acc, accEnd
		index[key] = uint16(s)
		pending = append(pending, states)
		return uint16(s), nil
	}

	start := map[nfaState]bool{}
	var acc, accEnd uint16
	for p, prog := range progs {
		closure(p, uint32(prog.Start), false, start, &acc, &accEnd)
	}
	// The start state is state 1 whatever it holds.
	key, states := keyOf(start)
	index[key+"/"+strconv.Itoa(int(acc))+"/"+strconv.Itoa(int(accEnd))] = dfaStart
	d.accept[dfaStart], d.acceptEnd[dfaStart] = acc, accEnd
	pending = append(pending, states)

	for s := dfaStart; s-1 < len(pending); s++ {
		states := pending[s-1]
		for digit := range 10 {
			r := rune('0' + digit)
			set := map[nfaState]bool{}
			var acc, accEnd uint16
			for _, k := range states {
				p, pc := int(k>>20), k&(1<<19-1)
				inst := &progs[p].Inst[pc]
				if inst.MatchRune(r) {
					closure(p, inst.Out, false, set, &acc, &accEnd)
				}
			}
			t, err := add(set, acc, accEnd)
			if err != nil {
				return nil, err
			}
			d.next[s*10+digit] = t
		}
	}
	return d, nil
}
