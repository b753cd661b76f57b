package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/danmakud/danmakud/auth"
	"github.com/danmakud/danmakud/internal/testenv"
)

// tokenKey is where the player remembers the viewer's token.
const tokenKey = "danmakud.token.v1"

// TestSignInToSend starts a second server with anonymous mode off and
// checks the player's sign-in as a viewer of a host site uses it: a send
// without a token is refused with a message that asks to sign in and is
// not stored; a token signed with another secret is refused and not
// remembered; a token made by "danmakud token" signs in from the settings
// panel, goes on the live WebSocket (which the server accepts), sends a
// danmaku that is stored under its user, and survives a reload; signing
// out forgets it; a remembered token that has expired is dropped; and a
// token in the page address's fragment signs in and leaves the address.
func TestSignInToSend(t *testing.T) {
	setup(t)
	srv := testenv.Danmakud(t, "-data", t.TempDir(), "-rate-limits=false", "-cors-origins", "*", "-anonymous=false", "-secret", shared.secret)
	obj := uniqueObject("signin")
	watch := srv.URL() + "/watch/" + obj

	p := newTab(t)
	ws := recordWebSockets(p)
	openAt(p, watch)
	if id := eval[string](p, `window.__danmaku.userId`); id != "" {
		t.Fatalf("without a token the player has user id %q, want none", id)
	}
	if s := eval[string](p, `document.getElementById('user-id').textContent`); !strings.Contains(s, "sign in") {
		t.Errorf("the hint reads %q, want it to ask the viewer to sign in", s)
	}

	// Without a token the send is refused, with a message about signing in.
	sendFromBox(p, "sent before signing in")
	p.waitFor(`document.getElementById('status').textContent.includes('sign-in required')`, 5*time.Second,
		"a send without a token did not say that sign-in is required")
	if s := statusText(p); !strings.HasPrefix(s, "Not sent: sign-in required.") || !strings.Contains(s, `"Sign in"`) {
		t.Errorf("status = %q, want the sign-in message that names the sign-in field", s)
	}
	if eval[bool](p, `document.getElementById('settings').hidden`) {
		t.Error("the settings panel with the sign-in field did not open after the refused send")
	}
	if got := p.find("sent before signing in"); len(got) != 0 {
		t.Errorf("the refused danmaku is still on screen: %+v", got)
	}

	// A token signed with another secret is refused and not remembered.
	other, err := auth.New(auth.Config{Secret: []byte(strings.Repeat("x", auth.MinSecretLen))})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.Issue(auth.TokenRequest{UserID: "alice", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	signInFromPanel(p, forged)
	p.waitFor(`document.getElementById('status').textContent.startsWith('Sign-in failed')`, 5*time.Second,
		"a forged token was not refused")
	if s := statusText(p); !strings.Contains(s, "signature") {
		t.Errorf("status = %q, want the server's reason (the signature)", s)
	}
	if eval[bool](p, `window.__danmaku.signedIn()`) || storedToken(p) != "" {
		t.Error("the player uses or remembers a token that the server refused")
	}

	// A token made by "danmakud token" signs in.
	alice := userToken(t, "alice")
	signInFromPanel(p, alice)
	p.waitFor(`window.__danmaku.userId === 'alice' && window.__danmaku.socket() === 'open'`, 10*time.Second,
		"signing in with a valid token did not make the viewer alice")
	if s := eval[string](p, `document.getElementById('signin-state').textContent`); !strings.HasPrefix(s, "Signed in as alice") {
		t.Errorf("the sign-in form reads %q, want it to say who is signed in", s)
	}
	if eval[bool](p, `document.getElementById('signout-button').hidden`) {
		t.Error("the sign-out button is hidden while signed in")
	}
	if got := storedToken(p); got != alice {
		t.Errorf("localStorage holds %q, want the token", got)
	}
	ws.waitAccepted(t, alice, 5*time.Second)

	sent := fmt.Sprintf("signed in as alice %d", time.Now().UnixNano()%100000)
	sendFromBox(p, sent)
	p.waitFor(`document.getElementById('send-text').value === ''`, 5*time.Second, "the signed-in send did not finish")
	if mine := p.waitText(sent, 3*time.Second); !mine.Mine {
		t.Errorf("the signed-in viewer's danmaku is not marked as its own: %+v", mine)
	}
	checkStored(t, srv.URL(), obj, map[string]string{sent: "alice"})

	// The sign-in is remembered across a reload.
	p.do("reload", chromedp.Reload())
	waitPlayer(p)
	if id := eval[string](p, `window.__danmaku.userId`); id != "alice" {
		t.Errorf("after a reload the player has user id %q, want alice", id)
	}

	// Signing out forgets the token, and sending needs a sign-in again.
	p.do("sign out",
		chromedp.Click(chromedp.CSS("#settings-button")),
		chromedp.WaitVisible(chromedp.CSS("#signout-button")),
		chromedp.Click(chromedp.CSS("#signout-button")),
	)
	p.waitFor(`!window.__danmaku.signedIn() && window.__danmaku.userId === '' && window.__danmaku.socket() === 'open'`,
		5*time.Second, "signing out did not drop the identity")
	if got := storedToken(p); got != "" {
		t.Errorf("after signing out localStorage still holds a token")
	}
	sendFromBox(p, "sent after signing out")
	p.waitFor(`document.getElementById('status').textContent.includes('sign-in required')`, 5*time.Second,
		"a send after signing out did not say that sign-in is required")

	// A remembered token that the server refuses (expired) is dropped.
	past, err := auth.New(auth.Config{Secret: []byte(shared.secret), Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := past.Issue(auth.TokenRequest{UserID: "alice", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	eval[bool](p, fmt.Sprintf(`(localStorage.setItem(%s, %s), true)`, jsString(tokenKey), jsString(expired)))
	p.do("reload", chromedp.Reload())
	waitPlayer(p)
	if s := statusText(p); !strings.Contains(s, "expired") {
		t.Errorf("with an expired remembered token the status reads %q, want it to say the token expired", s)
	}
	if eval[bool](p, `window.__danmaku.signedIn()`) || storedToken(p) != "" {
		t.Error("the player kept a remembered token that has expired")
	}

	// A token in the page address's fragment signs in and is taken out of
	// the address.
	bob := userToken(t, "bob")
	q := newTab(t)
	qws := recordWebSockets(q)
	openAt(q, watch+"?t=1#token="+url.QueryEscape(bob))
	q.waitFor(`window.__danmaku.userId === 'bob'`, 5*time.Second, "a token in the fragment did not sign in")
	if href := eval[string](q, `location.href`); strings.Contains(href, "token") || !strings.HasSuffix(href, "?t=1") {
		t.Errorf("the address is %q after signing in, want the token removed and the rest kept", href)
	}
	if got := storedToken(q); got != bob {
		t.Errorf("localStorage holds %q, want the token from the address", got)
	}
	qws.waitAccepted(t, bob, 5*time.Second)
	fromBob := fmt.Sprintf("signed in as bob %d", time.Now().UnixNano()%100000)
	sendFromBox(q, fromBob)
	q.waitFor(`document.getElementById('send-text').value === ''`, 5*time.Second, "bob's send did not finish")

	checkStored(t, srv.URL(), obj, map[string]string{sent: "alice", fromBob: "bob"})
	for _, tb := range []*tab{p, q} {
		for _, e := range tb.pageErrors() {
			if !strings.Contains(e, "status of 401") { // The browser logs refused requests.
				t.Errorf("page error: %s", e)
			}
		}
	}
	q.do("open the settings", chromedp.Click(chromedp.CSS("#settings-button")), chromedp.WaitVisible(chromedp.CSS("#signin-state")))
	q.screenshot("player-signin.png")
}

// openAt loads the player at an absolute URL and waits until it runs.
func openAt(p *tab, u string) {
	p.t.Helper()
	p.do("open "+u, chromedp.Navigate(u))
	waitPlayer(p)
}

// waitPlayer waits until the player has learnt who the viewer is and its
// live socket is open.
func waitPlayer(p *tab) {
	p.t.Helper()
	p.waitFor(`window.__danmaku !== undefined && window.__danmaku.socket() === 'open'`, 15*time.Second,
		"the player did not start and connect its live socket")
}

// sendFromBox types text into the sending box and sends it.
func sendFromBox(p *tab, text string) {
	p.t.Helper()
	p.do("type and send",
		chromedp.SetValue(chromedp.CSS("#send-text"), text),
		chromedp.Click(chromedp.CSS(`#send-form button[type=submit]`)),
	)
}

// signInFromPanel pastes token into the sign-in field of the settings
// panel and submits it.
func signInFromPanel(p *tab, token string) {
	p.t.Helper()
	if eval[bool](p, `document.getElementById('settings').hidden`) {
		p.do("open the settings", chromedp.Click(chromedp.CSS("#settings-button")))
	}
	p.do("sign in",
		chromedp.WaitVisible(chromedp.CSS("#signin-token")),
		chromedp.SetValue(chromedp.CSS("#signin-token"), token),
		chromedp.Click(chromedp.CSS("#signin-button")),
	)
}

func statusText(p *tab) string {
	p.t.Helper()
	return eval[string](p, `document.getElementById('status').textContent`)
}

// storedToken returns the token the player remembers, or "".
func storedToken(p *tab) string {
	p.t.Helper()
	return eval[string](p, fmt.Sprintf(`localStorage.getItem(%s) || ''`, jsString(tokenKey)))
}

// checkStored reads the object's danmaku through the HTTP API and checks
// that they are exactly want (text to user id).
func checkStored(t *testing.T, base, obj string, want map[string]string) {
	t.Helper()
	res, err := http.Get(base + "/danmu/queryByTime/" + obj + "?playingTime=0&size=100")
	if err != nil {
		t.Fatalf("queryByTime: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var page struct {
		Data []testenv.Danmaku `json:"data"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(b, &page) != nil {
		t.Fatalf("queryByTime: %s: %s", res.Status, b)
	}
	got := map[string]string{}
	for _, d := range page.Data {
		got[d.Content.Text] = d.UserID
	}
	if len(got) != len(page.Data) || len(got) != len(want) {
		t.Errorf("stored %d danmaku %v, want %v", len(page.Data), got, want)
	}
	for text, user := range want {
		if got[text] != user {
			t.Errorf("danmaku %q stored as %q, want %q (stored: %v)", text, got[text], user, got)
		}
	}
}

// wsLog records the tab's WebSocket handshakes: each URL and the status
// the server answered.
type wsLog struct {
	mu     sync.Mutex
	urls   map[network.RequestID]string
	status map[network.RequestID]int64
}

// recordWebSockets starts recording p's WebSocket handshakes.
func recordWebSockets(p *tab) *wsLog {
	l := &wsLog{urls: map[network.RequestID]string{}, status: map[network.RequestID]int64{}}
	created := chromedp.Events(p.ctx, network.WebSocketCreated)
	answered := chromedp.Events(p.ctx, network.WebSocketHandshakeResponseReceived)
	go func() {
		for ev, err := range created {
			if err != nil {
				return
			}
			l.mu.Lock()
			l.urls[ev.RequestID] = ev.URL
			l.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range answered {
			if err != nil {
				return
			}
			if ev.Response != nil {
				l.mu.Lock()
				l.status[ev.RequestID] = ev.Response.Status
				l.mu.Unlock()
			}
		}
	}()
	return l
}

// waitAccepted waits until a WebSocket whose URL carries token as its
// "token" parameter has been upgraded (101), which the server does only
// for a token it accepts.
func (l *wsLog) waitAccepted(t *testing.T, token string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		l.mu.Lock()
		var seen []string
		for id, raw := range l.urls {
			u, err := url.Parse(raw)
			if err == nil && u.Query().Get("token") == token && l.status[id] == http.StatusSwitchingProtocols {
				l.mu.Unlock()
				return
			}
			seen = append(seen, fmt.Sprintf("%d for a URL with token %t", l.status[id], strings.Contains(raw, "token=")))
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no WebSocket carried the token and was upgraded within %v; handshakes: %v", timeout, seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
