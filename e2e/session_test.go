package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
)

// liveSession starts or ends the live session of objectID through the
// admin API of the real server and returns its id and end.
func liveSession(t *testing.T, objectID, action string) (id string, ended time.Time) {
	t.Helper()
	status, b := call(t, "POST", "/admin/api/rooms/"+objectID+"/live/"+action, shared.adminToken, nil)
	var out struct {
		Session struct {
			ID      string    `json:"id"`
			EndedAt time.Time `json:"endedAt"`
		} `json:"session"`
	}
	if status != http.StatusOK || json.Unmarshal(b, &out) != nil || out.Session.ID == "" {
		t.Fatalf("live %s of %s: %d %s", action, objectID, status, b)
	}
	return out.Session.ID, out.Session.EndedAt
}

// sessionTexts reads a listing of the real server (queryByTime, or pull
// page by page from cursor 0 with pageSize) and returns its texts.
func sessionTexts(t *testing.T, objectID, session string, pull bool) []string {
	t.Helper()
	var texts []string
	cursor := ""
	for pages := 0; ; pages++ {
		q := url.Values{"session": {session}}
		path := "/danmu/queryByTime/" + objectID
		if pull {
			path = "/danmu/pull/" + objectID
			q.Set("size", "1")
			q.Set("cursor", "0")
			if cursor != "" {
				q.Set("cursor", cursor)
			}
		}
		status, b := call(t, "GET", path+"?"+q.Encode(), "", nil)
		var page struct {
			Data []struct {
				Session string `json:"session"`
				Content struct {
					Text string `json:"text"`
				} `json:"content"`
			} `json:"data"`
			Cursor string `json:"cursor"`
		}
		if status != http.StatusOK || json.Unmarshal(b, &page) != nil {
			t.Fatalf("GET %s: %d %s", path, status, b)
		}
		for _, d := range page.Data {
			if d.Session != session {
				t.Errorf("GET %s?%s returned a danmaku of session %q", path, q.Encode(), d.Session)
			}
			texts = append(texts, d.Content.Text)
		}
		if !pull || page.Cursor == "-1" {
			return texts
		}
		if pages > 20 {
			t.Fatalf("pull of session %s does not end: %q", session, texts)
		}
		cursor = page.Cursor
	}
}

// TestSessionReplay runs, against the real server, two live sessions of
// one room with danmaku sent before, between and after them; reads each
// session back with session= (queryByTime, pull, the XML export) and gets
// its own danmaku only; and replays the first one in the player
// (?session=), which shows that session's danmaku and no other.
func TestSessionReplay(t *testing.T) {
	setup(t)
	obj := uniqueObject("replay")
	send := func(text string, at float64) { postDanmaku(t, obj, "replayer", text, 1, at) }

	send("outside before", 0.001)
	one, _ := liveSession(t, obj, "start")
	wantOne := []string{"session one a", "session one b", "session one c"}
	for _, x := range wantOne {
		send(x, 4000)
	}
	_, ended := liveSession(t, obj, "end")
	send("outside between", 0.002)
	for time.Now().UnixMilli() <= ended.UnixMilli() {
		time.Sleep(time.Millisecond) // The next session needs a millisecond of its own.
	}
	two, _ := liveSession(t, obj, "start")
	wantTwo := []string{"session two a", "session two b"}
	for _, x := range wantTwo {
		send(x, 4000)
	}
	liveSession(t, obj, "end")
	send("outside after", 0.003)
	if one == two {
		t.Fatalf("two sessions share the id %s", one)
	}

	for _, tc := range []struct {
		session string
		want    []string
	}{{one, wantOne}, {two, wantTwo}} {
		if got := sessionTexts(t, obj, tc.session, false); !slices.Equal(got, tc.want) {
			t.Errorf("queryByTime of session %s = %q, want %q", tc.session, got, tc.want)
		}
		if got := sessionTexts(t, obj, tc.session, true); !slices.Equal(got, tc.want) {
			t.Errorf("pull of session %s = %q, want %q", tc.session, got, tc.want)
		}
		status, b := call(t, "GET", "/danmu/export/"+obj+".xml?session="+tc.session, "", nil)
		xml := string(b)
		if status != http.StatusOK || strings.Count(xml, "<d p=") != len(tc.want) || strings.Contains(xml, "outside") {
			t.Errorf("XML export of session %s: %d\n%s", tc.session, status, xml)
		}
		for _, x := range tc.want {
			if !strings.Contains(xml, ">"+x+"</d>") {
				t.Errorf("XML export of session %s lacks %q", tc.session, x)
			}
		}
	}
	// The video as a whole reads as before: every danmaku.
	if status, b := call(t, "GET", "/danmu/queryByTime/"+obj+"?size=100", "", nil); status != http.StatusOK || strings.Count(string(b), `"text"`) != 8 {
		t.Errorf("the whole video: %d %s", status, b)
	}
	if status, b := call(t, "GET", "/danmu/queryByTime/"+obj+"?session=zzzzzzzz", "", nil); status != http.StatusNotFound ||
		!strings.Contains(string(b), `"not_found"`) {
		t.Errorf("an unknown session: %d %s, want a 404 JSON error", status, b)
	}
	status, b := call(t, "GET", "/danmu/sessions/"+obj, "", nil)
	if status != http.StatusOK || !strings.Contains(string(b), fmt.Sprintf(`"sessions":[{"id":%q`, two)) ||
		!strings.Contains(string(b), fmt.Sprintf(`{"id":%q`, one)) {
		t.Errorf("GET /danmu/sessions: %d %s", status, b)
	}

	// The player replays session one: its danmaku, at their offsets near
	// the start, and none of the others, which lie at the same times.
	p := openTab(t, "/watch/"+obj+"?session="+one)
	p.waitFor(fmt.Sprintf(`window.__danmaku !== undefined && window.__danmaku.replay()?.id === %s`, jsString(one)),
		15*time.Second, "the player did not find the session")
	p.seek(0)
	for _, x := range wantOne {
		p.waitText(x, 10*time.Second)
	}
	for _, it := range p.onScreen() {
		if !slices.Contains(wantOne, it.Text) {
			t.Errorf("the replay of session one shows %q", it.Text)
		}
	}
	// The header offers both sessions and the whole video, this one chosen.
	pick := eval[[]string](p, `[...document.querySelectorAll('#session-pick option')].map((o) => o.value)`)
	if chosen := eval[string](p, `document.getElementById('session-pick').value`); !slices.Equal(pick, []string{"", two, one}) || chosen != one {
		t.Errorf("the session picker offers %q with %q chosen, want [\"\" %s %s] with %s", pick, chosen, two, one, one)
	}
	if mode := eval[string](p, `window.__danmaku.mode()`); mode != "vod" {
		t.Errorf("the replay is in %s mode, want vod", mode)
	}
	p.screenshot("player-session-replay.png")

	// On a phone the header stays compact: the video opener on one line,
	// the picker within the screen, and (with this long room name, which
	// wraps) no more than three rows. It took 185 px before.
	p.viewport(390, 844, true)
	p.waitFor(`(() => {
		const box = (sel) => document.querySelector(sel).getBoundingClientRect();
		return box('header').height <= 150 && box('#session-pick').right <= innerWidth &&
			Math.abs(box('#video-url').top - box('#demo-button').top) < 4;
	})()`, 5*time.Second, "the phone header is more than three rows, or the picker leaves the screen")
	p.screenshot("player-session-replay-phone.png")
}

// TestSessionSurvivesACrash starts a live session on a server of its own,
// sends, kills the server (SIGKILL: no shutdown), starts it again on the
// same data, sends again and ends the session: the session is listed, and
// its replay holds the danmaku from both sides of the crash, at their
// offsets from the one start.
func TestSessionSurvivesACrash(t *testing.T) {
	testenv.SkipShort(t, "e2e: starts and kills the real server")
	s := testenv.Danmakud(t, "-data", t.TempDir(), "-admin-password", adminPassword, "-rate-limits=false")
	a := testenv.Call(t, "POST", s.URL()+"/admin/api/login", "", map[string]string{"password": adminPassword})
	var signedIn struct{ Token string }
	if a.Status != http.StatusOK || json.Unmarshal(a.Body, &signedIn) != nil || signedIn.Token == "" {
		t.Fatalf("sign-in: %d %s", a.Status, a.Body)
	}
	admin := signedIn.Token
	const obj = "crash-show"
	a = testenv.Call(t, "POST", s.URL()+"/admin/api/rooms/"+obj+"/live/start", admin, nil)
	var started struct{ Session struct{ ID string } }
	if a.Status != http.StatusOK || json.Unmarshal(a.Body, &started) != nil || started.Session.ID == "" {
		t.Fatalf("live start: %d %s", a.Status, a.Body)
	}
	id := started.Session.ID
	first := s.Send(t, obj, "u1", map[string]any{"text": "before the crash", "time": 99})
	s.Kill()
	s.Restart(t)
	second := s.Send(t, obj, "u1", map[string]any{"text": "after the crash", "time": 99})
	if a := testenv.Call(t, "POST", s.URL()+"/admin/api/rooms/"+obj+"/live/end", admin, nil); a.Status != http.StatusOK {
		t.Fatalf("live end after the restart: %d %s", a.Status, a.Body)
	}
	if !(first.Content.Time < 99 && first.Content.Time <= second.Content.Time) {
		t.Errorf("times %v and %v are not offsets from the one start", first.Content.Time, second.Content.Time)
	}

	a = testenv.Call(t, "GET", s.URL()+"/danmu/queryByTime/"+obj+"?session="+id, "", nil)
	var page struct{ Data []testenv.Danmaku }
	if a.Status != http.StatusOK || json.Unmarshal(a.Body, &page) != nil || len(page.Data) != 2 ||
		page.Data[0].ID != first.ID || page.Data[1].ID != second.ID {
		t.Errorf("replay after the crash: %d %s", a.Status, a.Body)
	}
	a = testenv.Call(t, "GET", s.URL()+"/danmu/sessions/"+obj, "", nil)
	var list struct {
		Sessions []struct {
			ID      string
			EndedAt *time.Time
		}
	}
	if a.Status != http.StatusOK || json.Unmarshal(a.Body, &list) != nil || len(list.Sessions) != 1 ||
		list.Sessions[0].ID != id || list.Sessions[0].EndedAt == nil {
		t.Errorf("sessions after the crash: %d %s", a.Status, a.Body)
	}
}
