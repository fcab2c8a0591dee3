package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/callrep/callrep/labels"
)

// limitBody caps every request body. A declared length over the cap is
// refused before anything is read; a body that grows past it fails its
// decoding with body_too_large.
func (s *Server) limitBody(c *gin.Context) {
	if c.Request.ContentLength > s.limits.MaxBodyBytes {
		s.fail(c, errTooLarge())
		return
	}
	// A request without a body (every lookup by GET) has nothing to cap.
	if c.Request.Body != http.NoBody {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.limits.MaxBodyBytes)
	}
	c.Next()
}

func errTooLarge() error {
	return labels.Errorf(labels.ETooLarge, "request body too large")
}

// decodeBody decodes the request body strictly into v; see decodeStrict.
func decodeBody(c *gin.Context, v any) error {
	return decodeStrict(c.Request.Body, v)
}

// decodeStrict decodes exactly one JSON value from r into v. Unknown
// fields, values of the wrong type (an operator object where a string
// belongs) and data after the value are refused, so that what is stored is
// exactly what the API documents.
//
// encoding/json matches field names case-insensitively ("NUMBER" would
// fill number); a second pass over the generic value insists on the exact
// names, so that a misspelt key is an unknown field as the spec says.
// checkJSON then refuses duplicate keys, invalid UTF-8 and lone
// surrogates, which encoding/json would quietly resolve.
func decodeStrict(r io.Reader, v any) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return readError(err)
	}
	return decodeStrictBytes(raw, v)
}

// decodeStrictBytes is decodeStrict of a body already read.
func decodeStrictBytes(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return labels.Errorf(labels.EInvalidJSON, "request body has data after the JSON value")
	}
	if err := checkJSON(raw, opaqueKey(reflect.TypeOf(v))); err != nil {
		return err
	}
	if key, ok := inexactTopKey(raw, reflect.TypeOf(v)); ok {
		if key != "" {
			return labels.Errorf(labels.EInvalid, "unknown field %q", clip(key))
		}
		return nil
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return decodeError(err)
	}
	if key := inexactKey(generic, reflect.TypeOf(v)); key != "" {
		return labels.Errorf(labels.EInvalid, "unknown field %q", clip(key))
	}
	return nil
}

// inexactTopKey is inexactKey without decoding the values, for a struct
// whose fields hold no objects (a batch lookup's hundred numbers): it
// reads the top-level keys of raw, which decoded into t already. ok is
// false when it cannot tell (nested objects, escaped keys), and the
// generic pass decides.
func inexactTopKey(raw []byte, t reflect.Type) (key string, ok bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return "", false
	}
	for i := 0; i < t.NumField(); i++ {
		ft := t.Field(i).Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array {
			ft = ft.Elem()
		}
		if k := ft.Kind(); k == reflect.Struct || k == reflect.Map || k == reflect.Interface {
			return "", false
		}
	}
	p := skipSpace(raw, 0)
	if p >= len(raw) || raw[p] != '{' {
		return "", false
	}
	p = skipSpace(raw, p+1)
	if p < len(raw) && raw[p] == '}' {
		return "", true
	}
	for p < len(raw) && raw[p] == '"' {
		end := p + 1
		for end < len(raw) && raw[end] != '"' {
			if raw[end] == '\\' {
				return "", false
			}
			end++
		}
		if end >= len(raw) {
			return "", false
		}
		name := raw[p+1 : end]
		if _, found := jsonField(t, string(name)); !found {
			return string(name), true
		}
		p = skipSpace(raw, end+1)
		if p >= len(raw) || raw[p] != ':' {
			return "", false
		}
		// The value holds no object (the struct decoded), so it ends at
		// the first comma or brace outside strings and brackets.
		depth := 0
		for p++; p < len(raw); p++ {
			c := raw[p]
			if c == '"' {
				for p++; p < len(raw) && raw[p] != '"'; p++ {
					if raw[p] == '\\' {
						p++
					}
				}
				continue
			}
			if c == '[' {
				depth++
			} else if c == ']' {
				depth--
			} else if depth == 0 && (c == ',' || c == '}') {
				break
			}
		}
		if p >= len(raw) {
			return "", false
		}
		if raw[p] == '}' {
			return "", true
		}
		p = skipSpace(raw, p+1)
	}
	return "", false
}

func skipSpace(b []byte, p int) int {
	for p < len(b) && (b[p] == ' ' || b[p] == '\t' || b[p] == '\n' || b[p] == '\r') {
		p++
	}
	return p
}

// inexactKey returns the first object key in val that is not spelt exactly
// like a JSON field of t, or "".
func inexactKey(val any, t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return ""
	}
	switch x := val.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return ""
		}
		for key, sub := range x {
			f, ok := jsonField(t, key)
			if !ok {
				return key
			}
			if bad := inexactKey(sub, f.Type); bad != "" {
				return bad
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for _, sub := range x {
				if bad := inexactKey(sub, t.Elem()); bad != "" {
					return bad
				}
			}
		}
	}
	return ""
}

// jsonField finds the field of struct t whose JSON name is exactly name.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); jsonName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// jsonName is the JSON name of struct field f, or "" when encoding/json
// skips it.
func jsonName(f reflect.StructField) string {
	tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if tag == "-" || !f.IsExported() {
		return ""
	}
	if tag == "" {
		return f.Name
	}
	return tag
}

// decodeBytes is decodeStrict on a byte slice, such as one item of a batch.
func decodeBytes(b []byte, v any) error {
	return decodeStrictBytes(b, v)
}

// readError turns a failure to read the body into a caller-safe
// *labels.Error: the cause (a timeout, a reset connection, with the
// addresses of both ends in its text) stays out of the answer.
func readError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return errTooLarge()
	}
	return labels.Errorf(labels.EInvalidJSON, "request body could not be read in full")
}

// decodeError turns a decoding failure into a caller-safe *labels.Error.
func decodeError(err error) error {
	var (
		tooLarge *http.MaxBytesError
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return errTooLarge()
	case errors.Is(err, io.EOF):
		return labels.Errorf(labels.EInvalidJSON, "request body is empty")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return labels.Errorf(labels.EInvalidJSON, "request body is not valid JSON")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return labels.Errorf(labels.EInvalid, "request body must be %s", jsonKind(typ.Type))
		}
		return labels.Errorf(labels.EInvalid, "%s must be %s", clip(typ.Field), jsonKind(typ.Type))
	}
	// encoding/json reports unknown fields only by message.
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return labels.Errorf(labels.EInvalid, "unknown field %s", clip(field))
	}
	// What is left comes from a field's own decoder, such as a time that
	// is not RFC 3339.
	return labels.Errorf(labels.EInvalid, "a field has a malformed value: %s", clip(strings.TrimPrefix(err.Error(), "json: ")))
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "of another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return fmt.Sprintf("of type %s", t.Kind())
}

// clip shortens text from the request before it goes into a message.
func clip(s string) string {
	const maxRunes = 64
	if utf8.RuneCountInString(s) <= maxRunes {
		return s
	}
	return string([]rune(s)[:maxRunes]) + "…"
}

// queryInt reads the optional integer query parameter name: def when
// absent, an invalid_argument error outside [lo, hi].
func queryInt(c *gin.Context, name string, def, lo, hi int) (int, error) {
	v, ok := c.GetQuery(name)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		if hi == math.MaxInt {
			return 0, labels.Errorf(labels.EInvalid, "%s must be an integer of at least %d", name, lo)
		}
		return 0, labels.Errorf(labels.EInvalid, "%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}
