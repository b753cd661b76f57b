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

// Bounds of a room's settings, which RoomSettings.Validate checks. Zero
// tick interval and cap mean the server's defaults (see package live).
const (
	MinTickInterval = 100 * time.Millisecond
	MaxTickInterval = 5 * time.Second
	MaxMaxPerTick   = 1000
	MaxSlowMode     = time.Hour
)

// Validate returns an EINVALID *Error naming the first field of s out of
// range, or nil.
func (s RoomSettings) Validate() error {
	if err := ValidateObjectID(s.ObjectID); err != nil {
		return err
	}
	if s.SlowMode < 0 || s.SlowMode > MaxSlowMode {
		return FieldError("slowMode", "must be from 0 to %v", MaxSlowMode)
	}
	if s.TickInterval != 0 && (s.TickInterval < MinTickInterval || s.TickInterval > MaxTickInterval) {
		return FieldError("tickInterval", "must be from %v to %v", MinTickInterval, MaxTickInterval)
	}
	if s.MaxPerTick < 0 || s.MaxPerTick > MaxMaxPerTick {
		return FieldError("maxPerTick", "must be from 1 to %d", MaxMaxPerTick)
	}
	return nil
}

// RoomApplier is a part of the server that keeps its own copy of some of
// a room's settings to act on them quickly: the live hub (tick interval,
// per-tick cap, live session) and the moderation guard (pause, slow
// mode). Room settings reach every applier only through one coordinator
// (service.Rooms), after the one durable write of a change or when stored
// settings are loaded, so that no setting is stored but not applied or
// applied in part.
type RoomApplier interface {
	// ApplyRoom puts s, the whole settings of s.ObjectID, in force: every
	// field the applier keeps, whether it changed or not. s is valid
	// (RoomSettings.Validate). An applier with a shared copy (Redis in a
	// cluster) returns an EUNAVAILABLE *Error when it cannot record it.
	ApplyRoom(ctx context.Context, s RoomSettings) error
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
