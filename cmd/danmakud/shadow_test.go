package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/wsclient"
)

// Texts of TestShadowStaysSecret: the shadowed ones hold the listed word
// (and all start with it, so that checking for the word finds them). Each
// pair has one length, so that the answers have one length too.
const (
	plainText   = "hello there 1"
	shadowText  = "spamword no 1"
	plainText2  = "hello there 2"
	shadowText2 = "spamword no 2"
	markerText  = "marker after!"
	shadowWord  = "spamword"
)

// TestShadowStaysSecret runs danmakud with a shadow word and checks, as its
// author and as another viewer would, that a shadowed danmaku never
// announces itself: the author's HTTP answer and WebSocket ack equal those
// of a normal send but for the id, text and times; the author's own
// listing holds it, unmarked; another viewer's WebSocket and SSE never
// receive it; the listings, heatmap, exports, DPlayer API and /metrics of
// everyone else show no trace of it.
func TestShadowStaysSecret(t *testing.T) {
	words := filepath.Join(t.TempDir(), "words.txt")
	if err := os.WriteFile(words, []byte("spamword,shadow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := startServe(t, "-words", words, "-user-burst", "10")
	wsBase := "ws" + strings.TrimPrefix(base, "http")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	author := &http.Client{Jar: jar}
	var me struct {
		UserID string `json:"userId"`
	}
	getJSON(t, author, base+"/danmu/me", &me)
	if me.UserID == "" {
		t.Fatal("/danmu/me gave the author no id")
	}

	// Another viewer watches the room over WebSocket and SSE.
	viewerWS, err := wsclient.Dial(ctx, wsBase+"/danmu/ws/room", wsclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer viewerWS.Close()
	sseResp, err := http.Get(base + "/danmu/stream/room")
	if err != nil {
		t.Fatal(err)
	}
	defer sseResp.Body.Close()
	if sseResp.StatusCode != 200 {
		t.Fatalf("SSE: %s", sseResp.Status)
	}
	sse := bufio.NewReader(sseResp.Body)
	// Both are registered once their first message (the welcome) is read.
	if _, _, err := viewerWS.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	readSSE(t, sse, func(string) bool { return true })

	// The author sends over HTTP: the answers differ in nothing but the
	// id, text and times.
	plain, plainHead := sendHTTP(t, author, base, plainText)
	shadow, shadowHead := sendHTTP(t, author, base, shadowText)
	sameButFor(t, "HTTP answer", plain, shadow)
	for _, h := range []http.Header{plainHead, shadowHead} {
		h.Del("Date")
	}
	if !maps.EqualFunc(plainHead, shadowHead, slices.Equal) {
		t.Errorf("HTTP headers differ: %v and %v", plainHead, shadowHead)
	}

	// And over WebSocket: the acks differ in the same fields only.
	authorWS, err := wsclient.Dial(ctx, wsBase+"/danmu/ws/room", wsclient.Options{
		Header: http.Header{"Cookie": {cookieHeader(jar, base)}}})
	if err != nil {
		t.Fatal(err)
	}
	defer authorWS.Close()
	plainAck, shadowAck := sendWS(t, authorWS, "p", plainText2), sendWS(t, authorWS, "s", shadowText2)
	sameButFor(t, "WebSocket ack", plainAck, shadowAck)
	if string(plainAck["danmaku"]) == "" {
		t.Fatalf("ack without a danmaku: %v", plainAck)
	}

	// A last normal danmaku marks the end: whatever was pushed before it
	// has reached the other viewer when it arrives.
	sendHTTP(t, author, base, markerText)
	for {
		op, p, err := viewerWS.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if op == wsclient.OpText && strings.Contains(string(p), shadowWord) {
			t.Fatalf("another viewer's WebSocket received the shadowed danmaku: %s", p)
		}
		if strings.Contains(string(p), markerText) {
			break
		}
	}
	readSSE(t, sse, func(line string) bool {
		if strings.Contains(line, shadowWord) {
			t.Fatalf("another viewer's SSE received the shadowed danmaku: %s", line)
		}
		return strings.Contains(line, markerText)
	})

	// The author's own listing holds it, unmarked; nobody else sees it.
	mine := getBody(t, author, base+"/danmu/user/"+me.UserID)
	if !strings.Contains(mine, shadowText) || !strings.Contains(mine, shadowText2) || strings.Contains(mine, `"shadow"`) {
		t.Errorf("the author's /danmu/user: %s; want the shadowed danmaku, unmarked", mine)
	}
	for _, path := range []string{"/danmu/user/" + me.UserID, "/danmu/queryByTime/room", "/danmu/pull/room?cursor=0",
		"/danmu/export/room.xml", "/danmu/export/room.ass", "/dplayer/v3/?id=room", "/metrics"} {
		if b := getBody(t, http.DefaultClient, base+path); strings.Contains(b, shadowWord) || strings.Contains(b, "shadow") {
			t.Errorf("%s shows another viewer the shadowed danmaku or its mark: %s", path, b)
		}
	}
	var heat struct {
		Total int `json:"total"`
	}
	getJSON(t, http.DefaultClient, base+"/danmu/heatmap/room", &heat)
	if heat.Total != 3 {
		t.Errorf("heatmap total %d, want the 3 danmaku that are not shadowed", heat.Total)
	}
}

// startServe runs danmakud in this process with args and returns its base
// URL; it is stopped when the test ends.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	args = append([]string{"-addr", "127.0.0.1:0", "-data", t.TempDir(), "-log-level", "warn"}, args...)
	go func() { done <- run(ctx, args, io.Discard, io.Discard, func(a net.Addr) { addrc <- a }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	select {
	case a := <-addrc:
		return "http://" + a.String()
	case err := <-done:
		done <- err
		t.Fatalf("server ended: %v", err)
	}
	return ""
}

// sendHTTP sends text to the room as c and returns the answer's fields and
// headers.
func sendHTTP(t *testing.T, c *http.Client, base, text string) (map[string]json.RawMessage, http.Header) {
	t.Helper()
	body := `{"objectId":"room","content":{"text":"` + text + `","color":"#ffffff","size":25,"position":1,"time":7}}`
	resp, err := c.Post(base+"/danmu/send", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("send %q: %s %s", text, resp.Status, b)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("send %q: %v in %s", text, err, b)
	}
	return m, resp.Header
}

// sendWS sends text over c with ref and returns the fields of its ack.
func sendWS(t *testing.T, c *wsclient.Conn, ref, text string) map[string]json.RawMessage {
	t.Helper()
	msg := `{"type":"send","ref":"` + ref + `","content":{"text":"` + text + `","color":"#ffffff","size":25,"position":1,"time":7}}`
	if err := c.WriteText([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	for {
		op, p, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if op != wsclient.OpText || json.Unmarshal(p, &m) != nil || string(m["ref"]) != `"`+ref+`"` {
			continue
		}
		if string(m["type"]) != `"ack"` {
			t.Fatalf("send %q over WebSocket: %s", text, p)
		}
		return m
	}
}

// sameButFor fails unless a and b, JSON objects with a danmaku (an answer,
// or an ack holding one), hold the same fields with the same values but
// for the id, text and times.
func sameButFor(t *testing.T, what string, a, b map[string]json.RawMessage) {
	t.Helper()
	norm := func(m map[string]json.RawMessage) map[string]any {
		var v map[string]any
		raw, _ := json.Marshal(m)
		_ = json.Unmarshal(raw, &v)
		strip := func(d map[string]any) {
			delete(d, "id")
			delete(d, "createdAt")
			if c, ok := d["content"].(map[string]any); ok {
				delete(c, "text")
				delete(c, "time")
			}
		}
		strip(v)
		delete(v, "ref")
		if d, ok := v["danmaku"].(map[string]any); ok {
			strip(d)
		}
		return v
	}
	na, nb := norm(a), norm(b)
	ja, _ := json.Marshal(na)
	jb, _ := json.Marshal(nb)
	if string(ja) != string(jb) {
		t.Errorf("%s of a shadowed send differs from a normal one: %s and %s", what, jb, ja)
	}
	for _, m := range []map[string]json.RawMessage{a, b} {
		for k := range m {
			if len(a) != len(b) || b[k] == nil {
				t.Errorf("%s fields differ: %v and %v", what, slices.Sorted(maps.Keys(a)), slices.Sorted(maps.Keys(b)))
				return
			}
		}
	}
}

// readSSE reads SSE lines until done reports true for one.
func readSSE(t *testing.T, r *bufio.Reader, done func(string) bool) {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("SSE: %v", err)
		}
		if strings.HasPrefix(line, "data:") && done(line) {
			return
		}
	}
}

func getBody(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	return string(b)
}

func getJSON(t *testing.T, c *http.Client, url string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(getBody(t, c, url)), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// cookieHeader returns the Cookie header that jar sends to base.
func cookieHeader(jar http.CookieJar, base string) string {
	req, _ := http.NewRequest(http.MethodGet, base, nil)
	var parts []string
	for _, c := range jar.Cookies(req.URL) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}
