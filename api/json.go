package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
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
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.limits.MaxBodyBytes)
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
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errTooLarge()
		}
		return labels.Errorf(labels.EInvalidJSON, "request body has data after the JSON value")
	}
	return nil
}

// decodeBytes is decodeStrict on a byte slice, such as one item of a batch.
func decodeBytes(b []byte, v any) error {
	return decodeStrict(bytes.NewReader(b), v)
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
