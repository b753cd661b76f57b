package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/httpapi"
	"github.com/danmakud/danmakud/service"
	"github.com/danmakud/danmakud/store/pebble"
	"github.com/danmakud/danmakud/webapi"
)

// seedCurlBody is the body of the seed document's curl request, byte for byte.
const seedCurlBody = `{"objectId":"1","userId":"1","ownerId":"1","content":{ "text":"haha" ,"color":"yellow","size":"40px","position":1,"time":14}}`

// testAuth trusts an X-Test-User header of the form "id" or "id:admin", so
// that tests can act as several users without a token issuer.
func testAuth(r *http.Request) (danmaku.Actor, error) {
	v := r.Header.Get("X-Test-User")
	id, role, _ := strings.Cut(v, ":")
	a := danmaku.Actor{UserID: id}
	if role == "admin" {
		a.Role = danmaku.RoleAdmin
	}
	return a, nil
}

// MustServe starts the API over a fresh Pebble store.
func MustServe(t *testing.T, auth webapi.Authenticator) *httptest.Server {
	t.Helper()
	st, err := pebble.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Config{}, st, service.Options{})
	srv := httptest.NewServer(httpapi.New(httpapi.Config{}, svc, auth))
	t.Cleanup(func() {
		srv.Close()
		st.Close()
	})
	return srv
}

type client struct {
	t    *testing.T
	base string
	user string
}

func (c client) do(method, path, contentType, body string) (int, http.Header, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.user != "" {
		req.Header.Set("X-Test-User", c.user)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func (c client) send(objectID, text string, seconds float64) *danmaku.Danmaku {
	c.t.Helper()
	body := fmt.Sprintf(`{"objectId":%q,"userId":"u1","content":{"text":%q,"time":%g}}`, objectID, text, seconds)
	status, _, b := c.do("POST", "/danmu/send", "application/json", body)
	if status != 200 {
		c.t.Fatalf("send: %d %s", status, b)
	}
	d := new(danmaku.Danmaku)
	if err := json.Unmarshal(b, d); err != nil {
		c.t.Fatal(err)
	}
	return d
}

func (c client) page(path string) service.Result {
	c.t.Helper()
	status, _, b := c.do("GET", path, "", "")
	if status != 200 {
		c.t.Fatalf("GET %s: %d %s", path, status, b)
	}
	var r service.Result
	if err := json.Unmarshal(b, &r); err != nil {
		c.t.Fatal(err)
	}
	return r
}

func TestSeedCurlRequests(t *testing.T) {
	srv := MustServe(t, nil)
	c := client{t: t, base: srv.URL}
	status, hdr, b := c.do("POST", "/danmu/send", "application/json", seedCurlBody)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("send: %d %s %s", status, hdr.Get("Content-Type"), b)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "objectId", "userId", "ownerId", "content", "createdAt"} {
		if _, ok := got[k]; !ok {
			t.Errorf("response lacks %q: %s", k, b)
		}
	}
	if id, ok := got["id"].(string); !ok || id == "" {
		t.Fatalf("id is not a string: %s", b)
	}
	content := got["content"].(map[string]any)
	if content["text"] != "haha" || content["time"] != 14.0 || content["position"] != 1.0 || content["size"] != "40px" {
		t.Fatalf("content = %v", content)
	}
	if got["userId"] != "1" || got["objectId"] != "1" || got["ownerId"] != "1" {
		t.Fatalf("ids = %v", got)
	}

	// The seed's own queries: queryByTime at 20 s finds nothing after the
	// danmaku at 14 s; at 14 s it is included (the seed dropped it).
	if r := c.page("/danmu/queryByTime/1?playingTime=20"); len(r.Data) != 0 || r.Cursor != "-1" {
		t.Fatalf("queryByTime at 20 s = %+v", r)
	}
	if r := c.page("/danmu/queryByTime/1?playingTime=14&size=20"); len(r.Data) != 1 || r.Data[0].Content.Text != "haha" {
		t.Fatalf("queryByTime at 14 s = %+v", r)
	}
	if r := c.page("/danmu/pull/1"); len(r.Data) != 1 || r.Cursor != "-1" {
		t.Fatalf("pull without cursor = %+v", r)
	}
}

func TestPagingThroughAVideo(t *testing.T) {
	srv := MustServe(t, nil)
	c := client{t: t, base: srv.URL}
	sent := map[string]bool{}
	for i := 0; i < 47; i++ {
		d := c.send("v", fmt.Sprintf("d%d", i), float64(i%10)+0.5)
		sent[d.ID.String()] = true
	}
	seen := map[string]bool{}
	r := c.page("/danmu/queryByTime/v?playingTime=0&size=10")
	pages := 1
	var last danmaku.ID
	for {
		for _, d := range r.Data {
			if seen[d.ID.String()] {
				t.Fatalf("%s returned twice", d.ID)
			}
			if d.ID.Compare(last) <= 0 {
				t.Fatalf("out of order: %s after %s", d.ID, last)
			}
			last = d.ID
			seen[d.ID.String()] = true
		}
		if r.Cursor == "-1" {
			break
		}
		r = c.page("/danmu/pull/v?size=10&cursor=" + r.Cursor)
		pages++
	}
	if len(seen) != len(sent) || pages != 5 {
		t.Fatalf("saw %d of %d danmaku in %d pages", len(seen), len(sent), pages)
	}
	if r := c.page("/danmu/pull/v?cursor=-1"); len(r.Data) != 0 || r.Cursor != "-1" {
		t.Fatalf("pull at the end cursor = %+v", r)
	}
}

func TestByUserNewestFirst(t *testing.T) {
	srv := MustServe(t, nil)
	c := client{t: t, base: srv.URL}
	var want []string
	for i := 0; i < 5; i++ {
		want = append([]string{c.send(fmt.Sprintf("v%d", i%2), fmt.Sprintf("t%d", i), float64(100-i)).ID.String()}, want...)
	}
	var got []string
	r := c.page("/danmu/user/u1?size=2")
	for {
		for _, d := range r.Data {
			got = append(got, d.ID.String())
		}
		if r.Cursor == "-1" {
			break
		}
		r = c.page("/danmu/user/u1?size=2&cursor=" + r.Cursor)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("user listing:\n got %v\nwant %v", got, want)
	}
}

func TestErrors(t *testing.T) {
	srv := MustServe(t, nil)
	c := client{t: t, base: srv.URL}
	tests := []struct {
		name, method, path, ctype, body string
		status                          int
		code                            string
	}{
		{"bad json", "POST", "/danmu/send", "application/json", `{"objectId":`, 400, "invalid"},
		{"bad field", "POST", "/danmu/send", "application/json", `{"objectId":"1","content":{"text":""}}`, 400, "invalid"},
		{"too large", "POST", "/danmu/send", "application/json", `{"objectId":"1","content":{"text":"` + strings.Repeat("a", 5000) + `"}}`, 413, "too_large"},
		{"wrong content type", "POST", "/danmu/send", "text/plain", seedCurlBody, 415, "media_type"},
		{"no content type", "POST", "/danmu/send", "", seedCurlBody, 415, "media_type"},
		{"form", "POST", "/danmu/send", "application/x-www-form-urlencoded", "a=b", 415, "media_type"},
		{"no sender", "POST", "/danmu/send", "application/json", `{"objectId":"1","content":{"text":"a"}}`, 401, "unauthorized"},
		{"unknown route", "GET", "/nope", "", "", 404, "not_found"},
		{"wrong method", "GET", "/danmu/send", "", "", 405, "method"},
		{"wrong method on query", "POST", "/danmu/queryByTime/1", "application/json", "{}", 405, "method"},
		{"bad size", "GET", "/danmu/queryByTime/1?size=abc", "", "", 400, "invalid"},
		{"size too big", "GET", "/danmu/queryByTime/1?size=100000", "", "", 400, "invalid"},
		{"bad time", "GET", "/danmu/queryByTime/1?playingTime=NaN", "", "", 400, "invalid"},
		{"negative time", "GET", "/danmu/queryByTime/1?playingTime=-3", "", "", 400, "invalid"},
		{"bad cursor", "GET", "/danmu/pull/1?cursor=xyz", "", "", 400, "invalid"},
		{"bad object id", "GET", "/danmu/queryByTime/a%20b", "", "", 400, "invalid"},
		{"delete missing", "DELETE", "/danmu/item/1/12345", "", "", 404, "not_found"},
		{"delete bad id", "DELETE", "/danmu/item/1/x", "", "", 400, "invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, b := c.do(tc.method, tc.path, tc.ctype, tc.body)
			if status != tc.status {
				t.Fatalf("status = %d, want %d: %s", status, tc.status, b)
			}
			if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
				t.Fatalf("Content-Type = %q", hdr.Get("Content-Type"))
			}
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(b, &e); err != nil || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Fatalf("body = %s, want code %q with a message", b, tc.code)
			}
		})
	}
}

func TestDeletePermissions(t *testing.T) {
	srv := MustServe(t, webapi.AuthFunc(testAuth))
	author := client{t: t, base: srv.URL, user: "u1"}
	other := client{t: t, base: srv.URL, user: "u2"}
	admin := client{t: t, base: srv.URL, user: "boss:admin"}
	d1, d2 := author.send("v", "mine", 1), author.send("v", "also mine", 2)

	if status, _, b := other.do("DELETE", "/danmu/item/v/"+d1.ID.String(), "", ""); status != 403 {
		t.Fatalf("another viewer deleting: %d %s", status, b)
	}
	if status, _, b := author.do("DELETE", "/danmu/item/v/"+d1.ID.String(), "", ""); status != 200 {
		t.Fatalf("author deleting: %d %s", status, b)
	}
	if status, _, b := admin.do("DELETE", "/danmu/item/v/"+d2.ID.String(), "", ""); status != 200 {
		t.Fatalf("admin deleting: %d %s", status, b)
	}
	if r := author.page("/danmu/queryByTime/v"); len(r.Data) != 0 {
		t.Fatalf("after deletes the video holds %d danmaku", len(r.Data))
	}
}

func TestBodyUserIDMustMatchToken(t *testing.T) {
	srv := MustServe(t, webapi.AuthFunc(testAuth))
	c := client{t: t, base: srv.URL, user: "alice"}
	status, _, b := c.do("POST", "/danmu/send", "application/json", `{"objectId":"1","userId":"mallory","content":{"text":"hi"}}`)
	if status != 400 || !strings.Contains(string(b), "userId") {
		t.Fatalf("posting as someone else: %d %s", status, b)
	}
	status, _, b = c.do("POST", "/danmu/send", "application/json", `{"objectId":"1","content":{"text":"hi"}}`)
	if status != 200 || !strings.Contains(string(b), `"userId":"alice"`) {
		t.Fatalf("posting as oneself: %d %s", status, b)
	}
}

func TestServerNeverPanicsOnGarbage(t *testing.T) {
	srv := MustServe(t, nil)
	c := client{t: t, base: srv.URL}
	bodies := []string{"", "null", "[]", "{}", `{"content":null}`, `{"objectId":null,"content":{"text":null}}`,
		strings.Repeat("[", 3000), `{"objectId":"1","content":{"text":"a","time":1e309}}`, "\xff\xfe\xfd"}
	for _, b := range bodies {
		status, _, out := c.do("POST", "/danmu/send", "application/json", b)
		if status < 400 || status >= 500 {
			t.Fatalf("body %.40q: status %d %s", b, status, out)
		}
	}
	if status, _, _ := c.do("GET", "/healthz", "", ""); status != 200 {
		t.Fatal("server unhealthy after garbage")
	}
}

func TestHeatmap(t *testing.T) {
	srv := MustServe(t, nil)
	c := client{t: t, base: srv.URL}
	for _, s := range []float64{0.5, 1, 9.9, 10, 55, 99.999} {
		c.send("hv", "x", s)
	}
	status, _, b := c.do("GET", "/danmu/heatmap/hv?buckets=10&duration=100", "", "")
	if status != 200 {
		t.Fatalf("heatmap: %d %s", status, b)
	}
	var h service.Heatmap
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	want := []int{3, 1, 0, 0, 0, 1, 0, 0, 0, 1}
	if h.BucketMs != 10_000 || h.Total != 6 || fmt.Sprint(h.Counts) != fmt.Sprint(want) {
		t.Fatalf("heatmap = %+v, want 10 s buckets %v", h, want)
	}
	// Without a duration the buckets span up to the last danmaku.
	status, _, b = c.do("GET", "/danmu/heatmap/hv?buckets=4", "", "")
	if status != 200 || !strings.Contains(string(b), `"total":6`) {
		t.Fatalf("heatmap without duration: %d %s", status, b)
	}
	if status, _, _ := c.do("GET", "/danmu/heatmap/hv?buckets=5000", "", ""); status != 400 {
		t.Fatalf("too many buckets: %d", status)
	}
	if status, _, b := c.do("GET", "/danmu/heatmap/empty", "", ""); status != 200 || !strings.Contains(string(b), `"total":0`) {
		t.Fatalf("empty video: %d %s", status, b)
	}
}
