package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/callrep/callrep/labels"
)

// checkJSON refuses what encoding/json lets through silently, in one pass
// over raw, a value it has decoded already: duplicate object keys (it keeps
// the last), invalid UTF-8 and lone surrogate escapes such as "\ud800"
// (it turns both into U+FFFD, so that the domain's UTF-8 check can never
// fire). The values of the top-level key opaque, if any, are skipped: they
// are json.RawMessage items decoded, and checked, one at a time.
//
// It allocates nothing for objects of up to smallObject keys spelt without
// escapes; larger objects use a map.
func checkJSON(raw []byte, opaque string) error {
	c := jsonChecker{b: raw, opaque: opaque}
	c.value(0)
	return c.err
}

// smallObject is how many keys an object may have before checkJSON
// remembers them in a map instead of comparing each with all before it.
const smallObject = 16

type jsonChecker struct {
	b      []byte
	p      int
	opaque string
	err    error
}

func (c *jsonChecker) fail(err error) {
	if c.err == nil {
		c.err = err
	}
	c.p = len(c.b)
}

func (c *jsonChecker) space() {
	c.p = skipSpace(c.b, c.p)
}

// value checks the value at c.p and moves past it.
func (c *jsonChecker) value(depth int) {
	c.space()
	if c.p >= len(c.b) {
		return
	}
	switch c.b[c.p] {
	case '{':
		c.object(depth)
	case '[':
		c.p++
		for c.space(); c.p < len(c.b) && c.b[c.p] != ']'; c.space() {
			c.value(depth + 1)
			c.space()
			if c.p < len(c.b) && c.b[c.p] == ',' {
				c.p++
			} else {
				break
			}
		}
		c.p++
	case '"':
		c.str()
	default:
		// A number, true, false or null: ASCII up to the next delimiter.
		for c.p < len(c.b) {
			switch c.b[c.p] {
			case ',', ']', '}', ' ', '\t', '\n', '\r':
				return
			}
			c.p++
		}
	}
}

// object checks the object at c.p for duplicate keys and its values.
func (c *jsonChecker) object(depth int) {
	var small [smallObject][]byte
	keys := small[:0]
	var many map[string]struct{}
	c.p++
	for c.space(); c.p < len(c.b) && c.b[c.p] == '"'; c.space() {
		key := c.str()
		if c.err != nil {
			return
		}
		if many != nil {
			if _, dup := many[string(key)]; dup {
				c.fail(errDuplicateKey(key))
				return
			}
			many[string(key)] = struct{}{}
		} else {
			for _, k := range keys {
				if bytes.Equal(k, key) {
					c.fail(errDuplicateKey(key))
					return
				}
			}
			if len(keys) < smallObject {
				keys = append(keys, key)
			} else {
				many = make(map[string]struct{}, 2*smallObject)
				for _, k := range keys {
					many[string(k)] = struct{}{}
				}
				many[string(key)] = struct{}{}
			}
		}
		c.space()
		if c.p >= len(c.b) || c.b[c.p] != ':' {
			return
		}
		c.p++
		if depth == 0 && c.opaque != "" && string(key) == c.opaque {
			c.skip()
		} else {
			c.value(depth + 1)
		}
		c.space()
		if c.p < len(c.b) && c.b[c.p] == ',' {
			c.p++
		}
	}
	c.p++
}

// skip moves past the value at c.p without checking it, to the comma or
// brace that follows it.
func (c *jsonChecker) skip() {
	depth := 0
	for ; c.p < len(c.b); c.p++ {
		switch c.b[c.p] {
		case '"':
			for c.p++; c.p < len(c.b) && c.b[c.p] != '"'; c.p++ {
				if c.b[c.p] == '\\' {
					c.p++
				}
			}
		case '[', '{':
			depth++
		case ']', '}':
			if depth == 0 {
				return
			}
			depth--
		case ',':
			if depth == 0 {
				return
			}
		}
	}
}

// str checks the string at c.p and returns its content: the raw bytes
// when it has no escapes, else its decoded text.
func (c *jsonChecker) str() []byte {
	start := c.p + 1
	escaped := false
	for c.p = start; c.p < len(c.b); {
		b := c.b[c.p]
		switch {
		case b == '"':
			s := c.b[start:c.p]
			c.p++
			if escaped {
				var out string
				if json.Unmarshal(c.b[start-1:c.p], &out) == nil {
					return []byte(out)
				}
			}
			return s
		case b == '\\':
			escaped = true
			if c.p+1 < len(c.b) && c.b[c.p+1] == 'u' {
				c.surrogate()
				if c.err != nil {
					return nil
				}
				continue
			}
			c.p += 2
		case b < utf8.RuneSelf:
			c.p++
		default:
			r, size := utf8.DecodeRune(c.b[c.p:])
			if r == utf8.RuneError && size == 1 {
				c.fail(labels.Errorf(labels.EInvalidJSON, "request body is not valid UTF-8"))
				return nil
			}
			c.p += size
		}
	}
	return nil
}

// surrogate checks the \u escape at c.p, which must not be half of a
// UTF-16 pair without its other half, and moves past it (and its pair).
func (c *jsonChecker) surrogate() {
	r, ok := hex4(c.b, c.p+2)
	c.p += 6
	if !ok || !utf16.IsSurrogate(r) {
		return
	}
	if r < 0xdc00 {
		if lo, ok := hex4(c.b, c.p+2); ok && c.p+1 < len(c.b) && c.b[c.p] == '\\' && c.b[c.p+1] == 'u' && lo >= 0xdc00 && lo <= 0xdfff {
			c.p += 6
			return
		}
	}
	c.fail(labels.Errorf(labels.EInvalidJSON, `request body has a lone UTF-16 surrogate escape (\u%04x)`, r))
}

// hex4 reads the four hex digits at b[p:].
func hex4(b []byte, p int) (rune, bool) {
	if p+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, h := range b[p : p+4] {
		switch {
		case '0' <= h && h <= '9':
			h -= '0'
		case 'a' <= h && h <= 'f':
			h -= 'a' - 10
		case 'A' <= h && h <= 'F':
			h -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(h)
	}
	return r, true
}

func errDuplicateKey(key []byte) error {
	return labels.Errorf(labels.EInvalidJSON, "duplicate key %q", clip(string(key)))
}

// opaqueKeys caches opaqueKey by type.
var opaqueKeys sync.Map

// opaqueKey is the JSON name of t's []json.RawMessage field, whose items
// are decoded one by one, or "".
func opaqueKey(t reflect.Type) string {
	if k, ok := opaqueKeys.Load(t); ok {
		return k.(string)
	}
	key := ""
	s := t
	for s.Kind() == reflect.Pointer {
		s = s.Elem()
	}
	if s.Kind() == reflect.Struct {
		raw := reflect.TypeOf([]json.RawMessage(nil))
		for i := 0; i < s.NumField(); i++ {
			if f := s.Field(i); f.Type == raw {
				key = jsonName(f)
			}
		}
	}
	opaqueKeys.Store(t, key)
	return key
}
