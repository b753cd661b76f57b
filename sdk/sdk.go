// Package sdk serves danmakud's JavaScript client, an ES module with no
// dependencies, at "/sdk/danmaku.js", and a small page that uses it at
// "/sdk/" (also "/sdk/example.html"). Both files are embedded in the
// binary; docs/sdk.md documents the client. danmakud's own pages (package
// web) import the client from "/sdk/danmaku.js" as their only client of
// the server, so a server that serves them mounts this Handler too.
//
// The script is answered with a strong ETag made from a hash of its
// content, and may be loaded by pages of any origin (a module script is
// fetched with CORS). The example page refers to it as
// "./danmaku.js?v=<hash>"; such a request for the current content may be
// cached for a year. The page runs under a strict Content-Security-Policy
// that allows its own inline script and style by their hashes only.
package sdk

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"

	"github.com/danmakud/danmakud/web/asset"
)

//go:embed static/danmaku.js static/example.html
var staticFS embed.FS

// Patterns are the ServeMux patterns that the Handler answers; the server
// registers the Handler under each of them.
var Patterns = []string{"GET /sdk/{$}", "GET /sdk/danmaku.js", "GET /sdk/example.html"}

// Handler serves the client script and the example page. Create it with
// New; the zero value answers 404 to everything.
type Handler struct {
	script  *asset.Asset
	example *asset.Asset
	csp     string // The example page's Content-Security-Policy.
	mux     *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// New loads the embedded files and returns a Handler that serves them.
func New() *Handler {
	h := &Handler{
		script: asset.New("text/javascript; charset=utf-8", readStatic("static/danmaku.js")),
	}
	page := strings.ReplaceAll(string(readStatic("static/example.html")),
		`"./danmaku.js"`, `"./danmaku.js?v=`+h.script.Hash+`"`)
	h.example = asset.New("text/html; charset=utf-8", []byte(page))
	h.csp = pagePolicy(page)
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /sdk/{$}", h.serveExample)
	h.mux.HandleFunc("GET /sdk/example.html", h.serveExample)
	h.mux.HandleFunc("GET /sdk/danmaku.js", h.serveScript)
	return h
}

// Mount registers the Handler with handle (such as a ServeMux's Handle)
// under every pattern in Patterns.
func (h *Handler) Mount(handle func(pattern string, h http.Handler)) {
	for _, p := range Patterns {
		handle(p, h)
	}
}

// readStatic returns an embedded file. The names are fixed and compiled in,
// so reading cannot fail; a failure would serve an empty file rather than
// stop the server.
func readStatic(name string) []byte {
	b, err := staticFS.ReadFile(name)
	if err != nil {
		return nil
	}
	return b
}

var (
	inlineScript = regexp.MustCompile(`(?s)<script type="module">(.*?)</script>`)
	inlineStyle  = regexp.MustCompile(`(?s)<style>(.*?)</style>`)
)

// pagePolicy returns the Content-Security-Policy of an HTML page: nothing
// is allowed but the page's own inline scripts and styles (by hash),
// scripts from its own origin, and connections to its own origin (the API
// and the live WebSocket).
func pagePolicy(html string) string {
	style := hashSources(inlineStyle, html)
	if style == "" {
		style = " 'none'"
	}
	return "default-src 'none'; script-src 'self'" + hashSources(inlineScript, html) +
		"; style-src" + style + "; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// hashSources returns " 'sha256-…'" for the content of every match of re
// in html, or "" when there is none.
func hashSources(re *regexp.Regexp, html string) string {
	var b strings.Builder
	for _, m := range re.FindAllStringSubmatch(html, -1) {
		sum := sha256.Sum256([]byte(m[1]))
		b.WriteString(" 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'")
	}
	return b.String()
}

// ServeHTTP answers the routes in Patterns and 404 for any other path.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.mux == nil {
		http.NotFound(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// serveExample answers the example page.
func (h *Handler) serveExample(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("Referrer-Policy", "same-origin")
	h.example.Serve(w, r, "no-cache")
}

// serveScript answers the client module to pages of any origin. It is a
// public file read without credentials, so "*" is safe here.
func (h *Handler) serveScript(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	cache := "no-cache"
	if r.URL.Query().Get("v") == h.script.Hash {
		cache = "public, max-age=31536000, immutable"
	}
	h.script.Serve(w, r, cache)
}
