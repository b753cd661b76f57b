package moderation

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// Default prefix lengths that group a client's addresses: one IPv4
// address, and the /64 that an IPv6 host chooses its addresses from.
const (
	DefaultIPv4Prefix = 32
	DefaultIPv6Prefix = 64
)

// AddrGroups groups client addresses into the prefixes that bans and
// cookie-less limits apply to. The zero AddrGroups uses the defaults.
type AddrGroups struct {
	IPv4Prefix int // 1 to 32, default 32.
	IPv6Prefix int // 1 to 128, default 64.
}

// Validate returns an error for a prefix length out of range.
func (g AddrGroups) Validate() error {
	if g.IPv4Prefix < 0 || g.IPv4Prefix > 32 {
		return fmt.Errorf("IPv4 prefix length %d: want 1 to 32", g.IPv4Prefix)
	}
	if g.IPv6Prefix < 0 || g.IPv6Prefix > 128 {
		return fmt.Errorf("IPv6 prefix length %d: want 1 to 128", g.IPv6Prefix)
	}
	return nil
}

// Group returns the prefix that ip belongs to, in CIDR form ("" when ip is
// not an address). An IPv4-mapped IPv6 address is grouped as IPv4.
func (g AddrGroups) Group(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap().WithZone("")
	bits := cmpOr(g.IPv4Prefix, DefaultIPv4Prefix)
	if a.Is6() {
		bits = cmpOr(g.IPv6Prefix, DefaultIPv6Prefix)
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

func cmpOr(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// ParseAddrBan parses the address or range ("203.0.113.7", "203.0.113.0/24",
// "2001:db8::/48") of an address ban and returns it in canonical CIDR
// form, or an EINVALID error naming field.
func ParseAddrBan(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Addr().Zone() != "" {
			return "", danmaku.FieldError(field, "must not have a zone")
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(0, p.Bits()-96))
		}
		if p.Bits() == 0 {
			return "", danmaku.FieldError(field, "must not cover every address")
		}
		return p.Masked().String(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", danmaku.FieldError(field, "must be an IP address or a CIDR range")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()).String(), nil
}

// addrSubject is the ban-list key of an address ban: "@" and the prefix.
func addrSubject(prefix string) string { return "@" + prefix }

// Subject returns what b bans: its user id, or "@" and its address range.
// Bans.Unban takes it as its user argument.
func (b Ban) Subject() string {
	if b.Addr != "" {
		return addrSubject(b.Addr)
	}
	return b.UserID
}

// AddrChecker is implemented by Bans that can match an address against
// their address bans (BanList does, and so does a shared list over it).
type AddrChecker interface {
	// CheckAddr returns the longest-lasting address ban in force at now
	// in room (or everywhere) whose range holds ip.
	CheckAddr(ip, room string, now time.Time) (Ban, bool)
}

// CheckAddr implements AddrChecker: it looks ip up under each prefix
// length that an address ban uses, so its cost grows with the number of
// distinct lengths in use, not with the number of bans.
func (l *BanList) CheckAddr(ip, room string, now time.Time) (Ban, bool) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return Ban{}, false
	}
	a = a.Unmap().WithZone("")
	l.mu.RLock()
	lens := l.addrLens[a.Is6()]
	var subjects []string
	for bits := range lens {
		if p, err := a.Prefix(bits); err == nil {
			subjects = append(subjects, addrSubject(p.String()))
		}
	}
	l.mu.RUnlock()
	var found Ban
	ok := false
	for _, s := range subjects {
		if b, has := l.Check(s, room, now); has && (!ok || outlasts(b, found)) {
			found, ok = b, true
		}
	}
	return found, ok
}

// countAddr updates the count of address bans by prefix length when b is
// added (delta 1) or removed (delta -1). l.mu must be held.
func (l *BanList) countAddr(b Ban, delta int) {
	if b.Addr == "" {
		return
	}
	p, err := netip.ParsePrefix(b.Addr)
	if err != nil {
		return
	}
	six := p.Addr().Is6()
	if l.addrLens[six] == nil {
		l.addrLens[six] = make(map[int]int)
	}
	l.addrLens[six][p.Bits()] += delta
	if l.addrLens[six][p.Bits()] <= 0 {
		delete(l.addrLens[six], p.Bits())
	}
}

// lastSeen remembers the address group of recent anonymous senders, so
// that a ban of an anonymous id can follow it to its address. It holds at
// most maxSeen ids (about 3 MB) in two generations: new ids go into cur,
// and when cur holds half of maxSeen it becomes old and the previous old
// is forgotten whole. Senders without a cookie get a new id with every
// send, so the bound is reached quickly under such a load and must stay
// small: 20,000 ids cover the last few minutes of senders that an admin
// bans from the feed or the room browser. Dropping a whole map, rather
// than deleting half of one map's keys, keeps the memory bounded: a Go map
// does not shrink, and one that keeps losing and gaining keys grows.
type lastSeen struct {
	mu  sync.Mutex
	cur map[string]string // Anonymous user id → address group, the newer half.
	old map[string]string // The older half.
}

const maxSeen = 20_000

func (s *lastSeen) note(user, group string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.cur[user]; ok && g == group {
		return
	}
	if s.cur == nil || len(s.cur) >= maxSeen/2 {
		s.old, s.cur = s.cur, make(map[string]string, maxSeen/2)
	}
	s.cur[user] = group
}

func (s *lastSeen) get(user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.cur[user]; ok {
		return g
	}
	return s.old[user]
}

// BanUser records b and, when b bans an anonymous id whose address the
// guard has seen, an address ban of that address group for the same room
// and duration (its For field names the id). It returns the address ban
// it added, if any. Lifting the user's ban with UnbanUser lifts it too.
func (g *Guard) BanUser(ctx context.Context, b Ban) (*Ban, error) {
	if err := g.Bans.Ban(ctx, b); err != nil {
		return nil, err
	}
	if b.Addr != "" {
		return nil, nil
	}
	group := g.seen.get(b.UserID)
	if group == "" {
		return nil, nil
	}
	ab := Ban{Addr: group, For: b.UserID, Room: b.Room, Reason: b.Reason, By: b.By, Since: b.Since, Until: b.Until}
	if err := g.Bans.Ban(ctx, ab); err != nil {
		return nil, fmt.Errorf("ban the address of %s: %w", b.UserID, err)
	}
	return &ab, nil
}

// UnbanUser lifts the ban of subject (a user id, or "@" and a range) in
// room, and the address bans that followed that user's ban there; it
// reports whether there was a ban.
func (g *Guard) UnbanUser(ctx context.Context, subject, room string) (bool, error) {
	removed, err := g.Bans.Unban(ctx, subject, room)
	if err != nil || strings.HasPrefix(subject, "@") {
		return removed, err
	}
	scope := room
	for _, b := range g.Bans.List(scope, g.Now()) {
		if b.For == subject && b.Room == room {
			if _, err := g.Bans.Unban(ctx, b.Subject(), room); err != nil {
				return removed, err
			}
		}
	}
	return removed, nil
}

// checkAddr returns the address ban that stops a: a ban an admin made on
// the address holds for every sender from it, one that followed an
// anonymous id's ban holds for anonymous and unidentified senders.
func (g *Guard) checkAddr(a danmaku.Actor, room string, now time.Time) (Ban, bool) {
	c, ok := g.Bans.(AddrChecker)
	if !ok || a.IP == "" {
		return Ban{}, false
	}
	b, banned := c.CheckAddr(a.IP, room, now)
	if !banned || (b.For != "" && a.UserID != "" && !a.Anonymous) {
		return Ban{}, false
	}
	return b, true
}
