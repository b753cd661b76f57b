package danmaku

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Each maps to one HTTP status in webapi.Status, which the
// HTTP API and the live endpoints' refusals both answer with; nowhere else
// decides that mapping.
const (
	EINVALID      = "invalid"      // The request is malformed or a field is wrong (400).
	EUNAUTHORIZED = "unauthorized" // No valid credential (401).
	EFORBIDDEN    = "forbidden"    // The credential does not allow this (403).
	ENOTFOUND     = "not_found"    // No such danmaku, room or route (404).
	EMETHOD       = "method"       // The method is not allowed on this route (405).
	ECONFLICT     = "conflict"     // The thing already exists (409).
	ETOOLARGE     = "too_large"    // The body or a field is too large (413).
	EMEDIATYPE    = "media_type"   // The content type is not accepted (415).
	ERATELIMIT    = "rate_limited" // Too many requests; see RetryAfter (429).
	EREFUSED      = "refused"      // Moderation refused the text (422).
	EUNAVAILABLE  = "unavailable"  // A dependency is down; see RetryAfter (503).
	EINTERNAL     = "internal"     // A bug or an unexpected failure (500).
)

// Error is the one error type that crosses package boundaries with a code
// and a message meant for the client. Other errors are internal: clients see
// only "internal error" for them and the detail goes to the log.
type Error struct {
	Code    string
	Message string
	// RetryAfter, when positive, tells the client when to try again.
	RetryAfter time.Duration
	// Field names the request field that was wrong, if any (for example
	// "content.text").
	Field string
}

// Error returns the message, prefixed with the field when there is one.
func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EINVALID *Error about one field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-facing message of err: the *Error's text,
// or "internal error" for anything else.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return "internal error"
}

// ErrorRetryAfter returns the RetryAfter of the first *Error in err's chain.
func ErrorRetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// ErrNotFound and ErrConflict are returned by stores; callers compare with
// errors.Is or ErrorCode.
var (
	ErrNotFound = &Error{Code: ENOTFOUND, Message: "danmaku not found"}
	ErrConflict = &Error{Code: ECONFLICT, Message: "a danmaku with this id already exists"}
)
