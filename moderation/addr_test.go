package moderation

import (
	"context"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

func TestParseAddrBan(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"203.0.113.7", "203.0.113.7/32"},
		{"203.0.113.7/24", "203.0.113.0/24"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"2001:db8:1:2:3::/48", "2001:db8:1::/48"},
		{"::ffff:203.0.113.7", "203.0.113.7/32"},
		{"::ffff:203.0.113.0/120", "203.0.113.0/24"},
		{"nonsense", ""},
		{"0.0.0.0/0", ""},
		{"fe80::1%eth0", ""},
	} {
		got, err := ParseAddrBan("cidr", tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("ParseAddrBan(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestAddrGroups(t *testing.T) {
	var g AddrGroups
	if got := g.Group("2001:db8:1:2:aaaa::1"); got != "2001:db8:1:2::/64" {
		t.Errorf("IPv6 default group = %q", got)
	}
	if got := g.Group("198.51.100.9"); got != "198.51.100.9/32" {
		t.Errorf("IPv4 default group = %q", got)
	}
	g = AddrGroups{IPv4Prefix: 24, IPv6Prefix: 48}
	if got := g.Group("198.51.100.9"); got != "198.51.100.0/24" {
		t.Errorf("IPv4 /24 group = %q", got)
	}
	if got := g.Group("2001:db8:1:2::1"); got != "2001:db8:1::/48" {
		t.Errorf("IPv6 /48 group = %q", got)
	}
}

// TestAddrBans checks that a range ban stops every sender in it, in its
// room only when it has one, and that lifting it lets them send again.
func TestAddrBans(t *testing.T) {
	ctx := context.Background()
	g := NewGuard(NewFilter(), NewLimiter(LimitConfig{Disabled: true}), NewBanList(), BanReject, nil)
	send := func(user, ip, room string, anon bool) error {
		d := &danmaku.Danmaku{ObjectID: room, UserID: user, Content: danmaku.Content{Text: "hello"}}
		_, err := g.Check(ctx, danmaku.Actor{UserID: user, IP: ip, Anonymous: anon}, d)
		return err
	}
	if _, err := g.BanUser(ctx, Ban{Addr: "203.0.113.0/24", Room: "r1"}); err != nil {
		t.Fatal(err)
	}
	if err := send("u1", "203.0.113.77", "r1", false); danmaku.ErrorCode(err) != danmaku.EFORBIDDEN {
		t.Errorf("sender in the banned range: %v, want EFORBIDDEN", err)
	}
	if err := send("u1", "203.0.113.77", "r2", false); err != nil {
		t.Errorf("banned range, other room: %v", err)
	}
	if err := send("u1", "203.0.114.1", "r1", false); err != nil {
		t.Errorf("sender outside the range: %v", err)
	}
	if _, err := g.BanUser(ctx, Ban{Addr: "2001:db8::/32"}); err != nil {
		t.Fatal(err)
	}
	if err := send("u2", "2001:db8:ffff::5", "r9", true); danmaku.ErrorCode(err) != danmaku.EFORBIDDEN {
		t.Errorf("IPv6 sender in a global range ban: %v, want EFORBIDDEN", err)
	}
	if ok, err := g.UnbanUser(ctx, "@203.0.113.0/24", "r1"); !ok || err != nil {
		t.Fatalf("unban range: %v, %v", ok, err)
	}
	if err := send("u1", "203.0.113.77", "r1", false); err != nil {
		t.Errorf("after unban: %v", err)
	}
	if err := ValidateBan(Ban{UserID: "u", Addr: "203.0.113.0/24"}); err == nil {
		t.Error("a ban of both a user and an address was accepted")
	}
	if err := ValidateBan(Ban{Addr: "203.0.113.7/24"}); err == nil {
		t.Error("a non-canonical range was accepted")
	}
}

// TestAnonymousBanFollowsAddress checks that banning an anonymous id bans
// its address group for the same time: the same sender without its
// cookie (a fresh id) is refused, a token holder at the address is not,
// and lifting the user's ban lifts the address ban.
func TestAnonymousBanFollowsAddress(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	g := NewGuard(NewFilter(), NewLimiter(LimitConfig{Disabled: true}), NewBanList(), BanReject, func() time.Time { return now })
	check := func(a danmaku.Actor) error {
		d := &danmaku.Danmaku{ObjectID: "room", UserID: a.UserID, Content: danmaku.Content{Text: "spam"}}
		_, err := g.Check(ctx, a, d)
		return err
	}
	spammer := danmaku.Actor{UserID: "anon-1", Anonymous: true, IP: "2001:db8:5:6::1"}
	if err := check(spammer); err != nil {
		t.Fatal(err)
	}
	ab, err := g.BanUser(ctx, Ban{UserID: "anon-1", Since: now, Until: now.Add(time.Hour)})
	if err != nil || ab == nil || ab.Addr != "2001:db8:5:6::/64" || !ab.Until.Equal(now.Add(time.Hour)) {
		t.Fatalf("BanUser = %+v, %v; want a one-hour ban of 2001:db8:5:6::/64", ab, err)
	}
	fresh := danmaku.Actor{UserID: "anon-2", Anonymous: true, Fresh: true, IP: "2001:db8:5:6:ffff::9"}
	if err := check(fresh); danmaku.ErrorCode(err) != danmaku.EFORBIDDEN {
		t.Errorf("the same /64 without the cookie: %v, want EFORBIDDEN", err)
	}
	if err := check(danmaku.Actor{UserID: "alice", IP: fresh.IP}); err != nil {
		t.Errorf("a token holder at the address: %v", err)
	}
	now = now.Add(2 * time.Hour)
	if err := check(fresh); err != nil {
		t.Errorf("after the ban's duration: %v", err)
	}
	now = now.Add(-2 * time.Hour)
	if ok, err := g.UnbanUser(ctx, "anon-1", ""); !ok || err != nil {
		t.Fatalf("UnbanUser: %v, %v", ok, err)
	}
	if err := check(fresh); err != nil {
		t.Errorf("after lifting the user's ban: %v", err)
	}
}

// TestCookielessLimits checks that senders without a cookie (each given a
// fresh anonymous id) share the per-user rate, burst and duplicate-text
// window of their address.
func TestCookielessLimits(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	g := NewGuard(NewFilter(), NewLimiter(LimitConfig{UserRate: 1, UserBurst: 2, IPRate: 100, IPBurst: 100, Now: clock}), NewBanList(), BanReject, clock)
	n := 0
	send := func(ip, text string) error {
		n++
		a := danmaku.Actor{UserID: "anon-" + string(rune('a'+n)), Anonymous: true, Fresh: true, IP: ip}
		d := &danmaku.Danmaku{ObjectID: "room", UserID: a.UserID, Content: danmaku.Content{Text: text}}
		_, err := g.Check(ctx, a, d)
		return err
	}
	if err := send("198.51.100.1", "one"); err != nil {
		t.Fatal(err)
	}
	if err := send("198.51.100.1", "one"); danmaku.ErrorCode(err) != danmaku.ERATELIMIT {
		t.Errorf("same text again without a cookie: %v, want ERATELIMIT", err)
	}
	if err := send("198.51.100.1", "two"); err != nil {
		t.Fatal(err)
	}
	if err := send("198.51.100.1", "three"); danmaku.ErrorCode(err) != danmaku.ERATELIMIT {
		t.Errorf("third send in the burst of 2 without a cookie: %v, want ERATELIMIT", err)
	}
	if err := send("198.51.100.2", "three"); err != nil {
		t.Errorf("another address: %v", err)
	}
}

// TestAddrBanRecord checks that an address ban, and the anonymous id it
// followed, survive the round trip through a stored record.
func TestAddrBanRecord(t *testing.T) {
	b := Ban{Addr: "2001:db8:5:6::/64", For: "anon-1", Room: "r", Reason: "spam", By: "boss", Since: time.Unix(1_800_000_000, 0).UTC()}
	got, ok := BanOf(BanRecord(b))
	if !ok || got != b {
		t.Fatalf("BanOf(BanRecord(%+v)) = %+v, %v", b, got, ok)
	}
	if _, ok := BanOf(danmaku.BanRecord{Room: "r"}); ok {
		t.Fatal("a record naming neither a user nor an address gave a ban")
	}
}
