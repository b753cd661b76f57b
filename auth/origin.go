package auth

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// OriginAllowed reports whether a WebSocket upgrade (or any cross-site
// sensitive request) from r's Origin may proceed, to stop cross-site
// WebSocket hijacking:
//
//   - a request without an Origin header is allowed (it is not from a
//     browser, so no cookie rides along unasked);
//   - "*" in allow allows every origin;
//   - an origin whose host and port equal r.Host is allowed (same origin);
//   - otherwise the origin must equal an entry of allow, compared as
//     scheme://host:port, case-insensitive, with default ports (80 for
//     http, 443 for https) optional; an entry without a scheme
//     ("example.com") matches either scheme.
//
// The opaque origin "null" (sandboxed frames, local files) is allowed only
// when allow lists "null" or "*".
func OriginAllowed(r *http.Request, allow []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	for _, a := range allow {
		if a == "*" {
			return true
		}
	}
	if origin == "null" {
		for _, a := range allow {
			if a == "null" {
				return true
			}
		}
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.Path != "" && u.Path != "/" {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	host := canonicalHost(scheme, u.Host)
	if host == canonicalHost(scheme, r.Host) {
		return true
	}
	for _, a := range allow {
		a = strings.TrimSuffix(strings.TrimSpace(a), "/")
		if s, h, ok := strings.Cut(a, "://"); ok {
			s = strings.ToLower(s)
			if s == scheme && canonicalHost(s, h) == host {
				return true
			}
			continue
		}
		if canonicalHost(scheme, a) == host {
			return true
		}
	}
	return false
}

// canonicalHost lower-cases host:port and drops the scheme's default port.
func canonicalHost(scheme, hostport string) string {
	hostport = strings.ToLower(hostport)
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return hostport
}
