// Package web serves danmakud's browser pages: the player at "/" and
// "/watch/{objectId}", the player alone for other sites' iframes at
// "/embed/{objectId}" (embed.go), the admin page at "/admin", and their
// assets under "/static/". Everything is
// embedded in the binary; the pages are plain JavaScript modules with no
// build step. The player's only client of the server is the JavaScript
// client that package sdk serves at "/sdk/danmaku.js", which the server
// mounts beside the Site; the admin page calls the admin API itself.
//
// Assets are answered with a strong ETag made from a hash of their content,
// so a browser revalidates cheaply (If-None-Match → 304). The pages refer to
// their entry scripts and style sheets with "?v=<hash>"; such a request for
// the current content may be cached for a year.
package web

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/web/asset"
)

//go:embed static
var staticFS embed.FS

// Patterns are the ServeMux patterns that the Site answers; the server
// registers the Site under each of them.
var Patterns = []string{"GET /{$}", "GET /watch/{objectId}", "GET /embed/{objectId}", "GET /admin", "GET /static/"}

// contentTypes maps the extensions of embedded files to their media types.
// Modules must be text/javascript or browsers refuse to run them.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".json": "application/json",
	".txt":  "text/plain; charset=utf-8",
}

// contentSecurityPolicy keeps the pages to their own scripts and styles.
// Media may come from anywhere, since a viewer can open any video URL.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob:; media-src * blob: data:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// Site serves the pages and assets. Create it with New; the zero value
// serves nothing.
type Site struct {
	assets map[string]*asset.Asset // By path under static/, such as "js/app.js".
	player *asset.Asset
	admin  *asset.Asset
	embed  *asset.Asset
	// embedPolicy is the embed page's Content-Security-Policy.
	embedPolicy string
	mux         *http.ServeMux
}

var _ http.Handler = (*Site)(nil)

// Handler returns the Site as an http.Handler for the routes in Patterns.
func Handler() http.Handler { return New() }

// New loads the embedded files and returns a Site that serves them; only
// its own origin may frame the embed page.
func New() *Site {
	s, _ := NewWith(Options{}) // No frame ancestors to check.
	return s
}

// NewWith is New with options; it returns an error for an invalid one.
func NewWith(opt Options) (*Site, error) {
	policy, err := embedPolicy(opt.FrameAncestors)
	if err != nil {
		return nil, err
	}
	s := &Site{assets: map[string]*asset.Asset{}, embedPolicy: policy}
	err = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		s.assets[strings.TrimPrefix(p, "static/")] = newAsset(path.Ext(p), b)
		return nil
	})
	if err != nil {
		// The files are compiled in; a walk cannot fail at run time. Keep
		// serving what was read rather than stopping the server.
		s.assets = map[string]*asset.Asset{}
	}
	s.player = s.page("player.html")
	s.admin = s.page("admin.html")
	s.embed = s.embedPage(s.player)
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /{$}", s.servePlayer)
	s.mux.HandleFunc("GET /watch/{objectId}", s.servePlayer)
	s.mux.HandleFunc("GET /embed/{objectId}", s.serveEmbed)
	s.mux.HandleFunc("GET /admin", s.serveAdmin)
	s.mux.HandleFunc("GET /static/{file...}", s.serveStatic)
	return s, nil
}

// Mount registers the Site with handle (such as a ServeMux's Handle) under
// every pattern in Patterns.
func (s *Site) Mount(handle func(pattern string, h http.Handler)) {
	for _, p := range Patterns {
		handle(p, s)
	}
}

func newAsset(ext string, b []byte) *asset.Asset {
	ct, ok := contentTypes[ext]
	if !ok {
		ct = "application/octet-stream"
	}
	return asset.New(ct, b)
}

// page returns the HTML asset name with each reference to a top-level
// asset ("/static/js/app.js") versioned by its hash, or a stub page if the
// file is missing.
func (s *Site) page(name string) *asset.Asset {
	a, ok := s.assets[name]
	if !ok {
		return newAsset(".html", []byte("<!doctype html><title>danmakud</title><p>This page is missing from this build.</p>"))
	}
	html := string(a.Body)
	for p, f := range s.assets {
		if strings.HasSuffix(p, ".html") {
			continue
		}
		ref := `"/static/` + p + `"`
		html = strings.ReplaceAll(html, ref, `"/static/`+p+`?v=`+f.Hash+`"`)
	}
	return newAsset(".html", []byte(html))
}

// ServeHTTP answers the routes in Patterns and 404 for any other path.
func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.mux == nil {
		http.NotFound(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// servePlayer answers the player page. The page reads the object id from
// its own URL; the server only checks that it is well formed.
func (s *Site) servePlayer(w http.ResponseWriter, r *http.Request) {
	if id := r.PathValue("objectId"); r.Pattern == "GET /watch/{objectId}" {
		if err := danmaku.ValidateObjectID(id); err != nil {
			writeError(w, http.StatusNotFound, err)
			return
		}
	}
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Referrer-Policy", "same-origin")
	s.player.Serve(w, r, "no-cache")
}

// serveAdmin answers the admin page. The page itself holds no data: it
// signs in and calls the admin API, which checks the token on every call.
func (s *Site) serveAdmin(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Robots-Tag", "noindex, nofollow")
	s.admin.Serve(w, r, "no-cache")
}

// serveStatic answers one embedded asset.
func (s *Site) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	a, ok := s.assets[name]
	if !ok || strings.HasSuffix(name, ".html") {
		writeError(w, http.StatusNotFound, danmaku.Errorf(danmaku.ENOTFOUND, "no such file: %s", name))
		return
	}
	cache := "no-cache"
	if r.URL.Query().Get("v") == a.Hash {
		cache = "public, max-age=31536000, immutable"
	}
	a.Serve(w, r, cache)
}

// writeError answers a page or asset request that failed with a short
// plain-text message taken from the *danmaku.Error.
func writeError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = fmt.Fprintln(w, danmaku.ErrorMessage(err))
}
