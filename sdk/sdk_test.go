package sdk

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRoutes(t *testing.T) {
	h := New()
	tests := []struct {
		method, target string
		status         int
		contentType    string
		bodyHas        string
	}{
		{"GET", "/sdk/danmaku.js", 200, "text/javascript; charset=utf-8", "export function connect("},
		{"GET", "/sdk/", 200, "text/html; charset=utf-8", `import { connect } from "./danmaku.js?v=`},
		{"GET", "/sdk/example.html", 200, "text/html; charset=utf-8", "<title>danmakud SDK example</title>"},
		{"HEAD", "/sdk/danmaku.js", 200, "text/javascript; charset=utf-8", ""},
		{"GET", "/sdk/other.js", 404, "", ""},
		{"GET", "/sdk/static/danmaku.js", 404, "", ""},
		{"POST", "/sdk/danmaku.js", 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			rec := get(t, h, tt.method, tt.target, nil)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d", rec.Code, tt.status)
			}
			if tt.contentType != "" && rec.Header().Get("Content-Type") != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", rec.Header().Get("Content-Type"), tt.contentType)
			}
			if !strings.Contains(rec.Body.String(), tt.bodyHas) {
				t.Errorf("body does not contain %q", tt.bodyHas)
			}
			if tt.method == "HEAD" && rec.Body.Len() != 0 {
				t.Errorf("HEAD answered a body of %d bytes", rec.Body.Len())
			}
		})
	}
}

func TestScriptCaching(t *testing.T) {
	h := New()
	rec := get(t, h, "GET", "/sdk/danmaku.js", nil)
	etag := rec.Header().Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{16}"$`).MatchString(etag) {
		t.Fatalf("ETag = %q, want a quoted 16-digit hash", etag)
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
		t.Errorf("unversioned Cache-Control = %q, want no-cache", got)
	}
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q, want * (module scripts load with CORS)", got)
	}
	if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", got)
	}

	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		if rec := get(t, h, "GET", "/sdk/danmaku.js", map[string]string{"If-None-Match": inm}); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: status %d with %d bytes, want 304 and none", inm, rec.Code, rec.Body.Len())
		}
	}
	if rec := get(t, h, "GET", "/sdk/danmaku.js", map[string]string{"If-None-Match": `"0000000000000000"`}); rec.Code != http.StatusOK {
		t.Errorf("stale If-None-Match: status %d, want 200", rec.Code)
	}

	hash := strings.Trim(etag, `"`)
	page := get(t, h, "GET", "/sdk/", nil).Body.String()
	if !strings.Contains(page, `"./danmaku.js?v=`+hash+`"`) {
		t.Errorf("the example page does not load the script by its current hash %s", hash)
	}
	if got := get(t, h, "GET", "/sdk/danmaku.js?v="+hash, nil).Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("versioned Cache-Control = %q, want a year, immutable", got)
	}
	if got := get(t, h, "GET", "/sdk/danmaku.js?v=0123456789abcdef", nil).Header().Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control for an old version = %q, want no-cache", got)
	}
}

// TestExamplePolicy checks that the page's Content-Security-Policy allows
// exactly its own inline script and style, by hash, and nothing inline
// besides.
func TestExamplePolicy(t *testing.T) {
	rec := get(t, New(), "GET", "/sdk/example.html", nil)
	csp := rec.Header().Get("Content-Security-Policy")
	page := rec.Body.String()
	for _, want := range []string{"default-src 'none'", "connect-src 'self'", "base-uri 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows unsafe sources: %q", csp)
	}
	directive := func(name string) string {
		for _, d := range strings.Split(csp, ";") {
			if f := strings.Fields(d); len(f) > 0 && f[0] == name {
				return strings.Join(f[1:], " ")
			}
		}
		return ""
	}
	hashOf := func(re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("the page has no %s", re)
		}
		sum := sha256.Sum256([]byte(m[1]))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	if got, want := directive("script-src"), "'self' "+hashOf(`(?s)<script type="module">(.*?)</script>`); got != want {
		t.Errorf("script-src = %q, want %q", got, want)
	}
	if got, want := directive("style-src"), hashOf(`(?s)<style>(.*?)</style>`); got != want {
		t.Errorf("style-src = %q, want %q", got, want)
	}
	if n := strings.Count(page, "<script"); n != 1 {
		t.Errorf("the page has %d scripts, want 1", n)
	}
	if strings.Contains(page, "innerHTML") {
		t.Error("the example puts text into innerHTML; use textContent")
	}
}

func TestHashSourcesNone(t *testing.T) {
	got := pagePolicy("<p>no scripts</p>")
	if !strings.Contains(got, "script-src 'self';") || !strings.Contains(got, "style-src 'none';") {
		t.Errorf("policy of a page without inline code = %q", got)
	}
}

func TestMountAndZeroValue(t *testing.T) {
	mux := http.NewServeMux()
	New().Mount(mux.Handle)
	for _, p := range []string{"/sdk/", "/sdk/danmaku.js", "/sdk/example.html"} {
		if rec := get(t, mux, "GET", p, nil); rec.Code != http.StatusOK {
			t.Errorf("mounted %s: status %d", p, rec.Code)
		}
	}
	if rec := get(t, &Handler{}, "GET", "/sdk/danmaku.js", nil); rec.Code != http.StatusNotFound {
		t.Errorf("zero Handler: status %d, want 404", rec.Code)
	}
}
