package danmaku

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// Session is one live session of a video, as stored: the danmaku sent
// while it ran carry its ID (Danmaku.Session) and have as playback time
// their offset from StartedAt, so that a replay of its recording shows
// them when they were sent.
type Session struct {
	ObjectID string `json:"objectId"`
	// ID is SessionID(StartedAt): unique within the video, since one
	// video runs at most one session at a time.
	ID        string    `json:"id"`
	StartedAt time.Time `json:"startedAt"`
	EndedAt   time.Time `json:"endedAt,omitzero"` // Zero while it runs.
	// RecordingURL is the recording of the session that a moderator set,
	// empty until then.
	RecordingURL string `json:"recordingUrl,omitempty"`
}

// SessionStore keeps the live sessions of every video durably, in the
// store that holds the danmaku. Implementations are safe for concurrent
// use.
type SessionStore interface {
	// PutSession stores s, replacing the session with the same ObjectID
	// and ID.
	PutSession(ctx context.Context, s Session) error
	// Session returns the session id of objectID, or ErrNotFound.
	Session(ctx context.Context, objectID, id string) (Session, error)
	// Sessions returns the sessions of objectID, newest first, at most
	// limit of them.
	Sessions(ctx context.Context, objectID string, limit int) ([]Session, error)
}

// MaxSessionIDLen is the longest session id that ParseSessionID accepts.
const MaxSessionIDLen = 12

// MaxRecordingURLLen is the longest recording URL accepted.
const MaxRecordingURLLen = 2048

// SessionID returns the id of the session that started at start: its Unix
// milliseconds in base 36 (eight characters until the year 2059), which
// sorts like the start among ids of the same length.
func SessionID(start time.Time) string { return strconv.FormatInt(start.UnixMilli(), 36) }

// ParseSessionID returns the start, in Unix milliseconds, of the session
// with id, or an EINVALID *Error naming the field "session" when id is not
// a session id.
func ParseSessionID(id string) (int64, error) {
	bad := FieldError("session", "must be a session id from GET /danmu/sessions/{objectId}")
	if id == "" || len(id) > MaxSessionIDLen {
		return 0, bad
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return 0, bad
		}
	}
	ms, err := strconv.ParseInt(id, 36, 64)
	if err != nil || ms < 0 || (len(id) > 1 && id[0] == '0') {
		return 0, bad
	}
	return ms, nil
}

// ValidateRecordingURL checks a recording URL: an absolute http or https
// URL with a host, at most MaxRecordingURLLen bytes; empty clears it.
func ValidateRecordingURL(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > MaxRecordingURLLen {
		return FieldError("recordingUrl", "must be at most %d bytes", MaxRecordingURLLen)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return FieldError("recordingUrl", "must be an http or https URL such as https://example.com/live.mp4")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] == 0x7f {
			return FieldError("recordingUrl", "must not hold spaces or control characters")
		}
	}
	return nil
}

// SessionLister is implemented by stores that index danmaku by live
// session, so that a session's replay reads its danmaku without the
// video's others. Without it the service filters the video's danmaku.
type SessionLister interface {
	// ListSession returns the danmaku of q.ObjectID sent during session,
	// with IDs at or after q.Start, in ID order, at most q.Limit of them,
	// as List does.
	ListSession(ctx context.Context, q Query, session string) (Page, error)
}
