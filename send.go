package danmaku

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits bounds what a send may carry.
type Limits struct {
	// MaxTextRunes is the longest text accepted, in characters (default 100).
	MaxTextRunes int
}

// DefaultLimits returns the limits used when none are configured.
func DefaultLimits() Limits { return Limits{MaxTextRunes: 100} }

// Identifier limits shared by object and user ids.
const (
	MaxObjectIDLen = 128
	MaxUserIDLen   = 128
)

// SendRequest is a validated request to send one danmaku: the seed's body
// {"objectId","userId","ownerId","content":{...}}. Unknown fields are
// dropped, never stored.
type SendRequest struct {
	ObjectID string
	UserID   string // May be empty: the server decides who is sending.
	OwnerID  string
	Content  Content
}

// rawSend mirrors the JSON body with loose types so that each field's error
// can name the field.
type rawSend struct {
	ObjectID any         `json:"objectId"`
	UserID   any         `json:"userId"`
	OwnerID  any         `json:"ownerId"`
	Content  *rawContent `json:"content"`
}

type rawContent struct {
	Text     any `json:"text"`
	Color    any `json:"color"`
	Size     any `json:"size"`
	Position any `json:"position"`
	Time     any `json:"time"`
}

// ParseSend decodes and validates a send body. Every error is an *Error
// with code EINVALID that names the offending field.
func ParseSend(body []byte, lim Limits) (SendRequest, error) {
	if !utf8.Valid(body) {
		// encoding/json would silently turn invalid bytes into U+FFFD.
		return SendRequest{}, Errorf(EINVALID, "body must be valid UTF-8")
	}
	var raw rawSend
	if !raw.parseFast(body) {
		raw = rawSend{}
		if err := raw.parseJSON(body); err != nil {
			return SendRequest{}, err
		}
	}
	return raw.validate(lim)
}

// parseJSON decodes body into r with encoding/json, which accepts any JSON
// and words the errors.
func (r *rawSend) parseJSON(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(r); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Errorf(EINVALID, "body must hold exactly one JSON object")
	}
	return nil
}

func jsonError(err error) *Error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			return Errorf(EINVALID, "body must be a JSON object")
		}
		return FieldError(field, "must be %s", jsonKind(typeErr.Type.Kind().String()))
	}
	return Errorf(EINVALID, "body is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonKind(k string) string {
	if k == "ptr" || k == "struct" {
		return "an object"
	}
	return "a " + k
}

func (r rawSend) validate(lim Limits) (SendRequest, error) {
	var req SendRequest
	var err error
	if req.ObjectID, err = stringField("objectId", r.ObjectID, true); err != nil {
		return req, err
	}
	if err := ValidateObjectID(req.ObjectID); err != nil {
		return req, err
	}
	if req.UserID, err = stringField("userId", r.UserID, false); err != nil {
		return req, err
	}
	if req.UserID != "" {
		if err := ValidateUserID("userId", req.UserID); err != nil {
			return req, err
		}
	}
	if req.OwnerID, err = stringField("ownerId", r.OwnerID, false); err != nil {
		return req, err
	}
	if req.OwnerID != "" {
		if err := ValidateUserID("ownerId", req.OwnerID); err != nil {
			return req, err
		}
	}
	if r.Content == nil {
		return req, FieldError("content", "is required")
	}
	req.Content, err = r.Content.validate(lim)
	return req, err
}

func (c rawContent) validate(lim Limits) (Content, error) {
	out := Content{Color: White, Size: SizeMedium, Position: ModeScroll}
	text, ok := c.Text.(string)
	if !ok {
		if c.Text == nil {
			return out, FieldError("content.text", "is required")
		}
		return out, FieldError("content.text", "must be a string")
	}
	var err error
	if out.Text, err = ValidateText(text, lim); err != nil {
		return out, err
	}
	if c.Color != nil {
		if out.Color, err = ParseColor(c.Color); err != nil {
			return out, FieldError("content.color", "%v", err)
		}
	}
	if c.Size != nil {
		if out.Size, err = ParseSize(c.Size); err != nil {
			return out, FieldError("content.size", "%v", err)
		}
	}
	if c.Position != nil {
		p, ok := c.Position.(float64)
		if !ok || p != float64(int(p)) || !ValidMode(int(p)) {
			return out, FieldError("content.position", "must be 1 (scroll), 4 (bottom), 5 (top) or 6 (reverse)")
		}
		out.Position = int(p)
		if out.Position == 2 || out.Position == 3 {
			out.Position = ModeScroll
		}
	}
	if c.Time != nil {
		s, ok := c.Time.(float64)
		if !ok {
			return out, FieldError("content.time", "must be a number of seconds")
		}
		if out.Time, err = TimeFromSeconds(s); err != nil {
			return out, FieldError("content.time", "%v", err)
		}
	}
	return out, nil
}

func stringField(name string, v any, required bool) (string, error) {
	switch s := v.(type) {
	case nil:
		if required {
			return "", FieldError(name, "is required")
		}
		return "", nil
	case string:
		if required && s == "" {
			return "", FieldError(name, "must not be empty")
		}
		return s, nil
	case float64:
		// The seed's clients sometimes send numeric ids.
		if s == float64(int64(s)) {
			return fmt.Sprintf("%d", int64(s)), nil
		}
	}
	return "", FieldError(name, "must be a string")
}

// ValidateText checks a danmaku text and returns it with surrounding white
// space removed. Text must be valid UTF-8, at most lim.MaxTextRunes
// characters, with at least one visible character, without control
// characters or bidirectional override, embedding and isolate controls,
// and with at most MaxCombiningMarks combining marks on one character.
func ValidateText(text string, lim Limits) (string, error) {
	if !utf8.ValidString(text) {
		return "", FieldError("content.text", "must be valid UTF-8")
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return "", FieldError("content.text", "must not be empty")
	}
	max := lim.MaxTextRunes
	if max <= 0 {
		max = DefaultLimits().MaxTextRunes
	}
	if n := utf8.RuneCountInString(text); n > max {
		return "", &Error{Code: EINVALID, Field: "content.text", Message: fmt.Sprintf("is %d characters long; the limit is %d", n, max)}
	}
	visible, marks := false, 0
	for _, r := range text {
		switch {
		case unicode.IsControl(r):
			return "", FieldError("content.text", "must not contain control characters (U+%04X)", r)
		case bidiControl(r):
			return "", FieldError("content.text", "must not contain bidirectional override, embedding or isolate characters (U+%04X): they can make text display in another order than it is read", r)
		case unicode.In(r, unicode.Mn, unicode.Me):
			if marks++; marks > MaxCombiningMarks {
				return "", FieldError("content.text", "has more than %d combining marks on one character", MaxCombiningMarks)
			}
			continue
		case !visible && visibleRune(r):
			visible = true
		}
		marks = 0
	}
	if !visible {
		return "", FieldError("content.text", "has no visible character")
	}
	return text, nil
}

// MaxCombiningMarks is the most combining marks (accents, vowel signs,
// variation selectors) that ValidateText accepts on one base character.
// Written languages need at most three; "Zalgo" text stacks dozens that
// spill over the lines around it.
const MaxCombiningMarks = 3

// bidiControl reports whether r is a bidirectional embedding, override or
// isolate control (U+202A–U+202E, U+2066–U+2069). The implicit marks
// U+200E, U+200F and U+061C are allowed: they change no order on their own
// and right-to-left writers need them.
func bidiControl(r rune) bool {
	return 0x202A <= r && r <= 0x202E || 0x2066 <= r && r <= 0x2069
}

// visibleRune reports whether r draws something: a letter, digit,
// punctuation or symbol other than the blank letters and symbols that
// render as nothing (the Hangul fillers and the blank Braille pattern).
func visibleRune(r rune) bool {
	switch r {
	case 0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800:
		return false
	}
	return unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S)
}

// ValidateObjectID checks a video or room id: 1 to 128 characters from
// letters, digits and "_-.:".
func ValidateObjectID(id string) error {
	if id == "" {
		return FieldError("objectId", "must not be empty")
	}
	if len(id) > MaxObjectIDLen {
		return FieldError("objectId", "must be at most %d characters", MaxObjectIDLen)
	}
	if !idChars(id) {
		return FieldError("objectId", "may hold only letters, digits and _-.:")
	}
	return nil
}

// idChars reports whether s holds only letters, digits and "_-.:", the
// characters of object ids and idempotency keys.
func idChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':'
		if !ok {
			return false
		}
	}
	return true
}

// ValidateUserID checks a user id: 1 to 128 bytes of valid UTF-8 without
// control characters. field names it in the error.
func ValidateUserID(field, id string) error {
	if id == "" {
		return FieldError(field, "must not be empty")
	}
	if len(id) > MaxUserIDLen {
		return FieldError(field, "must be at most %d bytes", MaxUserIDLen)
	}
	if !utf8.ValidString(id) {
		return FieldError(field, "must be valid UTF-8")
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return FieldError(field, "must not contain control characters")
		}
	}
	return nil
}

// MaxIdempotencyKeyLen is the longest idempotency key accepted.
const MaxIdempotencyKeyLen = 64

// ValidateIdempotencyKey checks a client's idempotency key (the
// Idempotency-Key header): 1 to 64 letters, digits and "_-.:", which a
// UUID fits.
func ValidateIdempotencyKey(key string) error {
	if key == "" || len(key) > MaxIdempotencyKeyLen {
		return FieldError("Idempotency-Key", "must be 1 to %d characters long", MaxIdempotencyKeyLen)
	}
	if !idChars(key) {
		return FieldError("Idempotency-Key", "may hold only letters, digits and _-.:")
	}
	return nil
}
