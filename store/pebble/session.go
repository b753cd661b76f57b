package pebble

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	danmaku "github.com/danmakud/danmakud"
)

var (
	_ danmaku.SessionStore  = (*Store)(nil)
	_ danmaku.SessionLister = (*Store)(nil)
)

// Live sessions (danmaku.SessionStore) live under
//
//	'L' | uvarint(len(objectId)) | objectId | start (8 bytes, big-endian Unix ms)
//
// with the session as JSON for value, so that a video's sessions are one
// key range in start order, read backwards for newest first. A session's
// id is its start in base 36 (danmaku.SessionID), so the key follows from
// the id. Each change is one synced write of one key.
//
// The danmaku of a session are indexed (danmaku.SessionLister) under
//
//	'S' | uvarint(len(objectId)) | objectId | uvarint(len(session)) | session | id (danmaku.ID.AppendBytes)
//
// with an empty value, written and deleted in the same batch as the
// danmaku's record, so that a replay reads its session's keys in playback
// order and each record with one point read.

func sessionKey(objectID string, startMs int64) []byte {
	return binary.BigEndian.AppendUint64(prefix('L', objectID), uint64(startMs))
}

func sessionIndexPrefix(objectID, session string) []byte {
	b := prefix('S', objectID)
	b = binary.AppendUvarint(b, uint64(len(session)))
	return append(b, session...)
}

func sessionIndexKey(objectID, session string, id danmaku.ID) []byte {
	return id.AppendBytes(sessionIndexPrefix(objectID, session))
}

// ListSession implements danmaku.SessionLister.
func (s *Store) ListSession(ctx context.Context, q danmaku.Query, session string) (danmaku.Page, error) {
	p := sessionIndexPrefix(q.ObjectID, session)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return danmaku.Page{}, fmt.Errorf("list session %s of %s: %w", session, q.ObjectID, err)
	}
	defer it.Close()
	limit := max(1, min(q.Limit, danmaku.MaxPageSize))
	var page danmaku.Page
	for ok := it.SeekGE(sessionIndexKey(q.ObjectID, session, q.Start)); ok; ok = it.Next() {
		if len(page.Items) == limit {
			page.More, page.Next = true, page.Items[limit-1].ID
			break
		}
		if err := ctx.Err(); err != nil {
			return danmaku.Page{}, err
		}
		id, err := danmaku.IDFromBytes(it.Key()[len(p):])
		if err != nil {
			return danmaku.Page{}, fmt.Errorf("session index key: %w", err)
		}
		d, err := s.Get(ctx, q.ObjectID, id)
		if errors.Is(err, danmaku.ErrNotFound) {
			continue // Deleted since the iterator began.
		}
		if err != nil {
			return danmaku.Page{}, err
		}
		page.Items = append(page.Items, d)
	}
	if err := it.Error(); err != nil {
		return danmaku.Page{}, fmt.Errorf("list session %s of %s: %w", session, q.ObjectID, err)
	}
	return page, nil
}

// PutSession implements danmaku.SessionStore.
func (s *Store) PutSession(ctx context.Context, ss danmaku.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start, err := danmaku.ParseSessionID(ss.ID)
	if err != nil {
		return err
	}
	val, err := json.Marshal(ss)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	if err := s.begin(); err != nil {
		return err
	}
	defer s.inflight.Done()
	if err := s.db.Set(sessionKey(ss.ObjectID, start), val, pebble.Sync); err != nil {
		return fmt.Errorf("store session: %w", err)
	}
	return nil
}

// Session implements danmaku.SessionStore.
func (s *Store) Session(ctx context.Context, objectID, id string) (danmaku.Session, error) {
	if err := ctx.Err(); err != nil {
		return danmaku.Session{}, err
	}
	start, err := danmaku.ParseSessionID(id)
	if err != nil {
		return danmaku.Session{}, err
	}
	val, closer, err := s.db.Get(sessionKey(objectID, start))
	if errors.Is(err, pebble.ErrNotFound) {
		return danmaku.Session{}, danmaku.ErrNotFound
	}
	if err != nil {
		return danmaku.Session{}, fmt.Errorf("read session: %w", err)
	}
	defer closer.Close()
	return decodeSession(val)
}

// Sessions implements danmaku.SessionStore.
func (s *Store) Sessions(ctx context.Context, objectID string, limit int) ([]danmaku.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := prefix('L', objectID)
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer it.Close()
	var out []danmaku.Session
	for ok := it.Last(); ok && len(out) < limit; ok = it.Prev() {
		ss, err := decodeSession(it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, ss)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

func decodeSession(val []byte) (danmaku.Session, error) {
	var ss danmaku.Session
	if err := json.Unmarshal(val, &ss); err != nil {
		return ss, fmt.Errorf("decode stored session: %w", err)
	}
	return ss, nil
}
