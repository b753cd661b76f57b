package moderation

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// BanMode is what happens to the sends of a banned user; the caller reads
// it from its configuration and applies it.
type BanMode int

// Ban modes.
const (
	BanReject BanMode = iota // The send is refused with EFORBIDDEN.
	BanShadow                // The send is stored and shown to its author only.
)

// ParseBanMode parses "reject" or "shadow".
func ParseBanMode(s string) (BanMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "reject", "":
		return BanReject, nil
	case "shadow":
		return BanShadow, nil
	}
	return BanReject, fmt.Errorf("unknown ban mode %q: want reject or shadow", s)
}

// String returns "reject" or "shadow".
func (m BanMode) String() string {
	if m == BanShadow {
		return "shadow"
	}
	return "reject"
}

// Ban keeps a user, or every sender from an address range, from sending,
// everywhere (Room empty) or in one room.
type Ban struct {
	UserID string `json:"userId,omitempty"`
	// Addr, for an address ban (UserID empty), is the range in CIDR form.
	Addr string `json:"addr,omitempty"`
	// For names the anonymous user whose ban this address ban follows;
	// such a ban does not hold for senders with a token.
	For    string    `json:"for,omitempty"`
	Room   string    `json:"room,omitempty"`
	Reason string    `json:"reason,omitempty"`
	By     string    `json:"by,omitempty"` // Who banned, for the record.
	Since  time.Time `json:"since"`
	// Until is when the ban ends; the zero time means permanent.
	Until time.Time `json:"until,omitzero"`
}

// Permanent reports whether b never ends.
func (b Ban) Permanent() bool { return b.Until.IsZero() }

// Active reports whether b is in force at now.
func (b Ban) Active(now time.Time) bool { return b.Permanent() || now.Before(b.Until) }

// Error returns the EFORBIDDEN error to give a banned user.
func (b Ban) Error(now time.Time) *danmaku.Error {
	where := "everywhere"
	if b.Room != "" {
		where = "in this room"
	}
	e := &danmaku.Error{Code: danmaku.EFORBIDDEN, Message: "you are banned from sending " + where}
	if b.Reason != "" {
		e.Message += ": " + b.Reason
	}
	if !b.Permanent() {
		e.RetryAfter = b.Until.Sub(now)
	}
	return e
}

// MaxBanReason is the longest ban reason, in bytes.
const MaxBanReason = 500

// Bans is a list of bans. Check is on every send's path and must not wait
// on the network: a shared implementation keeps a local copy that it
// updates from a broker, and only Ban and Unban write through.
type Bans interface {
	// Ban adds or replaces the ban of b.Subject() in b.Room. It returns an
	// EINVALID *danmaku.Error for a bad ban.
	Ban(ctx context.Context, b Ban) error
	// Unban lifts the ban of user (a Ban.Subject: a user id, or "@" and
	// an address range) in room ("" for the global ban) and reports
	// whether there was one.
	Unban(ctx context.Context, user, room string) (bool, error)
	// Check returns the ban that stops user from sending in room at now:
	// the global ban or the room's ban, whichever lasts longer.
	Check(user, room string, now time.Time) (Ban, bool)
	// List returns the bans in force at now in room, or every ban in
	// force when room is "*", sorted by user then room.
	List(room string, now time.Time) []Ban
}

// BanList is the in-memory Bans. Expired bans are dropped when Check or
// List meets them. The zero BanList is not usable; call NewBanList.
type BanList struct {
	mu   sync.RWMutex
	bans map[banKey]Ban
	// addrLens counts the address bans by IPv6-ness and prefix length.
	addrLens map[bool]map[int]int
}

type banKey struct{ user, room string }

var _ Bans = (*BanList)(nil)

// NewBanList returns an empty ban list.
func NewBanList() *BanList {
	return &BanList{bans: make(map[banKey]Ban), addrLens: make(map[bool]map[int]int)}
}

// key returns the key of b in a BanList.
func (b Ban) key() banKey { return banKey{b.Subject(), b.Room} }

// put adds or replaces b. l.mu must be held.
func (l *BanList) put(b Ban) {
	k := b.key()
	if old, ok := l.bans[k]; ok {
		l.countAddr(old, -1)
	}
	l.bans[k] = b
	l.countAddr(b, 1)
}

// del removes the ban under k. l.mu must be held.
func (l *BanList) del(k banKey) {
	if old, ok := l.bans[k]; ok {
		l.countAddr(old, -1)
		delete(l.bans, k)
	}
}

// ValidateBan checks a ban's fields.
func ValidateBan(b Ban) error {
	switch {
	case b.Addr != "" && b.UserID != "":
		return danmaku.FieldError("userId", "a ban names a user or an address, not both")
	case b.Addr != "":
		if canon, err := ParseAddrBan("cidr", b.Addr); err != nil {
			return err
		} else if canon != b.Addr {
			return danmaku.FieldError("cidr", "must be in canonical form %s", canon)
		}
	default:
		if err := danmaku.ValidateUserID("userId", b.UserID); err != nil {
			return err
		}
	}
	if b.Room != "" {
		if err := danmaku.ValidateObjectID(b.Room); err != nil {
			return &danmaku.Error{Code: danmaku.EINVALID, Field: "room", Message: strings.TrimPrefix(err.Error(), "objectId: ")}
		}
	}
	if len(b.Reason) > MaxBanReason {
		return danmaku.FieldError("reason", "must be at most %d bytes", MaxBanReason)
	}
	if !b.Until.IsZero() && !b.Since.IsZero() && !b.Until.After(b.Since) {
		return danmaku.FieldError("until", "must be after the start of the ban")
	}
	return nil
}

// Ban implements Bans. A zero b.Since is set to the current time.
func (l *BanList) Ban(_ context.Context, b Ban) error {
	if err := ValidateBan(b); err != nil {
		return err
	}
	if b.Since.IsZero() {
		b.Since = time.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// Bans are few and banning is rare: drop every expired ban here, so
	// that bans nobody checks do not pile up.
	for k, old := range l.bans {
		if !old.Active(b.Since) {
			l.del(k)
		}
	}
	l.put(b)
	return nil
}

// Replace sets the bans of room ("" for the global bans) to exactly bans,
// whose Room fields must all equal room; the bans of other rooms are kept.
// A shared implementation calls it to reload its local copy.
func (l *BanList) Replace(room string, bans []Ban) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.bans {
		if k.room == room {
			l.del(k)
		}
	}
	for _, b := range bans {
		if b.Room == room {
			l.put(b)
		}
	}
}

// ReplaceAll sets the whole list to exactly bans.
func (l *BanList) ReplaceAll(bans []Ban) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bans = make(map[banKey]Ban, len(bans))
	l.addrLens = make(map[bool]map[int]int)
	for _, b := range bans {
		l.put(b)
	}
}

// Unban implements Bans.
func (l *BanList) Unban(_ context.Context, user, room string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := banKey{user, room}
	_, ok := l.bans[k]
	l.del(k)
	return ok, nil
}

// Check implements Bans.
func (l *BanList) Check(user, room string, now time.Time) (Ban, bool) {
	keys := [2]banKey{{user, ""}, {user, room}}
	n := 2
	if room == "" {
		n = 1
	}
	var found Ban
	ok := false
	var expired []banKey
	l.mu.RLock()
	for _, k := range keys[:n] {
		b, has := l.bans[k]
		switch {
		case !has:
		case !b.Active(now):
			expired = append(expired, k)
		case !ok || outlasts(b, found):
			found, ok = b, true
		}
	}
	l.mu.RUnlock()
	if len(expired) > 0 {
		l.dropExpired(expired, now)
	}
	return found, ok
}

// outlasts reports whether a ends after b.
func outlasts(a, b Ban) bool {
	if b.Permanent() {
		return false
	}
	return a.Permanent() || a.Until.After(b.Until)
}

// dropExpired deletes the given bans if they are still expired at now (a
// new ban may have replaced them meanwhile).
func (l *BanList) dropExpired(keys []banKey, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if b, ok := l.bans[k]; ok && !b.Active(now) {
			l.del(k)
		}
	}
}

// List implements Bans.
func (l *BanList) List(room string, now time.Time) []Ban {
	var out []Ban
	var expired []banKey
	l.mu.RLock()
	for k, b := range l.bans {
		if room != "*" && k.room != room {
			continue
		}
		if !b.Active(now) {
			expired = append(expired, k)
			continue
		}
		out = append(out, b)
	}
	l.mu.RUnlock()
	if len(expired) > 0 {
		l.dropExpired(expired, now)
	}
	slices.SortFunc(out, func(a, b Ban) int {
		return cmp.Or(cmp.Compare(a.Subject(), b.Subject()), cmp.Compare(a.Room, b.Room))
	})
	return out
}
