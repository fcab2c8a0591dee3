package api

import "io"

// A batch lookup's body is a hundred numbers, and encoding/json with the
// strict checks of decodeStrict was a ninth of a batch's server time.
// decodeLookupRequest reads the body as phones send it, in one pass, and
// leaves every other body to decodeStrict, which decides: the fast path
// takes only what decodeStrict takes and decodes to the same value
// (FuzzDecodeLookupRequest holds it to that).

// decodeLookupRequest decodes the body of POST /v1/numbers/lookup.
func decodeLookupRequest(r io.Reader, req *lookupRequestJSON) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return readError(err)
	}
	if fastLookupRequest(raw, req) {
		return nil
	}
	*req = lookupRequestJSON{}
	return decodeStrictBytes(raw, req)
}

// fastLookupRequest decodes raw into req when it is an object with the
// members "numbers" (an array of strings) and "region" (a string), each at
// most once, whose keys and strings are printable ASCII without escapes;
// it returns false for anything else, req then in any state.
func fastLookupRequest(raw []byte, req *lookupRequestJSON) bool {
	p := skipSpace(raw, 0)
	if p >= len(raw) || raw[p] != '{' {
		return false
	}
	p = skipSpace(raw, p+1)
	var seenNumbers, seenRegion bool
	if p < len(raw) && raw[p] == '}' {
		return skipSpace(raw, p+1) == len(raw)
	}
	for {
		key, next, ok := plainString(raw, p)
		if !ok {
			return false
		}
		p = skipSpace(raw, next)
		if p >= len(raw) || raw[p] != ':' {
			return false
		}
		p = skipSpace(raw, p+1)
		switch key {
		case "numbers":
			if seenNumbers || p >= len(raw) || raw[p] != '[' {
				return false
			}
			seenNumbers = true
			req.Numbers = make([]string, 0, 128)
			p = skipSpace(raw, p+1)
			if p < len(raw) && raw[p] == ']' {
				p++
				break
			}
			for {
				s, next, ok := plainString(raw, p)
				if !ok {
					return false
				}
				req.Numbers = append(req.Numbers, s)
				p = skipSpace(raw, next)
				if p >= len(raw) {
					return false
				}
				if raw[p] == ']' {
					p++
					break
				}
				if raw[p] != ',' {
					return false
				}
				p = skipSpace(raw, p+1)
			}
		case "region":
			if seenRegion {
				return false
			}
			seenRegion = true
			s, next, ok := plainString(raw, p)
			if !ok {
				return false
			}
			req.Region, p = s, next
		default:
			return false
		}
		p = skipSpace(raw, p)
		if p >= len(raw) {
			return false
		}
		if raw[p] == '}' {
			return skipSpace(raw, p+1) == len(raw)
		}
		if raw[p] != ',' {
			return false
		}
		p = skipSpace(raw, p+1)
	}
}

// plainString reads the JSON string at raw[p] when it holds only
// printable ASCII and no escapes, and returns it and the offset after its
// closing quote.
func plainString(raw []byte, p int) (s string, next int, ok bool) {
	if p >= len(raw) || raw[p] != '"' {
		return "", 0, false
	}
	for i := p + 1; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '"':
			return string(raw[p+1 : i]), i + 1, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return "", 0, false
		}
	}
	return "", 0, false
}
