package moderation

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

func TestBans(t *testing.T) {
	ctx := context.Background()
	t0 := time.Unix(1_700_000_000, 0)
	l := NewBanList()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.Ban(ctx, Ban{UserID: "troll", Reason: "spam", Since: t0, Until: t0.Add(time.Hour)}))
	must(l.Ban(ctx, Ban{UserID: "spoiler", Room: "r1", Since: t0}))
	must(l.Ban(ctx, Ban{UserID: "both", Since: t0, Until: t0.Add(time.Minute)}))
	must(l.Ban(ctx, Ban{UserID: "both", Room: "r1", Since: t0, Until: t0.Add(time.Hour)}))

	tests := []struct {
		name   string
		user   string
		room   string
		at     time.Duration
		banned bool
		room0  string // Expected Ban.Room when banned.
	}{
		{"global ban in a room", "troll", "r1", 0, true, ""},
		{"global ban without room", "troll", "", 0, true, ""},
		{"global ban expired", "troll", "r1", time.Hour, false, ""},
		{"room ban in its room", "spoiler", "r1", 0, true, "r1"},
		{"room ban is permanent", "spoiler", "r1", 1000 * time.Hour, true, "r1"},
		{"room ban elsewhere", "spoiler", "r2", 0, false, ""},
		{"longer of two bans", "both", "r1", 0, true, "r1"},
		{"global part of two bans", "both", "r2", 0, true, ""},
		{"global part expired", "both", "r2", 2 * time.Minute, false, ""},
		{"room part remains", "both", "r1", 2 * time.Minute, true, "r1"},
		{"not banned", "nobody", "r1", 0, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ok := l.Check(tt.user, tt.room, t0.Add(tt.at))
			if ok != tt.banned || ok && b.Room != tt.room0 {
				t.Fatalf("Check(%s, %s) = %+v, %v; want banned %v in %q", tt.user, tt.room, b, ok, tt.banned, tt.room0)
			}
		})
	}

	if got := l.List("r1", t0); len(got) != 2 || got[0].UserID != "both" || got[1].UserID != "spoiler" {
		t.Fatalf("List(r1) = %+v", got)
	}
	// The checks above met the two global bans after they expired and
	// dropped them; the room bans remain.
	if got := l.List("*", t0); len(got) != 2 {
		t.Fatalf("List(*) = %+v", got)
	}
	if got := l.List("", t0.Add(2*time.Hour)); len(got) != 0 {
		t.Fatalf("List(global) after expiry = %+v", got)
	}
	ok, err := l.Unban(ctx, "spoiler", "r1")
	if err != nil || !ok {
		t.Fatalf("Unban = %v, %v", ok, err)
	}
	if _, banned := l.Check("spoiler", "r1", t0); banned {
		t.Fatal("still banned after Unban")
	}
	if ok, _ := l.Unban(ctx, "spoiler", "r1"); ok {
		t.Fatal("second Unban reported a ban")
	}
}

func TestBanError(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	b := Ban{UserID: "u", Room: "r", Reason: "spoilers", Since: t0, Until: t0.Add(time.Hour)}
	e := b.Error(t0.Add(15 * time.Minute))
	if e.Code != danmaku.EFORBIDDEN || e.RetryAfter != 45*time.Minute || !strings.Contains(e.Message, "spoilers") {
		t.Fatalf("Error = %+v", e)
	}
	if e := (Ban{UserID: "u"}).Error(t0); e.RetryAfter != 0 || !strings.Contains(e.Message, "everywhere") {
		t.Fatalf("permanent Error = %+v", e)
	}
}

func TestBanInvalid(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name  string
		ban   Ban
		field string
	}{
		{"no user", Ban{}, "userId"},
		{"bad room", Ban{UserID: "u", Room: "a b"}, "room"},
		{"long reason", Ban{UserID: "u", Reason: strings.Repeat("x", MaxBanReason+1)}, "reason"},
		{"ends before start", Ban{UserID: "u", Since: t0, Until: t0.Add(-time.Second)}, "until"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewBanList().Ban(context.Background(), tt.ban)
			var e *danmaku.Error
			if !errors.As(err, &e) || e.Code != danmaku.EINVALID || e.Field != tt.field {
				t.Fatalf("Ban(%+v) = %v, want EINVALID on %s", tt.ban, err, tt.field)
			}
		})
	}
}

func TestBanModeParse(t *testing.T) {
	for in, want := range map[string]BanMode{"reject": BanReject, "": BanReject, "Shadow": BanShadow} {
		got, err := ParseBanMode(in)
		if err != nil || got != want {
			t.Errorf("ParseBanMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseBanMode("ignore"); err == nil {
		t.Error("ParseBanMode(ignore) succeeded")
	}
}

func TestBanSweepsExpired(t *testing.T) {
	ctx := context.Background()
	t0 := time.Unix(1_700_000_000, 0)
	l := NewBanList()
	if err := l.Ban(ctx, Ban{UserID: "old", Since: t0, Until: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := l.Ban(ctx, Ban{UserID: "new", Since: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	l.mu.RLock()
	n := len(l.bans)
	l.mu.RUnlock()
	if n != 1 {
		t.Fatalf("%d bans held, want the expired one swept", n)
	}
}
