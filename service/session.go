package service

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// Scope is what a read of a video covers: the whole video (the zero Scope)
// or the danmaku of one of its live sessions (SessionScope). Every read
// that takes a Scope (QueryByTimeIn, PullIn, ReadAllIn, HeatmapIn) applies
// it through covers and past, so that the rule lives here only.
//
// A store that indexes danmaku by session (danmaku.SessionLister, the
// Pebble store) gives a session's danmaku alone. With any other store (the
// DynamoDB store) they are found by filtering the video's danmaku in
// playback order, which stops at the session's last possible playback
// time: a session's danmaku lie between 0 and its length. A replay of a
// session of a video with many danmaku outside it then reads those too (at
// most maxSessionScan per page).
type Scope struct {
	// session is the id of the session, empty for the whole video.
	session string
	// length is the session's length so far (to its end, or to now while
	// it runs), and until the last playback time one of its danmaku can
	// have: length plus sessionSlack.
	length, until danmaku.Time
}

// Session returns the id of the scope's session, empty for the whole
// video.
func (sc Scope) Session() string { return sc.session }

// sessionSlack is added to a session's length when bounding its playback
// times: a danmaku's offset was computed by the node that accepted it,
// whose clock may be ahead of the one that ended the session.
const sessionSlack = danmaku.Time(60_000)

// maxSessionScan bounds the danmaku that one page of a session's listing
// reads; a page that reaches it ends early, with a cursor to go on.
const maxSessionScan = 10_000

// MaxSessions is the most sessions that Sessions lists.
const MaxSessions = 100

// covers reports whether d belongs to the scope.
func (sc Scope) covers(d *danmaku.Danmaku) bool {
	return sc.session == "" || d.Session == sc.session
}

// past reports whether d and every danmaku after it in playback order lie
// beyond the scope.
func (sc Scope) past(d *danmaku.Danmaku) bool {
	return sc.session != "" && d.ID.PlayMs > int64(sc.until)
}

// Sessions returns the live sessions of objectID, newest first, at most
// limit of them (0 means MaxSessions). A store that keeps no sessions
// has none.
func (s *Service) Sessions(ctx context.Context, objectID string, limit int) ([]danmaku.Session, error) {
	if err := danmaku.ValidateObjectID(objectID); err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = MaxSessions
	}
	if limit < 1 || limit > MaxSessions {
		return nil, danmaku.FieldError("size", "must be between 1 and %d", MaxSessions)
	}
	if s.sessions == nil {
		return []danmaku.Session{}, nil
	}
	began := time.Now()
	out, err := s.sessions.Sessions(ctx, objectID, limit)
	s.observe("sessions", began, err)
	if err != nil {
		return nil, fmt.Errorf("list sessions of %s: %w", objectID, err)
	}
	if out == nil {
		out = []danmaku.Session{}
	}
	return out, nil
}

// SessionScope returns the Scope of the session id of objectID: the zero
// Scope for an empty id, an EINVALID error for a malformed one and an
// ENOTFOUND error for a session that the video never had.
func (s *Service) SessionScope(ctx context.Context, objectID, id string) (Scope, error) {
	if id == "" {
		return Scope{}, nil
	}
	if err := danmaku.ValidateObjectID(objectID); err != nil {
		return Scope{}, err
	}
	if _, err := danmaku.ParseSessionID(id); err != nil {
		return Scope{}, err
	}
	notFound := danmaku.Errorf(danmaku.ENOTFOUND, "video %s has no live session %s", objectID, id)
	if s.sessions == nil {
		return Scope{}, notFound
	}
	began := time.Now()
	ss, err := s.sessions.Session(ctx, objectID, id)
	s.observe("session", began, err)
	switch {
	case errors.Is(err, danmaku.ErrNotFound):
		return Scope{}, notFound
	case err != nil:
		return Scope{}, fmt.Errorf("read session %s of %s: %w", id, objectID, err)
	}
	end := ss.EndedAt
	if end.IsZero() {
		end = s.now()
	}
	length := danmaku.Time(min(max(end.Sub(ss.StartedAt).Milliseconds(), 0), danmaku.MaxPlayMs))
	return Scope{session: id, length: length, until: min(length+sessionSlack, danmaku.MaxPlayMs)}, nil
}

// scoped returns an iterator over the danmaku of objectID in sc from start
// on, as a sees them, reading pages of limit danmaku; a failed read ends it
// with a nil danmaku and the error. When visit is set, it is called with
// every danmaku read, in the scope or not, and ends the iteration by
// returning false.
func (s *Service) scoped(ctx context.Context, a danmaku.Actor, objectID string, sc Scope, start danmaku.ID, limit int,
	visit func(*danmaku.Danmaku) bool) iter.Seq2[*danmaku.Danmaku, error] {
	var src danmaku.Store = s.store
	if sl, ok := s.store.(danmaku.SessionLister); ok && sc.session != "" {
		src = sessionPages{s.store, sl, sc.session}
	}
	return func(yield func(*danmaku.Danmaku, error) bool) {
		for d, err := range danmaku.All(ctx, src, danmaku.Query{ObjectID: objectID, Start: start, Limit: limit}) {
			if err != nil {
				yield(nil, err)
				return
			}
			if sc.past(d) || (visit != nil && !visit(d)) {
				return
			}
			if !sc.covers(d) {
				continue
			}
			if v := view(a, d); v != nil && !yield(v, nil) {
				return
			}
		}
	}
}

// sessionPages is a Store whose List lists one session's danmaku through
// the store's session index, so that danmaku.All pages through a session.
type sessionPages struct {
	danmaku.Store
	index   danmaku.SessionLister
	session string
}

func (p sessionPages) List(ctx context.Context, q danmaku.Query) (danmaku.Page, error) {
	return p.index.ListSession(ctx, q, p.session)
}

// listSession is list for a session's scope: a page of at most size of
// its danmaku from start on. The page's cursor is the last danmaku that
// it holds, or the last one read when it stopped after maxSessionScan.
func (s *Service) listSession(ctx context.Context, a danmaku.Actor, objectID string, sc Scope, start danmaku.ID, size int) (Result, error) {
	r := Result{Data: make([]*danmaku.Danmaku, 0, size), Cursor: EndCursor}
	var last danmaku.ID
	read := 0
	visit := func(d *danmaku.Danmaku) bool {
		if read == maxSessionScan {
			r.Cursor = last.String() // Go on from here on the next page.
			return false
		}
		read++
		last = d.ID
		return true
	}
	// Filtering reads pages of at least 100; the index reads what it needs.
	limit := max(size, 100)
	if _, indexed := s.store.(danmaku.SessionLister); indexed {
		limit = size
	}
	began := time.Now()
	for d, err := range s.scoped(ctx, a, objectID, sc, start, limit, visit) {
		if err != nil {
			s.observe("list", began, err)
			return Result{}, fmt.Errorf("list %s: %w", objectID, err)
		}
		r.Data = append(r.Data, d)
		if len(r.Data) == size {
			r.Cursor = d.ID.String()
			break
		}
	}
	s.observe("list", began, nil)
	return r, nil
}

// RecordSession stores that the live session ss started or (EndedAt set)
// ended, keeping the recording URL that a moderator may have set on it.
// Authorisation is the caller's job. With a store that keeps no sessions
// it does nothing.
func (s *Service) RecordSession(ctx context.Context, ss danmaku.Session) error {
	if s.sessions == nil {
		return nil
	}
	old, err := s.sessions.Session(ctx, ss.ObjectID, ss.ID)
	switch {
	case err == nil:
		ss.RecordingURL = old.RecordingURL
	case !errors.Is(err, danmaku.ErrNotFound):
		return fmt.Errorf("read session %s of %s: %w", ss.ID, ss.ObjectID, err)
	}
	if err := s.sessions.PutSession(ctx, ss); err != nil {
		return fmt.Errorf("store session %s of %s: %w", ss.ID, ss.ObjectID, err)
	}
	return nil
}

// SetRecording sets (or, with an empty url, clears) the recording URL of
// the session id of objectID, running or ended, and returns the session.
// It returns an EINVALID error for a bad URL or id and ENOTFOUND for a
// session that the video never had. Authorisation is the caller's job.
func (s *Service) SetRecording(ctx context.Context, objectID, id, url string) (danmaku.Session, error) {
	if err := danmaku.ValidateRecordingURL(url); err != nil {
		return danmaku.Session{}, err
	}
	if id == "" {
		return danmaku.Session{}, danmaku.FieldError("session", "must not be empty")
	}
	if _, err := s.SessionScope(ctx, objectID, id); err != nil {
		return danmaku.Session{}, err
	}
	ss, err := s.sessions.Session(ctx, objectID, id)
	if err != nil {
		return danmaku.Session{}, fmt.Errorf("read session %s of %s: %w", id, objectID, err)
	}
	ss.RecordingURL = url
	if err := s.sessions.PutSession(ctx, ss); err != nil {
		return danmaku.Session{}, fmt.Errorf("store session %s of %s: %w", id, objectID, err)
	}
	return ss, nil
}
