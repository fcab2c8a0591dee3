// Package labels holds callrep's domain: phone numbers and their normal
// forms, the category taxonomy, reports that app users file about numbers,
// the live label each reporter keeps per number, and the service that turns
// reports into durable labels.
package labels

import (
	"errors"
	"fmt"
)

// Error codes are stable strings that clients may switch on. The api package
// maps each one to an HTTP status in a single table.
const (
	EInvalid         = "invalid_argument"     // a field has the wrong value or type
	EInvalidJSON     = "invalid_json"         // the body is not JSON of the documented shape
	EInvalidNumber   = "invalid_number"       // the input is no phone number at all
	EUnknownCategory = "unknown_category"     // category not in the taxonomy
	ENotLabelable    = "number_not_labelable" // emergency numbers and the like
	ETooLarge        = "body_too_large"
	EUnauthorized    = "unauthorized"
	EForbidden       = "forbidden"
	ENotFound        = "not_found"
	EConflict        = "conflict"
	ERateLimited     = "rate_limited"
	EQuotaExceeded   = "quota_exceeded"
	EUnavailable     = "unavailable"
	EInternal        = "internal"
)

// Error is the one error type of callrep. Code is one of the E* constants and
// Message is safe to show to the caller; anything else is an internal error
// whose text is logged and never sent.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, and
// EInternal otherwise.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EInternal
}

// ErrorMessage returns the caller-safe message of err: the message of an
// *Error, or "internal error" for anything else.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
