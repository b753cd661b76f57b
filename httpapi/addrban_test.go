package httpapi_test

import (
	"testing"

	danmaku "github.com/danmakud/danmakud"
)

// TestAddressBans checks the ban endpoint's ip and cidr fields, and that a
// ban of an anonymous sender also holds for its address: the same client
// without its cookie is refused until the ban is lifted.
func TestAddressBans(t *testing.T) {
	e := newAdminEnv(t)
	admin := e.token(t, "boss", danmaku.RoleAdmin)
	send := func(text string) (int, map[string]any) {
		return e.do(t, "POST", "/danmu/send", "", `{"objectId":"r","content":{"text":"`+text+`"}}`)
	}
	st, body := send("first")
	if st != 200 {
		t.Fatalf("anonymous send: %d %v", st, body)
	}
	anon, _ := body["userId"].(string)
	if anon == "" {
		t.Fatalf("no userId in the answer: %v", body)
	}
	st, body = e.do(t, "POST", "/admin/api/bans", admin, `{"userId":"`+anon+`","seconds":600}`)
	ab, _ := body["addressBan"].(map[string]any)
	if st != 200 || ab == nil || ab["addr"] != "127.0.0.1/32" || ab["for"] != anon {
		t.Fatalf("ban of %s: %d %v; want an address ban of 127.0.0.1/32", anon, st, body)
	}
	if st, body := send("second, no cookie"); st != 403 {
		t.Fatalf("the banned sender without its cookie: %d %v, want 403", st, body)
	}
	if st, _ := e.do(t, "DELETE", "/admin/api/bans?userId="+anon, admin, ""); st != 200 {
		t.Fatalf("unban: %d", st)
	}
	if st, body := send("third"); st != 200 {
		t.Fatalf("after the unban: %d %v", st, body)
	}

	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"ip and userId", `{"userId":"u","ip":"192.0.2.1"}`, 400},
		{"bad ip", `{"ip":"192.0.2.300"}`, 400},
		{"range as ip", `{"ip":"192.0.2.0/24"}`, 400},
		{"bad cidr", `{"cidr":"nonsense"}`, 400},
		{"everything", `{"cidr":"::/0"}`, 400},
		{"range", `{"cidr":"127.0.0.0/8","room":"r","seconds":60}`, 200},
	} {
		if st, body := e.do(t, "POST", "/admin/api/bans", admin, tc.body); st != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.name, st, body, tc.want)
		}
	}
	if st, body := send("in a banned range"); st != 403 {
		t.Fatalf("sender in a banned range: %d %v, want 403", st, body)
	}
	_, list := e.do(t, "GET", "/admin/api/bans?room=r", admin, "")
	if bans, _ := list["bans"].([]any); len(bans) != 1 || bans[0].(map[string]any)["addr"] != "127.0.0.0/8" {
		t.Fatalf("bans of room r: %v", list)
	}
	if st, _ := e.do(t, "DELETE", "/admin/api/bans?cidr=127.0.0.0/8&room=r", admin, ""); st != 200 {
		t.Fatalf("unban range: %d", st)
	}
	if st, body := send("range lifted"); st != 200 {
		t.Fatalf("after lifting the range: %d %v", st, body)
	}
}

// TestQueryTokenOnlyOnLiveRoutes checks that an admin token in ?token= is
// ignored on an ordinary route, while the admin feed stream (an
// EventSource route) takes it.
func TestQueryTokenOnlyOnLiveRoutes(t *testing.T) {
	e := newAdminEnv(t)
	admin := e.token(t, "boss", danmaku.RoleAdmin)
	if st, _ := e.do(t, "GET", "/admin/api/stats?token="+admin, "", ""); st != 401 {
		t.Errorf("admin stats with ?token=: %d, want 401", st)
	}
	if st, _ := e.do(t, "GET", "/admin/api/stats", admin, ""); st != 200 {
		t.Errorf("admin stats with the header: %d, want 200", st)
	}
	if st, _ := e.do(t, "GET", "/admin/api/feed/stream?token="+admin+"x", "", ""); st != 401 {
		t.Errorf("feed stream with a forged ?token=: %d, want 401 (the route reads the parameter)", st)
	}
}
