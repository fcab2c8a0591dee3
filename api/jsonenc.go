package api

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// Lookups are the hot path: one per ringing phone, a hundred per batch.
// encoding/json's reflection was a quarter of a lookup's server time, so
// their answers are appended by hand here, byte for byte what
// encoding/json writes for the same values (TestAppendReputationMatches
// holds it to that), into pooled buffers.

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// jsonContentType is shared by every answer: headers are only read.
var jsonContentType = []string{"application/json; charset=utf-8"}

// writeJSON answers 200 with the bytes that fill appends.
func writeJSON(c *gin.Context, fill func([]byte) []byte) {
	bp := bufPool.Get().(*[]byte)
	writeJSONBuf(c, bp, fill((*bp)[:0]))
}

// writeJSONBuf answers 200 with b, appended to the pooled buffer bp,
// which it returns to the pool. The single lookup calls it directly: its
// answer would escape to the heap in writeJSON's closure.
func writeJSONBuf(c *gin.Context, bp *[]byte, b []byte) {
	c.Writer.Header()["Content-Type"] = jsonContentType
	c.Writer.WriteHeader(200)
	_, _ = c.Writer.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b
		bufPool.Put(bp)
	}
}

// appendReputation appends r as encoding/json would, without the braces,
// so that a batch result can prefix its input.
func appendReputationFields(b []byte, r *reputationJSON) []byte {
	b = append(b, `"number":`...)
	b = appendString(b, r.Number)
	b = append(b, `,"valid":`...)
	b = strconv.AppendBool(b, r.Valid)
	b = append(b, `,"number_type":`...)
	b = appendString(b, r.NumberType)
	b = append(b, `,"region":`...)
	b = appendString(b, r.Region)
	b = append(b, `,"verdict":`...)
	b = appendString(b, r.Verdict)
	// What moderation decided: rare, so written only when set.
	if r.CallerName != "" {
		b = append(b, `,"caller_name":`...)
		b = appendString(b, r.CallerName)
	}
	if r.SpoofedRisk {
		b = append(b, `,"spoofed_risk":true`...)
	}
	b = append(b, `,"score":`...)
	b = strconv.AppendInt(b, int64(r.Score), 10)
	if r.Confidence != 0 {
		b = append(b, `,"confidence":`...)
		b = appendFloat(b, r.Confidence)
	}
	if r.TopCategory != "" {
		b = append(b, `,"top_category":`...)
		b = appendString(b, r.TopCategory)
	}
	b = append(b, `,"reporters":`...)
	b = strconv.AppendInt(b, int64(r.Reporters), 10)
	var kb [16]string
	b = append(b, `,"categories":{`...)
	for i, k := range sortedKeys(kb[:0], r.Categories) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(r.Categories[k]), 10)
	}
	b = append(b, '}')
	if !r.FirstReportedAt.IsZero() {
		b = append(b, `,"first_reported_at":`...)
		b = appendTime(b, r.FirstReportedAt)
	}
	if !r.LastReportedAt.IsZero() {
		b = append(b, `,"last_reported_at":`...)
		b = appendTime(b, r.LastReportedAt)
	}
	b = append(b, `,"signals":[`...)
	for i, s := range r.Signals {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	b = append(b, `],"evidence":{`...)
	for i, k := range sortedKeys(kb[:0], r.Evidence) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendFloat(b, r.Evidence[k])
	}
	b = append(b, '}')
	if r.Disputed {
		b = append(b, `,"disputed":true`...)
	}
	if r.DisputeOutcome != "" {
		b = append(b, `,"dispute_outcome":`...)
		b = appendString(b, r.DisputeOutcome)
	}
	if r.MyLabel != nil {
		// Signed-in lookups only; not worth a hand encoder.
		mine, err := json.Marshal(r.MyLabel)
		if err == nil {
			b = append(b, `,"my_label":`...)
			b = append(b, mine...)
		}
	}
	return b
}

func appendReputation(b []byte, r *reputationJSON) []byte {
	b = append(b, '{')
	b = appendReputationFields(b, r)
	return append(b, '}')
}

// appendLookupResponse appends a batch lookup's answer.
func appendLookupResponse(b []byte, out *lookupResponseJSON) []byte {
	b = append(b, `{"results":[`...)
	for i := range out.Results {
		r := &out.Results[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"input":`...)
		b = appendString(b, r.Input)
		if r.Error != nil {
			b = append(b, `,"error":{"code":`...)
			b = appendString(b, r.Error.Code)
			b = append(b, `,"message":`...)
			b = appendString(b, r.Error.Message)
			b = append(b, '}')
		}
		if r.reputationJSON != nil {
			b = append(b, ',')
			b = appendReputationFields(b, r.reputationJSON)
		}
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// sortedKeys appends m's keys to keys, sorted.
func sortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendTime writes t as encoding/json does (RFC 3339 with nanoseconds).
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendFloat writes f as encoding/json does: the shortest form, in
// exponent notation outside [1e-6, 1e21) with a two-digit exponent.
func appendFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(b, '0') // encoding/json fails; the engine never makes them
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string the way encoding/json does,
// HTML-safe: <, > and & escaped, invalid UTF-8 as U+FFFD, U+2028 and
// U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
