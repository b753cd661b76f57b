package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/webapi"
)

// sendWithKey posts body with an Idempotency-Key as user u1.
func sendWithKey(t *testing.T, base, key, body string) (int, http.Header, *danmaku.Danmaku, string) {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/danmu/send", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-User", "u1")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		return resp.StatusCode, resp.Header, nil, string(b)
	}
	d := new(danmaku.Danmaku)
	if err := json.Unmarshal(b, d); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, d, string(b)
}

func TestIdempotencyKey(t *testing.T) {
	srv := MustServe(t, webapi.AuthFunc(testAuth))
	c := client{t: t, base: srv.URL, user: "u1"}
	const body = `{"objectId":"idem","content":{"text":"只发一次","time":3}}`

	_, h1, first, _ := sendWithKey(t, srv.URL, "8f14e45f-ceea-467a-9b36-a1c1c1a1f00d", body)
	if first == nil || h1.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first send: %+v, replayed header %q", first, h1.Get("Idempotent-Replayed"))
	}
	// The retry, with a later playback time as a live room would give it,
	// stores nothing new and answers with the first danmaku.
	_, h2, again, _ := sendWithKey(t, srv.URL, "8f14e45f-ceea-467a-9b36-a1c1c1a1f00d", strings.Replace(body, `"time":3`, `"time":4`, 1))
	if again == nil || again.ID != first.ID || again.Content != first.Content {
		t.Fatalf("retry answered %+v, want the first danmaku %+v", again, first)
	}
	if h2.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: Idempotent-Replayed = %q, want true", h2.Get("Idempotent-Replayed"))
	}
	// Another key, and the same key from another sender, are new sends.
	_, _, other, _ := sendWithKey(t, srv.URL, "another-key", body)
	if other == nil || other.ID == first.ID {
		t.Fatalf("a new key gave %+v", other)
	}
	if got := c.page("/danmu/queryByTime/idem?playingTime=0&size=50").Data; len(got) != 2 {
		t.Fatalf("video holds %d danmaku, want 2 (one per key)", len(got))
	}

	// A key reused for another video is refused; a malformed key is a 400.
	status, _, _, msg := sendWithKey(t, srv.URL, "another-key", strings.Replace(body, `"idem"`, `"idem2"`, 1))
	if status != http.StatusConflict || !strings.Contains(msg, "Idempotency-Key") {
		t.Fatalf("key reused for another video: %d %s, want 409 naming Idempotency-Key", status, msg)
	}
	for _, key := range []string{strings.Repeat("k", 65), "has space", "ключ"} {
		status, _, _, msg := sendWithKey(t, srv.URL, key, body)
		if status != http.StatusBadRequest || !strings.Contains(msg, `"field":"Idempotency-Key"`) {
			t.Fatalf("key %q: %d %s, want 400 on field Idempotency-Key", key, status, msg)
		}
	}
}
