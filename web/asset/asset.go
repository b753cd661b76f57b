// Package asset serves embedded files with validators: a content-hash ETag
// answered with 304 when the client holds the same version, a cache policy
// chosen by the caller, and nosniff. The web pages and the SDK share it.
package asset

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

// Asset is one embedded file, ready to serve.
type Asset struct {
	Body        []byte
	ContentType string
	Hash        string // Hex, 16 characters of SHA-256.
	ETag        string // The quoted hash.
}

// New returns the asset of body with its content hash.
func New(contentType string, body []byte) *Asset {
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:8])
	return &Asset{Body: body, ContentType: contentType, Hash: h, ETag: `"` + h + `"`}
}

// Serve writes a with its validators and the Cache-Control cache, or 304
// when the request's If-None-Match names the same version.
func (a *Asset) Serve(w http.ResponseWriter, r *http.Request, cache string) {
	h := w.Header()
	h.Set("Cache-Control", cache)
	h.Set("ETag", a.ETag)
	h.Set("X-Content-Type-Options", "nosniff")
	if etagMatch(r.Header.Get("If-None-Match"), a.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", a.ContentType)
	h.Set("Content-Length", strconv.Itoa(len(a.Body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.Body) // A failed write means the client went away.
	}
}

// etagMatch reports whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 asks for If-None-Match) or is "*".
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
