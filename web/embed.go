package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/web/asset"
)

// Options are the settings of a Site.
type Options struct {
	// FrameAncestors lists the origins (such as "https://blog.example")
	// whose pages may show the embed page in an iframe, besides the
	// Site's own origin; "*" allows every page.
	FrameAncestors []string
}

// maxSrcLen bounds the video URL of an embed page.
const maxSrcLen = 2048

// embedPolicy returns the embed page's Content-Security-Policy: the
// player's, framable by its own origin and by origins.
func embedPolicy(origins []string) (string, error) {
	sources := "'self'"
	for _, o := range origins {
		if o == "*" {
			sources += " *"
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" ||
			u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.ContainsAny(o, " ;,'\"") {
			return "", fmt.Errorf("frame ancestor %q: want an origin such as https://blog.example, or *", o)
		}
		sources += " " + u.Scheme + "://" + u.Host
	}
	return strings.Replace(contentSecurityPolicy, "frame-ancestors 'none'", "frame-ancestors "+sources, 1), nil
}

// embedPage returns the player page marked as embedded: its body gets the
// attribute data-embed, and the page the embed style sheet, which hides
// everything but the player.
func (s *Site) embedPage(player *asset.Asset) *asset.Asset {
	html := string(player.Body)
	link := `<link rel="stylesheet" href="/static/css/embed.css`
	if a, ok := s.assets["css/embed.css"]; ok {
		link += `?v=` + a.Hash
	}
	html = strings.Replace(html, "</head>", link+"\">\n</head>", 1)
	html = strings.Replace(html, "<body", "<body data-embed", 1)
	return newAsset(".html", []byte(html))
}

// serveEmbed answers the player alone, for an iframe: /embed/{objectId}
// with an optional ?src= video URL, which must be http or https. Only the
// origins of Options.FrameAncestors (and the Site's own) may frame it.
func (s *Site) serveEmbed(w http.ResponseWriter, r *http.Request) {
	if err := danmaku.ValidateObjectID(r.PathValue("objectId")); err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	if src := r.URL.Query().Get("src"); src != "" {
		if err := checkSrc(src); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
	}
	h := w.Header()
	h.Set("Content-Security-Policy", s.embedPolicy)
	h.Set("Referrer-Policy", "same-origin")
	s.embed.Serve(w, r, "no-cache")
}

// checkSrc checks an embed page's video URL: an absolute http or https URL.
func checkSrc(src string) error {
	if len(src) > maxSrcLen {
		return danmaku.FieldError("src", "must be at most %d bytes", maxSrcLen)
	}
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return danmaku.FieldError("src", "must be an http or https URL of the video")
	}
	return nil
}
