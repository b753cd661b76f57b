package danmaku

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// RoomSettings is everything an admin or a room's moderator sets on one
// room: whether sending is paused, the slow mode, the tick interval and
// per-tick cap of its live broadcast, and its current live session. It is
// the one record of a room's state; the store that holds the danmaku keeps
// it (SettingsStore), and each change to a room is one write of it. Zero
// fields mean the server's defaults.
type RoomSettings struct {
	ObjectID string `json:"objectId"`
	Paused   bool   `json:"paused,omitempty"`
	// SlowMode lets each user send at most once per SlowMode; zero is off.
	SlowMode time.Duration `json:"slowMode,omitempty"`
	// TickInterval and MaxPerTick configure the room's live ticks.
	TickInterval time.Duration `json:"tickInterval,omitempty"`
	MaxPerTick   int           `json:"maxPerTick,omitempty"`
	// Live is the room's running live session, nil when none runs.
	Live *LiveSession `json:"live,omitempty"`
}

// LiveSession is a room's running live session: a danmaku's playback time
// is its offset from StartedAt.
type LiveSession struct {
	StartedAt time.Time `json:"startedAt"`
}

// BanRecord is a stored ban: of a user (UserID) or of a client address or
// range (Address), everywhere (Room empty) or in one room, until Until or
// for good (Until zero).
type BanRecord struct {
	UserID  string `json:"userId,omitempty"`
	Address string `json:"address,omitempty"`
	// For names the anonymous user whose ban an address ban follows.
	For    string    `json:"for,omitempty"`
	Room   string    `json:"room,omitempty"`
	Reason string    `json:"reason,omitempty"`
	By     string    `json:"by,omitempty"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until,omitzero"`
}

// Active reports whether b is in force at now.
func (b BanRecord) Active(now time.Time) bool { return b.Until.IsZero() || now.Before(b.Until) }

// WordRecord is a stored word of a word list (Room empty for the global
// list) with its options. Key identifies it within its list: the caller
// chooses it (the moderation package uses the word's canonical form), so
// that spellings of one word are one record.
type WordRecord struct {
	Room   string `json:"room,omitempty"`
	Key    string `json:"key"`
	Word   string `json:"word"`
	Action string `json:"action"`
	Inside bool   `json:"inside,omitempty"`
}

// Settings is the whole moderation state that a SettingsStore holds.
type Settings struct {
	Rooms []RoomSettings
	Bans  []BanRecord
	Words []WordRecord
}

// SettingsStore keeps room settings, bans and word lists durably, in the
// store that holds the danmaku (store/pebble on a single node,
// store/dynamodb in a cluster). Every method that changes something is one
// durable write: a room's settings, one ban or one word. A cluster's Redis
// is a fast copy of this state, never the only one: nodes load it from here
// when they start. Implementations are safe for concurrent use.
type SettingsStore interface {
	// PutRoom replaces the settings of s.ObjectID.
	PutRoom(ctx context.Context, s RoomSettings) error
	// Room returns the settings of objectID, or ErrNotFound when none
	// were ever stored.
	Room(ctx context.Context, objectID string) (RoomSettings, error)
	// PutBan stores b, replacing the ban of the same user or address in
	// the same room.
	PutBan(ctx context.Context, b BanRecord) error
	// DeleteBan removes the ban of userID or address (one of them is
	// empty) in room and reports whether there was one.
	DeleteBan(ctx context.Context, room, userID, address string) (bool, error)
	// PutWord stores w, replacing the word with the same Room and Key.
	PutWord(ctx context.Context, w WordRecord) error
	// DeleteWord removes the word key from the list of room and reports
	// whether it was there.
	DeleteWord(ctx context.Context, room, key string) (bool, error)
	// LoadSettings returns everything stored, in no particular order.
	LoadSettings(ctx context.Context) (Settings, error)
}

// SettingName returns the name under which stores key a settings record:
// "r" and the room for room settings, "b" or "a" (user or address), the
// room and the subject for a ban, "w", the room and the key for a word,
// with NUL between parts (no part may hold NUL).
func SettingName(kind byte, parts ...string) string {
	n := 1
	for _, p := range parts {
		n += 1 + len(p)
	}
	b := make([]byte, 0, n)
	b = append(b, kind)
	for _, p := range parts {
		b = append(b, 0)
		b = append(b, p...)
	}
	return string(b)
}

// BanName returns the SettingName of the ban of userID or address in room.
func BanName(room, userID, address string) string {
	if address != "" {
		return SettingName('a', room, address)
	}
	return SettingName('b', room, userID)
}

// SettingRecord returns the name and JSON value of a settings record (a
// RoomSettings, BanRecord or WordRecord) for a store to write.
func SettingRecord(v any) (name string, value []byte, err error) {
	parts := 2
	switch r := v.(type) {
	case RoomSettings:
		name, parts = SettingName('r', r.ObjectID), 1
	case BanRecord:
		name = BanName(r.Room, r.UserID, r.Address)
	case WordRecord:
		name = SettingName('w', r.Room, r.Key)
	default:
		return "", nil, fmt.Errorf("settings record of type %T", v)
	}
	if strings.Count(name, "\x00") != parts {
		return "", nil, errors.New("settings record: a room, user, address or word holds NUL")
	}
	value, err = json.Marshal(v)
	return name, value, err
}

// Add decodes a stored settings record by the kind its name starts with
// and appends it to s.
func (s *Settings) Add(name string, value []byte) error {
	if name == "" {
		return errors.New("settings record with an empty name")
	}
	var err error
	switch name[0] {
	case 'r':
		var r RoomSettings
		if err = json.Unmarshal(value, &r); err == nil {
			s.Rooms = append(s.Rooms, r)
		}
	case 'b', 'a':
		var b BanRecord
		if err = json.Unmarshal(value, &b); err == nil {
			s.Bans = append(s.Bans, b)
		}
	case 'w':
		var w WordRecord
		if err = json.Unmarshal(value, &w); err == nil {
			s.Words = append(s.Words, w)
		}
	default:
		return fmt.Errorf("settings record %q of unknown kind", name)
	}
	if err != nil {
		return fmt.Errorf("settings record %q: %w", name, err)
	}
	return nil
}
