package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestOriginAllowed(t *testing.T) {
	tests := []struct {
		name   string
		host   string
		origin string
		allow  []string
		want   bool
	}{
		{"no origin (not a browser)", "dm.example:5000", "", nil, true},
		{"same origin", "dm.example:5000", "http://dm.example:5000", nil, true},
		{"same origin case", "DM.example:5000", "http://dm.EXAMPLE:5000", nil, true},
		{"same origin default port", "dm.example", "https://dm.example:443", nil, true},
		{"same host other port", "dm.example:5000", "http://dm.example:6000", nil, false},
		{"cross site", "dm.example:5000", "http://evil.example", nil, false},
		{"cross site with list", "dm.example:5000", "http://evil.example", []string{"https://video.example"}, false},
		{"listed exact", "dm.example:5000", "https://video.example", []string{"https://video.example"}, true},
		{"listed trailing slash", "dm.example:5000", "https://video.example", []string{"https://video.example/"}, true},
		{"listed default port", "dm.example:5000", "https://video.example", []string{"https://video.example:443"}, true},
		{"listed other scheme", "dm.example:5000", "http://video.example", []string{"https://video.example"}, false},
		{"listed without scheme", "dm.example:5000", "http://video.example", []string{"video.example"}, true},
		{"listed port differs", "dm.example:5000", "https://video.example:8443", []string{"https://video.example"}, false},
		{"suffix is not a match", "dm.example:5000", "https://video.example.evil.example", []string{"https://video.example"}, false},
		{"prefix is not a match", "dm.example:5000", "https://evilvideo.example", []string{"video.example"}, false},
		{"star", "dm.example:5000", "http://anything.example", []string{"*"}, true},
		{"null denied", "dm.example:5000", "null", []string{"https://video.example"}, false},
		{"null listed", "dm.example:5000", "null", []string{"null"}, true},
		{"garbage", "dm.example:5000", "::not a url", nil, false},
		{"non-http scheme", "dm.example:5000", "file://dm.example:5000", nil, false},
		{"ipv6 same origin", "[::1]:5000", "http://[::1]:5000", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/danmu/ws/v1", nil)
			r.Host = tt.host
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if got := OriginAllowed(r, tt.allow); got != tt.want {
				t.Fatalf("OriginAllowed(host %s, origin %q, %v) = %v, want %v", tt.host, tt.origin, tt.allow, got, tt.want)
			}
		})
	}
}
