package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/danmakud/danmakud/web"
)

func TestEmbedPage(t *testing.T) {
	srv := newServer(t)
	res, body := get(t, srv, "GET", "/embed/room-1?src="+url.QueryEscape("https://cdn.example/v.mp4"), nil)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("embed page: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'self';") || strings.Contains(csp, "'none'; form") {
		t.Errorf("embed page CSP %q, want frame-ancestors 'self' only", csp)
	}
	if !strings.Contains(body, "<body data-embed") || !strings.Contains(body, `href="/static/css/embed.css?v=`) {
		t.Errorf("the embed page is not marked as embedded:\n%s", body)
	}
	if !strings.Contains(body, `src="/static/js/app.js?v=`) {
		t.Errorf("the embed page does not load the player")
	}
	res, css := get(t, srv, "GET", "/static/css/embed.css", nil)
	if res.StatusCode != 200 || !strings.Contains(css, "body[data-embed]") {
		t.Errorf("embed.css: %d", res.StatusCode)
	}
	// The other pages stay unframable.
	for _, p := range []string{"/", "/watch/room-1", "/admin"} {
		res, _ := get(t, srv, "GET", p, nil)
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q, want frame-ancestors 'none'", p, csp)
		}
	}
	for _, tc := range []struct{ path, why string }{
		{"/embed/room-1?src=" + url.QueryEscape("javascript:alert(1)"), "a javascript: src"},
		{"/embed/room-1?src=" + url.QueryEscape("data:video/mp4;base64,AAAA"), "a data: src"},
		{"/embed/room-1?src=" + url.QueryEscape("//cdn.example/v.mp4"), "a src without scheme"},
		{"/embed/room-1?src=" + url.QueryEscape("https://cdn.example/"+strings.Repeat("x", 3000)), "a long src"},
	} {
		if res, body := get(t, srv, "GET", tc.path, nil); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "src") {
			t.Errorf("%s: %d %q, want 400 naming src", tc.why, res.StatusCode, body)
		}
	}
	if res, _ := get(t, srv, "GET", "/embed/bad%20room", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("embed of a bad object id: %d, want 404", res.StatusCode)
	}
}

func TestEmbedFrameAncestors(t *testing.T) {
	site, err := web.NewWith(web.Options{FrameAncestors: []string{"https://blog.example", "http://localhost:8080"}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	site.Mount(mux.Handle)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	res, _ := get(t, srv, "GET", "/embed/room-1", nil)
	want := "frame-ancestors 'self' https://blog.example http://localhost:8080;"
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, want) {
		t.Errorf("CSP %q, want %q", csp, want)
	}
	res, _ = get(t, srv, "GET", "/admin", nil)
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("admin CSP %q, want frame-ancestors 'none'", csp)
	}
	for _, bad := range []string{"blog.example", "https://blog.example/path", "https://a.example; script-src *", "javascript:x", "'unsafe-inline'"} {
		if _, err := web.NewWith(web.Options{FrameAncestors: []string{bad}}); err == nil {
			t.Errorf("frame ancestor %q was accepted", bad)
		}
	}
}
