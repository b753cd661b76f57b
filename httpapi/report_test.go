package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/auth"
	"github.com/danmakud/danmakud/httpapi"
	"github.com/danmakud/danmakud/live"
	"github.com/danmakud/danmakud/moderation"
	"github.com/danmakud/danmakud/service"
	"github.com/danmakud/danmakud/store/pebble"
)

// reportEnv is a server with real authentication, the admin API, reports
// (limited by a limiter whose clock stands still, so that no token comes
// back during a test) and the room browser.
type reportEnv struct {
	adminEnv
	st danmaku.Store
}

func newReportEnv(t *testing.T, limits moderation.LimitConfig) reportEnv {
	t.Helper()
	st, err := pebble.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config{Secret: []byte(strings.Repeat("s", 32)), Anonymous: true, AdminPassword: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := live.New(live.Config{})
	if err != nil {
		t.Fatal(err)
	}
	guard := moderation.NewGuard(moderation.NewFilter(), moderation.NewLimiter(moderation.LimitConfig{Disabled: true}),
		moderation.NewBanList(), moderation.BanReject, nil)
	svc := service.New(service.Config{}, st, service.Options{Broker: hub, Live: hub, Moderator: guard})
	api := httpapi.New(httpapi.Config{}, svc, a)
	api.MountAdmin(httpapi.Admin{Guard: guard, Hub: hub, Login: a.AdminLogin})
	frozen := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	limits.Now = func() time.Time { return frozen }
	api.MountReports(service.NewReports(svc, moderation.NewLimiter(limits)))
	api.MountBrowse()
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		srv.Close()
		hub.Close()
		st.Close()
	})
	return reportEnv{adminEnv: adminEnv{srv: srv, auth: a}, st: st}
}

// send stores a danmaku through the API as the holder of token.
func (e reportEnv) send(t *testing.T, token, room, text string, at float64) map[string]any {
	t.Helper()
	st, body := e.do(t, "POST", "/danmu/send", token, fmt.Sprintf(`{"objectId":%q,"content":{"text":%q,"time":%v}}`, room, text, at))
	if st != 200 {
		t.Fatalf("send %q: %d %v", text, st, body)
	}
	return body
}

func report(room, id, reason string) string {
	b, _ := json.Marshal(map[string]string{"objectId": room, "id": id, "reason": reason})
	return string(b)
}

func TestReport(t *testing.T) {
	e := newReportEnv(t, moderation.LimitConfig{UserRate: 1, UserBurst: 10, IPRate: 1, IPBurst: 100, DuplicateWindow: -1})
	admin := e.token(t, "boss", danmaku.RoleAdmin)
	mod := e.token(t, "mod", danmaku.RoleModerator, "r1")
	other := e.token(t, "mod2", danmaku.RoleModerator, "r2")
	alice := e.token(t, "alice", danmaku.RoleViewer)
	bob := e.token(t, "bob", danmaku.RoleViewer)
	d := e.send(t, alice, "r1", "buy cheap followers", 3)
	id := d["id"].(string)

	st, body := e.do(t, "POST", "/danmu/report", bob, report("r1", id, "spam"))
	if st != 200 || body["ok"] != true {
		t.Fatalf("report: %d %v, want 200 {ok:true}", st, body)
	}

	// The report reaches the moderators' feed as a report event.
	_, feed := e.do(t, "GET", "/admin/api/feed?room=r1", mod, "")
	events := feed["events"].([]any)
	ev := events[0].(map[string]any)
	if ev["outcome"] != "report" || ev["reporter"] != "bob" || ev["reason"] != "spam" || ev["userId"] != "alice" {
		t.Fatalf("newest feed event = %v, want bob's report of alice's danmaku", ev)
	}
	if dm := ev["danmaku"].(map[string]any); dm["id"] != id {
		t.Fatalf("the report event carries danmaku %v, want %s", dm["id"], id)
	}

	// Moderators list the reports with their danmaku.
	for _, tc := range []struct {
		name, path, token string
		status, n         int
	}{
		{"admin, all rooms", "/admin/api/reports", admin, 200, 1},
		{"moderator, own room", "/admin/api/reports?room=r1", mod, 200, 1},
		{"moderator, other room", "/admin/api/reports?room=r1", other, 403, 0},
		{"moderator of another room, their room", "/admin/api/reports?room=r2", other, 200, 0},
		{"moderator, all rooms", "/admin/api/reports", mod, 403, 0},
		{"viewer", "/admin/api/reports", bob, 403, 0},
		{"no credential", "/admin/api/reports", "", 401, 0},
	} {
		st, body := e.do(t, "GET", tc.path, tc.token, "")
		if st != tc.status {
			t.Errorf("%s: status %d, want %d: %v", tc.name, st, tc.status, body)
			continue
		}
		if st != 200 {
			continue
		}
		data := body["data"].([]any)
		if len(data) != tc.n {
			t.Errorf("%s: %d reports, want %d", tc.name, len(data), tc.n)
			continue
		}
		if tc.n == 1 {
			r := data[0].(map[string]any)
			dm, _ := r["danmaku"].(map[string]any)
			text := dm["content"].(map[string]any)["text"]
			if r["objectId"] != "r1" || r["id"] != id || r["reason"] != "spam" || r["reporter"] != "bob" || r["at"] == nil || text != "buy cheap followers" {
				t.Errorf("%s: report %v", tc.name, r)
			}
		}
	}

	// Bad reports are refused with the field at fault, and nothing is kept.
	for _, tc := range []struct {
		name, body string
		status     int
		field      string
	}{
		{"no such danmaku", report("r1", "1"+id[1:], "spam"), 404, ""},
		{"other room", report("r2", id, "spam"), 404, ""},
		{"empty reason", report("r1", id, "  "), 400, "reason"},
		{"long reason", report("r1", id, strings.Repeat("长", 201)), 400, "reason"},
		{"control characters", report("r1", id, "a\x00b"), 400, "reason"},
		{"bad id", report("r1", "nope", "spam"), 400, "id"},
		{"bad room", report("r 1", id, "spam"), 400, "objectId"},
		{"not JSON", `{"objectId":`, 400, ""},
	} {
		st, body := e.do(t, "POST", "/danmu/report", bob, tc.body)
		if st != tc.status {
			t.Errorf("%s: status %d, want %d: %v", tc.name, st, tc.status, body)
			continue
		}
		if tc.field != "" {
			if f := body["error"].(map[string]any)["field"]; f != tc.field {
				t.Errorf("%s: field %v, want %s", tc.name, f, tc.field)
			}
		}
	}
	if _, body := e.do(t, "GET", "/admin/api/reports", admin, ""); len(body["data"].([]any)) != 1 {
		t.Errorf("after refused reports the list holds %d, want 1", len(body["data"].([]any)))
	}
	// A reason of exactly the limit is taken.
	if st, body := e.do(t, "POST", "/danmu/report", bob, report("r1", id, strings.Repeat("长", 200))); st != 200 {
		t.Errorf("a reason of 200 characters: %d %v", st, body)
	}
}

func TestReportRateLimit(t *testing.T) {
	e := newReportEnv(t, moderation.LimitConfig{UserRate: 0.01, UserBurst: 2, IPRate: 0.01, IPBurst: 4, DuplicateWindow: -1})
	alice := e.token(t, "alice", danmaku.RoleViewer)
	id := e.send(t, alice, "r1", "hello", 1)["id"].(string)
	reporter := func(name string) func() (int, map[string]any) {
		tok := e.token(t, name, danmaku.RoleViewer)
		return func() (int, map[string]any) { return e.do(t, "POST", "/danmu/report", tok, report("r1", id, "spam")) }
	}
	bob, carol, dave := reporter("bob"), reporter("carol"), reporter("dave")
	for i, want := range []int{200, 200, 429} {
		if st, body := bob(); st != want {
			t.Fatalf("bob's report %d: %d %v, want %d", i+1, st, body, want)
		}
	}
	// carol is limited by the address she shares with bob: two more fit.
	for i, want := range []int{200, 200, 429} {
		st, body := carol()
		if st != want {
			t.Fatalf("carol's report %d: %d %v, want %d", i+1, st, body, want)
		}
		if st == 429 {
			e := body["error"].(map[string]any)
			if e["code"] != "rate_limited" || e["retryAfterMs"] == nil || !strings.Contains(e["message"].(string), "reports") {
				t.Fatalf("a limited report answers %v", e)
			}
		}
	}
	if st, _ := dave(); st != 429 {
		t.Fatalf("a third reporter on the same address: %d, want 429", st)
	}
}

func TestBrowseRoom(t *testing.T) {
	e := newReportEnv(t, moderation.LimitConfig{Disabled: true})
	admin := e.token(t, "boss", danmaku.RoleAdmin)
	mod := e.token(t, "mod", danmaku.RoleModerator, "r1")
	other := e.token(t, "mod2", danmaku.RoleModerator, "r2")
	alice := e.token(t, "alice", danmaku.RoleViewer)
	bob := e.token(t, "bob", danmaku.RoleViewer)
	for i := range 10 {
		tok, who := alice, "alice"
		if i%2 == 1 {
			tok, who = bob, "bob"
		}
		e.send(t, tok, "r1", fmt.Sprintf("%s Says %d", who, i), float64(i))
	}
	e.send(t, alice, "r2", "elsewhere", 1)

	texts := func(body map[string]any) []string {
		var out []string
		for _, d := range body["data"].([]any) {
			out = append(out, d.(map[string]any)["content"].(map[string]any)["text"].(string))
		}
		return out
	}
	get := func(token, query string) (int, map[string]any) {
		return e.do(t, "GET", "/admin/api/rooms/r1/danmaku"+query, token, "")
	}
	for _, tc := range []struct {
		name, query string
		want        []string
		cursor      bool // A cursor to continue, rather than "-1".
	}{
		{"from 7 s", "?from=7", []string{"bob Says 7", "alice Says 8", "bob Says 9"}, false},
		{"by user", "?user=bob&from=4", []string{"bob Says 5", "bob Says 7", "bob Says 9"}, false},
		{"by text, any case", "?q=says%203", []string{"bob Says 3"}, false},
		{"user and text", "?user=alice&q=says", []string{"alice Says 0", "alice Says 2", "alice Says 4", "alice Says 6", "alice Says 8"}, false},
		{"first page", "?size=2&from=2.5", []string{"bob Says 3", "alice Says 4"}, true},
		{"no match", "?q=nothing", nil, false},
	} {
		st, body := get(mod, tc.query)
		if st != 200 {
			t.Errorf("%s: %d %v", tc.name, st, body)
			continue
		}
		if got := texts(body); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		if c := body["cursor"]; (c != "-1") != tc.cursor {
			t.Errorf("%s: cursor %v", tc.name, c)
		}
	}
	// Pages continue after the cursor until "-1".
	_, page := get(admin, "?size=4&user=bob")
	_, next := get(admin, "?size=4&user=bob&cursor="+page["cursor"].(string))
	if got := append(texts(page), texts(next)...); strings.Join(got, "|") != "bob Says 1|bob Says 3|bob Says 5|bob Says 7|bob Says 9" || next["cursor"] != "-1" {
		t.Errorf("two pages of bob's: %q, cursor %v", got, next["cursor"])
	}
	for _, tc := range []struct {
		name, token, query string
		status             int
	}{
		{"viewer", alice, "", 403},
		{"moderator of another room", other, "", 403},
		{"no credential", "", "", 401},
		{"bad from", mod, "?from=-1", 400},
		{"bad size", mod, "?size=1000", 400},
		{"bad cursor", mod, "?cursor=x", 400},
		{"long text", mod, "?q=" + strings.Repeat("x", 101), 400},
	} {
		if st, body := get(tc.token, tc.query); st != tc.status {
			t.Errorf("%s: %d %v, want %d", tc.name, st, body, tc.status)
		}
	}
}

// TestBrowseScanBound stores more danmaku than one browse reads, with the
// only match at the end: the first page is empty with a cursor, and the
// next one finds it.
func TestBrowseScanBound(t *testing.T) {
	e := newReportEnv(t, moderation.LimitConfig{Disabled: true})
	admin := e.token(t, "boss", danmaku.RoleAdmin)
	ids := danmaku.NewIDGenNode(1, nil)
	var batch []*danmaku.Danmaku
	for i := range service.BrowseScan + 10 {
		text := "filler"
		if i == service.BrowseScan+5 {
			text = "needle"
		}
		at := danmaku.Time(i * 10)
		batch = append(batch, &danmaku.Danmaku{ID: ids.Next(at), ObjectID: "big", UserID: "u", CreatedAt: 1,
			Content: danmaku.Content{Text: text, Color: 0xffffff, Size: 25, Position: 1, Time: at}})
	}
	if n, err := e.st.(danmaku.BatchPutter).PutBatch(context.Background(), batch); err != nil || n != len(batch) {
		t.Fatalf("store %d danmaku: %d, %v", len(batch), n, err)
	}
	st, first := e.do(t, "GET", "/admin/api/rooms/big/danmaku?q=needle", admin, "")
	if st != 200 || len(first["data"].([]any)) != 0 || first["cursor"] == "-1" {
		t.Fatalf("first browse: %d, %d items, cursor %v; want none and a cursor", st, len(first["data"].([]any)), first["cursor"])
	}
	_, second := e.do(t, "GET", "/admin/api/rooms/big/danmaku?q=needle&cursor="+first["cursor"].(string), admin, "")
	data := second["data"].([]any)
	if len(data) != 1 || data[0].(map[string]any)["content"].(map[string]any)["text"] != "needle" || second["cursor"] != "-1" {
		t.Fatalf("second browse: %v", second)
	}
}
