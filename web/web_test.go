package web_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/danmakud/danmakud/web"
)

// newServer mounts the Site on a fresh mux, as danmakud does.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	web.New().Mount(mux.Handle)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, method, p string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, p, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, p, err)
	}
	return res, string(b)
}

func TestRoutes(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		method, path string
		status       int
		contentType  string
		bodyHas      string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", `<canvas id="danmaku-layer"`},
		{"GET", "/watch/demo", 200, "text/html; charset=utf-8", `<script type="module" src="/static/js/app.js?v=`},
		{"GET", "/watch/av170001.p1:live_2", 200, "text/html; charset=utf-8", `danmakud player`},
		{"GET", "/watch/bad%20id", 404, "text/plain; charset=utf-8", "objectId"},
		{"GET", "/admin", 200, "text/html; charset=utf-8", `<script type="module" src="/static/js/admin.js?v=`},
		{"GET", "/admin/", 404, "", ""},
		{"POST", "/admin", 405, "", ""},
		{"GET", "/static/admin.html", 404, "text/plain; charset=utf-8", "no such file"},
		{"GET", "/static/js/admin-feed.js", 200, "text/javascript; charset=utf-8", "textContent"},
		{"GET", "/static/js/app.js", 200, "text/javascript; charset=utf-8", "import"},
		{"GET", "/static/js/renderer.js", 200, "text/javascript; charset=utf-8", "fillText"},
		{"GET", "/static/css/player.css", 200, "text/css; charset=utf-8", ".stage"},
		{"GET", "/static/favicon.svg", 200, "image/svg+xml", "<svg"},
		{"GET", "/static/nope.js", 404, "text/plain; charset=utf-8", "no such file"},
		{"GET", "/static/player.html", 404, "text/plain; charset=utf-8", "no such file"},
		{"GET", "/static/../web.go", 404, "", ""},
		{"HEAD", "/static/js/app.js", 200, "text/javascript; charset=utf-8", ""},
		{"POST", "/", 405, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			res, body := get(t, srv, tc.method, tc.path, nil)
			if res.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d (body %q)", res.StatusCode, tc.status, body)
			}
			if tc.contentType != "" && res.Header.Get("Content-Type") != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", res.Header.Get("Content-Type"), tc.contentType)
			}
			if !strings.Contains(body, tc.bodyHas) {
				t.Errorf("body does not contain %q:\n%.300s", tc.bodyHas, body)
			}
			if tc.method == "HEAD" && body != "" {
				t.Errorf("HEAD answered a body of %d bytes", len(body))
			}
			if tc.status == 200 && res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", res.Header.Get("X-Content-Type-Options"))
			}
		})
	}
}

func TestPageHeaders(t *testing.T) {
	srv := newServer(t)
	for _, p := range []string{"/", "/watch/demo", "/admin"} {
		t.Run(p, func(t *testing.T) {
			res, _ := get(t, srv, "GET", p, nil)
			csp := res.Header.Get("Content-Security-Policy")
			for _, want := range []string{"script-src 'self'", "object-src 'none'", "connect-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("Content-Security-Policy allows inline or eval: %q", csp)
			}
			if got := res.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("page Cache-Control = %q, want no-cache", got)
			}
		})
	}
	res, _ := get(t, srv, "GET", "/admin", nil)
	if got := res.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("admin Referrer-Policy = %q, want no-referrer", got)
	}
}

// TestPagesHaveNoInlineCode keeps the pages within their policy: no
// inline scripts, handlers or styles, which script-src 'self' would block.
func TestPagesHaveNoInlineCode(t *testing.T) {
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+\s*=|\sstyle\s*=|<style`)
	for _, f := range staticFiles(t, ".html") {
		b, err := os.ReadFile(path.Join("static", f))
		if err != nil {
			t.Fatal(err)
		}
		if loc := inline.FindIndex(b); loc != nil {
			t.Errorf("%s has inline code: %q", f, b[loc[0]:loc[1]])
		}
	}
}

// TestPatternsServed checks that every pattern in web.Patterns is
// answered by the Site (the server registers exactly these).
func TestPatternsServed(t *testing.T) {
	srv := newServer(t)
	paths := map[string]string{
		"GET /{$}":              "/",
		"GET /watch/{objectId}": "/watch/x",
		"GET /embed/{objectId}": "/embed/x",
		"GET /admin":            "/admin",
		"GET /static/":          "/static/favicon.svg",
	}
	if len(web.Patterns) != len(paths) {
		t.Fatalf("web.Patterns = %q; this test knows %d patterns", web.Patterns, len(paths))
	}
	for _, p := range web.Patterns {
		u, ok := paths[p]
		if !ok {
			t.Errorf("pattern %q is not covered by this test", p)
			continue
		}
		if res, _ := get(t, srv, "GET", u, nil); res.StatusCode != 200 {
			t.Errorf("%s (%s): status %d", p, u, res.StatusCode)
		}
	}
}

func TestConditionalRequests(t *testing.T) {
	srv := newServer(t)
	res, body := get(t, srv, "GET", "/static/js/renderer.js", nil)
	etag := res.Header.Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{16}"$`).MatchString(etag) {
		t.Fatalf("ETag = %q, want a quoted 16-digit hash", etag)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("unversioned asset Cache-Control = %q, want no-cache", got)
	}

	tests := []struct {
		name, inm string
		status    int
	}{
		{"same", etag, 304},
		{"weak", "W/" + etag, 304},
		{"in a list", `"0000000000000000", ` + etag, 304},
		{"star", "*", 304},
		{"other", `"0000000000000000"`, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, b := get(t, srv, "GET", "/static/js/renderer.js", map[string]string{"If-None-Match": tc.inm})
			if res.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", res.StatusCode, tc.status)
			}
			if tc.status == 304 && b != "" {
				t.Errorf("304 carried a body of %d bytes", len(b))
			}
			if tc.status == 200 && b != body {
				t.Errorf("body differs from the first answer")
			}
			if res.Header.Get("ETag") != etag {
				t.Errorf("ETag = %q, want %q", res.Header.Get("ETag"), etag)
			}
		})
	}

	hash := strings.Trim(etag, `"`)
	res, _ = get(t, srv, "GET", "/static/js/renderer.js?v="+hash, nil)
	if got := res.Header.Get("Cache-Control"); !strings.Contains(got, "immutable") {
		t.Errorf("versioned asset Cache-Control = %q, want immutable", got)
	}
	res, _ = get(t, srv, "GET", "/static/js/renderer.js?v=stale", nil)
	if got := res.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("asset with a stale version: Cache-Control = %q, want no-cache", got)
	}
}

// TestPageVersionsAssets checks that every versioned reference in the page
// names the hash that the asset is served with.
func TestPageVersionsAssets(t *testing.T) {
	srv := newServer(t)
	_, player := get(t, srv, "GET", "/", nil)
	_, admin := get(t, srv, "GET", "/admin", nil)
	page := player + admin
	refs := regexp.MustCompile(`"/static/([^"?]+)\?v=([0-9a-f]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 6 {
		t.Fatalf("pages have %d versioned asset references, want the script, style sheet and icon of each", len(refs))
	}
	for _, r := range refs {
		res, _ := get(t, srv, "GET", "/static/"+r[1], nil)
		if res.StatusCode != 200 {
			t.Errorf("%s: status %d", r[1], res.StatusCode)
			continue
		}
		if got := strings.Trim(res.Header.Get("ETag"), `"`); got != r[2] {
			t.Errorf("%s: page names version %s, asset has %s", r[1], r[2], got)
		}
	}
}

// TestModulesResolve checks that every relative import of every module
// names a file that is served, so that the page never loads half.
func TestModulesResolve(t *testing.T) {
	srv := newServer(t)
	importRe := regexp.MustCompile(`(?m)^import\s[^'"]*['"](\./[^'"]+)['"]`)
	files := staticFiles(t, ".js")
	if len(files) < 5 {
		t.Fatalf("found %d modules", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(path.Join("static", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range importRe.FindAllStringSubmatch(string(b), -1) {
			target := path.Join(path.Dir(f), m[1])
			res, _ := get(t, srv, "GET", "/static/"+target, nil)
			if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
				t.Errorf("%s imports %s: status %d, type %q", f, m[1], res.StatusCode, res.Header.Get("Content-Type"))
			}
		}
	}
}

// TestNoHTMLSinks keeps danmaku text out of the HTML parser: the page
// scripts never use the APIs that parse a string as HTML or code.
func TestNoHTMLSinks(t *testing.T) {
	sinks := regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(`)
	for _, f := range staticFiles(t, ".js") {
		b, err := os.ReadFile(path.Join("static", f))
		if err != nil {
			t.Fatal(err)
		}
		if loc := sinks.FindIndex(b); loc != nil {
			t.Errorf("%s uses %q", f, b[loc[0]:loc[1]])
		}
	}
}

func staticFiles(t *testing.T, ext string) []string {
	t.Helper()
	var out []string
	err := fs.WalkDir(os.DirFS("static"), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ext) {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestZeroSite(t *testing.T) {
	var s web.Site
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("zero Site answered %d, want 404", rec.Code)
	}
}
