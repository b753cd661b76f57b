package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// getRaw fetches path and returns the status and the body.
func (e adminEnv) getRaw(t *testing.T, path string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// texts returns the texts of a listing's page and its cursor.
func (e adminEnv) texts(t *testing.T, path string) ([]string, string) {
	t.Helper()
	st, b := e.getRaw(t, path)
	var page struct {
		Data []struct {
			Session string `json:"session"`
			Content struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"data"`
		Cursor string `json:"cursor"`
	}
	if st != 200 || json.Unmarshal(b, &page) != nil {
		t.Fatalf("GET %s: %d %s", path, st, b)
	}
	var out []string
	for _, d := range page.Data {
		out = append(out, d.Content.Text)
	}
	return out, page.Cursor
}

// session starts or ends the live session of objectID and returns it.
func (e adminEnv) session(t *testing.T, objectID, action, token string) map[string]any {
	t.Helper()
	st, body := e.do(t, "POST", "/admin/api/rooms/"+objectID+"/live/"+action, token, "")
	s, _ := body["session"].(map[string]any)
	if st != 200 || s == nil || s["id"] == "" {
		t.Fatalf("live %s: %d %v", action, st, body)
	}
	return s
}

// TestSessionReplay runs two live sessions of one room, with danmaku sent
// before, between and after them, and checks that each replay (queryByTime,
// pull, the heatmap, the exports) returns its own session's danmaku only,
// that the rest of the video reads as before, and that the sessions are
// listed with their recordings.
func TestSessionReplay(t *testing.T) {
	e := newAdminEnv(t)
	mod := e.token(t, "mod", danmaku.RoleModerator, "show")
	viewer := e.token(t, "joe", danmaku.RoleViewer)
	send := func(text string, at float64) {
		t.Helper()
		body := fmt.Sprintf(`{"objectId":"show","content":{"text":%q,"time":%v}}`, text, at)
		if st, out := e.do(t, "POST", "/danmu/send", viewer, body); st != 200 {
			t.Fatalf("send %q: %d %v", text, st, out)
		}
	}
	// nextMs waits for the clock to pass the millisecond of a session's
	// end, so that the next session gets an id of its own.
	nextMs := func(s map[string]any) {
		end, _ := time.Parse(time.RFC3339Nano, s["endedAt"].(string))
		for time.Now().UnixMilli() <= end.UnixMilli() {
			time.Sleep(time.Millisecond)
		}
	}

	send("before-1", 0.001)
	send("before-2", 5)
	first := e.session(t, "show", "start", mod)
	for _, x := range []string{"one-a", "one-b", "one-c"} {
		send(x, 3000) // A live session's time is the server's offset, not this.
	}
	nextMs(e.session(t, "show", "end", mod))
	send("between", 0.002)
	second := e.session(t, "show", "start", mod)
	s1, s2 := first["id"].(string), second["id"].(string)
	if s1 == s2 {
		t.Fatalf("two sessions share the id %q", s1)
	}
	// A recording set while the session runs outlives its end.
	rec := "https://example.com/live/two.m3u8"
	if st, body := e.do(t, "POST", "/admin/api/rooms/show/sessions/"+s2, mod, `{"recordingUrl":"`+rec+`"}`); st != 200 {
		t.Fatalf("set the recording of a running session: %d %v", st, body)
	}
	for _, x := range []string{"two-a", "two-b"} {
		send(x, 3000)
	}
	e.session(t, "show", "end", mod)
	send("after", 7)

	wantOne, wantTwo := []string{"one-a", "one-b", "one-c"}, []string{"two-a", "two-b"}
	if got, cur := e.texts(t, "/danmu/queryByTime/show?session="+s1); !slices.Equal(got, wantOne) || cur != "-1" {
		t.Errorf("queryByTime of session one = %q (cursor %s), want %q", got, cur, wantOne)
	}
	if got, _ := e.texts(t, "/danmu/queryByTime/show?session="+s2); !slices.Equal(got, wantTwo) {
		t.Errorf("queryByTime of session two = %q, want %q", got, wantTwo)
	}
	all, _ := e.texts(t, "/danmu/queryByTime/show?size=100")
	slices.Sort(all)
	wantAll := []string{"after", "before-1", "before-2", "between", "one-a", "one-b", "one-c", "two-a", "two-b"}
	if !slices.Equal(all, wantAll) {
		t.Errorf("the whole video = %q, want %q", all, wantAll)
	}
	// Outside any session a danmaku keeps the client's time and no session.
	if got, _ := e.texts(t, "/danmu/queryByTime/show?playingTime=6"); !slices.Equal(got, []string{"after"}) {
		t.Errorf("queryByTime from 6 s = %q, want [after]", got)
	}

	// Pull, one at a time, visits session one's danmaku once each.
	var pulled []string
	for cursor, pages := "0", 0; cursor != "-1"; pages++ {
		if pages > 10 {
			t.Fatalf("pull does not end: %q", pulled)
		}
		var got []string
		got, cursor = e.texts(t, "/danmu/pull/show?size=1&session="+s1+"&cursor="+cursor)
		pulled = append(pulled, got...)
	}
	if !slices.Equal(pulled, wantOne) {
		t.Errorf("pull of session one = %q, want %q", pulled, wantOne)
	}

	st, b := e.getRaw(t, "/danmu/heatmap/show?buckets=4&session="+s1)
	var hm struct{ Total int }
	if st != 200 || json.Unmarshal(b, &hm) != nil || hm.Total != 3 {
		t.Errorf("heatmap of session one: %d %s, want a total of 3", st, b)
	}
	for _, format := range []string{"xml", "ass"} {
		st, b := e.getRaw(t, "/danmu/export/show."+format+"?session="+s2)
		body := string(b)
		if st != 200 || !strings.Contains(body, "two-a") || !strings.Contains(body, "two-b") ||
			strings.Contains(body, "one-") || strings.Contains(body, "before") || strings.Contains(body, "after") {
			t.Errorf("%s export of session two: %d\n%s", format, st, body)
		}
	}

	// The list: newest first, both ended, the recording kept.
	st, b = e.getRaw(t, "/danmu/sessions/show")
	var list struct {
		Sessions []struct {
			ID           string  `json:"id"`
			StartedAt    string  `json:"startedAt"`
			EndedAt      *string `json:"endedAt"`
			RecordingURL *string `json:"recordingUrl"`
		} `json:"sessions"`
	}
	if st != 200 || json.Unmarshal(b, &list) != nil || len(list.Sessions) != 2 {
		t.Fatalf("sessions: %d %s", st, b)
	}
	if l := list.Sessions; l[0].ID != s2 || l[1].ID != s1 || l[0].EndedAt == nil || l[1].EndedAt == nil ||
		l[0].RecordingURL == nil || *l[0].RecordingURL != rec || l[1].RecordingURL != nil {
		t.Errorf("sessions = %s", b)
	}
	if st, b := e.getRaw(t, "/danmu/sessions/nothing-here"); st != 200 || !strings.Contains(string(b), `"sessions":[]`) {
		t.Errorf("sessions of a video without any: %d %s", st, b)
	}
}

// TestSessionErrors checks the JSON errors of the session routes and of
// session= on the reads.
func TestSessionErrors(t *testing.T) {
	e := newAdminEnv(t)
	mod := e.token(t, "mod", danmaku.RoleModerator, "show")
	other := e.token(t, "mod2", danmaku.RoleModerator, "elsewhere")
	s := e.session(t, "show", "start", mod)["id"].(string)
	unknown := danmaku.SessionID(time.UnixMilli(1_000_000_000_000))

	for _, tc := range []struct {
		path, code string
		status     int
	}{
		{"/danmu/queryByTime/show?session=" + unknown, "not_found", 404},
		{"/danmu/pull/show?cursor=0&session=" + unknown, "not_found", 404},
		{"/danmu/heatmap/show?session=" + unknown, "not_found", 404},
		{"/danmu/export/show.xml?session=" + unknown, "not_found", 404},
		{"/danmu/queryByTime/other?session=" + s, "not_found", 404},
		{"/danmu/queryByTime/show?session=" + url.QueryEscape("A!"), "invalid", 400},
		{"/danmu/queryByTime/show?session=" + strings.Repeat("z", 40), "invalid", 400},
		{"/danmu/sessions/" + url.PathEscape("bad id"), "invalid", 400},
		{"/danmu/sessions/show?size=1000", "invalid", 400},
	} {
		st, b := e.getRaw(t, tc.path)
		var out struct{ Error struct{ Code string } }
		if st != tc.status || json.Unmarshal(b, &out) != nil || out.Error.Code != tc.code {
			t.Errorf("GET %s: %d %s, want %d %s", tc.path, st, b, tc.status, tc.code)
		}
	}
	if got, _ := e.texts(t, "/danmu/queryByTime/show?session="+s); len(got) != 0 {
		t.Errorf("a session without danmaku replays %q", got)
	}

	path := "/admin/api/rooms/show/sessions/" + s
	for _, tc := range []struct {
		name, path, token, body string
		status                  int
	}{
		{"javascript URL", path, mod, `{"recordingUrl":"javascript:alert(1)"}`, 400},
		{"relative URL", path, mod, `{"recordingUrl":"/live.mp4"}`, 400},
		{"long URL", path, mod, `{"recordingUrl":"https://example.com/` + strings.Repeat("a", 2100) + `"}`, 400},
		{"no field", path, mod, `{}`, 400},
		{"not JSON", path, mod, `{"recordingUrl":`, 400},
		{"unknown session", "/admin/api/rooms/show/sessions/" + unknown, mod, `{"recordingUrl":"https://example.com/a.mp4"}`, 404},
		{"malformed session", "/admin/api/rooms/show/sessions/A", mod, `{"recordingUrl":"https://example.com/a.mp4"}`, 400},
		{"another room's moderator", path, other, `{"recordingUrl":"https://example.com/a.mp4"}`, 403},
		{"no credential", path, "", `{"recordingUrl":"https://example.com/a.mp4"}`, 401},
		{"set", path, mod, `{"recordingUrl":"https://example.com/a.mp4"}`, 200},
		{"clear", path, mod, `{"recordingUrl":""}`, 200},
	} {
		if st, body := e.do(t, "POST", tc.path, tc.token, tc.body); st != tc.status {
			t.Errorf("%s: %d %v, want %d", tc.name, st, body, tc.status)
		}
	}
	if ss, err := e.store.Session(t.Context(), "show", s); err != nil || ss.RecordingURL != "" || !ss.EndedAt.IsZero() {
		t.Errorf("stored session after set and clear = %+v, %v", ss, err)
	}
}
