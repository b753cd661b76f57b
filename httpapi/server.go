// Package httpapi serves danmakud's HTTP API: the seed's routes
// (/danmu/send, /danmu/queryByTime, /danmu/pull), the per-user listing,
// deletion, and the mounts of the live, compatibility and web handlers.
// Every error answer is JSON written by webapi.WriteError, the same
// writer that refuses live connections.
package httpapi

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/auth"
	"github.com/danmakud/danmakud/service"
	"github.com/danmakud/danmakud/webapi"
)

// Config holds the HTTP layer's own limits.
type Config struct {
	// MaxBodyBytes caps request bodies (default 4 KiB).
	MaxBodyBytes int64
	// CORSOrigins lists the origins whose pages may call the API ("*" for
	// any); empty allows only same-origin pages, as browsers do by default.
	CORSOrigins []string
	// Health reports whether each dependency is reachable (for /healthz);
	// nil reports none.
	Health func() map[string]bool
	// Log receives failed requests; nil discards them.
	Log *slog.Logger
}

// Server routes requests. Create it with New, then Mount extra handlers
// before serving.
type Server struct {
	cfg  Config
	svc  *service.Service
	auth webapi.Authenticator
	log  *slog.Logger
	mux  *http.ServeMux
	// patterns lists the registered routes in registration order.
	patterns []string
}

// New returns a Server for svc. auth may be nil: every caller is then an
// unidentified viewer who names itself in the body, as in the seed.
func New(cfg Config, svc *service.Service, auth webapi.Authenticator) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 4 << 10
	}
	if auth == nil {
		auth = webapi.AuthFunc(webapi.TrustBody)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, svc: svc, auth: auth, log: cfg.Log, mux: http.NewServeMux()}
	s.handleFunc("POST /danmu/send", s.handleSend)
	s.handleFunc("GET /danmu/queryByTime/{objectId}", s.handleQueryByTime)
	s.handleFunc("GET /danmu/pull/{objectId}", s.handlePull)
	s.handleFunc("GET /danmu/user/{userId}", s.handleByUser)
	s.handleFunc("DELETE /danmu/item/{objectId}/{id}", s.handleDelete)
	s.handleFunc("GET /danmu/heatmap/{objectId}", s.handleHeatmap)
	s.handleFunc("GET /danmu/sessions/{objectId}", s.handleSessions)
	s.handleFunc("GET /danmu/me", s.handleMe)
	s.handleFunc("GET /healthz", s.handleHealth)
	s.handleFunc("GET /readyz", s.handleReady)
	s.handleFunc("GET /openapi.json", s.handleOpenAPI)
	return s
}

// Handle registers h for pattern (a ServeMux pattern such as
// "GET /danmu/ws/{objectId}").
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.patterns = append(s.patterns, pattern)
}

func (s *Server) handleFunc(pattern string, h http.HandlerFunc) { s.Handle(pattern, h) }

// Patterns returns every registered route pattern, for the test that the
// OpenAPI description matches the routes.
func (s *Server) Patterns() []string { return slices.Clone(s.patterns) }

// Match returns the pattern that would serve r, or "" when none would.
func (s *Server) Match(r *http.Request) string {
	_, p := s.mux.Handler(r)
	return p
}

// openAPI is the OpenAPI 3 description of the routes.
//
//go:embed openapi.json
var openAPI []byte

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(openAPI)
}

// ServeHTTP answers unknown routes and wrong methods with JSON errors,
// recovers from panics, and otherwise dispatches to the registered routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			webapi.WriteError(w, r, s.log, fmt.Errorf("panic: %v", v))
		}
	}()
	if s.cors(w, r) {
		return
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.noRoute(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// cors adds the CORS headers for an allowed Origin and answers preflight
// requests; it reports whether it answered.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(s.cfg.CORSOrigins) == 0 || !auth.OriginAllowed(r, s.cfg.CORSOrigins) {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Expose-Headers", "Retry-After, Idempotent-Replayed")
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, Idempotency-Key")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// WriteError writes err as a JSON error response, for handlers mounted
// beside the API.
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	webapi.WriteError(w, r, s.log, err)
}

// noRoute lets the mux decide between 404, 405 and a redirect, and turns
// its plain-text answers into JSON errors.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	rec := &recorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	switch {
	case rec.status == http.StatusMethodNotAllowed:
		allow := rec.header.Get("Allow")
		w.Header().Set("Allow", allow)
		webapi.WriteError(w, r, s.log, danmaku.Errorf(danmaku.EMETHOD, "method %s is not allowed here; allowed: %s", r.Method, allow))
	case rec.status >= 300 && rec.status < 400:
		w.Header().Set("Location", rec.header.Get("Location"))
		w.WriteHeader(rec.status)
	default:
		webapi.WriteError(w, r, s.log, danmaku.Errorf(danmaku.ENOTFOUND, "no such route: %s %s", r.Method, r.URL.Path))
	}
}

// recorder captures the status and headers of the mux's fallback handlers.
type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(status int)      { r.status = status }

func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) {
	a, err := s.auth.Identify(w, r)
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	body, err := s.readJSONBody(w, r)
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	req, err := danmaku.ParseSend(body, s.svc.Limits())
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key != "" {
		if err := danmaku.ValidateIdempotencyKey(key); err != nil {
			webapi.WriteError(w, r, s.log, err)
			return
		}
	}
	d, replayed, err := s.svc.SendOnce(r.Context(), a, req, key)
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeRawJSON(w, d.AppendJSON(make([]byte, 0, 256)))
}

// readJSONBody checks the content type and reads at most MaxBodyBytes.
func (s *Server) readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, danmaku.Errorf(danmaku.EMEDIATYPE, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, danmaku.Errorf(danmaku.ETOOLARGE, "request body is larger than %d bytes", s.cfg.MaxBodyBytes)
		}
		return nil, danmaku.Errorf(danmaku.EINVALID, "reading request body: %v", err)
	}
	return body, nil
}

func (s *Server) handleQueryByTime(w http.ResponseWriter, r *http.Request) {
	a, err := webapi.Viewer(s.auth, r)
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	q := r.URL.Query()
	size, err := intParam(q.Get("size"), "size")
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	t, err := timeParam(q.Get("playingTime"), "playingTime")
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	objectID := r.PathValue("objectId")
	sc, err := s.scope(r, objectID)
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	res, err := s.svc.QueryByTimeIn(r.Context(), a, objectID, sc, t, size)
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	writeJSON(w, res)
}

func (s *Server) handlePull(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !q.Has("cursor") {
		s.handleQueryByTime(w, r)
		return
	}
	a, err := webapi.Viewer(s.auth, r)
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	size, err := intParam(q.Get("size"), "size")
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	objectID := r.PathValue("objectId")
	sc, err := s.scope(r, objectID)
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	res, err := s.svc.PullIn(r.Context(), a, objectID, sc, q.Get("cursor"), size)
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	writeJSON(w, res)
}

func (s *Server) handleByUser(w http.ResponseWriter, r *http.Request) {
	a, err := webapi.Viewer(s.auth, r)
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	q := r.URL.Query()
	size, err := intParam(q.Get("size"), "size")
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	res, err := s.svc.ByUser(r.Context(), a, r.PathValue("userId"), q.Get("cursor"), size)
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	writeJSON(w, res)
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	a, err := webapi.Viewer(s.auth, r)
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	objectID := r.PathValue("objectId")
	if err := danmaku.ValidateObjectID(objectID); err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	id, err := danmaku.ParseID(r.PathValue("id"))
	if err != nil {
		webapi.WriteError(w, r, s.log, danmaku.FieldError("id", "must be a danmaku id"))
		return
	}
	d, err := s.svc.Delete(r.Context(), a, objectID, id)
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	writeJSON(w, map[string]any{"deleted": d})
}

func (s *Server) handleHeatmap(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	buckets, err := intParam(q.Get("buckets"), "buckets")
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	duration, err := timeParam(q.Get("duration"), "duration")
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	objectID := r.PathValue("objectId")
	sc, err := s.scope(r, objectID)
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	h, err := s.svc.HeatmapIn(r.Context(), objectID, sc, duration, buckets)
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	writeJSON(w, h)
}

// handleHealth answers while the process serves; it also reports each
// dependency, which may be down while the node keeps serving.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"status": "ok"}
	if s.cfg.Health != nil {
		body["dependencies"] = s.cfg.Health()
	}
	writeJSON(w, body)
}

// handleReady answers 200 when the store answers, so that a load balancer
// sends traffic only to nodes that can take sends, and 503 otherwise.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.svc.Ready(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		webapi.WriteError(w, r, s.log, &danmaku.Error{Code: danmaku.EUNAVAILABLE, Message: "the store does not answer", RetryAfter: time.Second})
		return
	}
	writeJSON(w, map[string]string{"status": "ready"})
}

// NoopHandler reads a body of at most maxBody bytes and answers {}: the
// baseline that benchmarks compare the send handler with.
func NoopHandler(maxBody int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxBody))
		writeJSON(w, struct{}{})
	})
}

// intParam parses an optional non-negative integer query parameter.
func intParam(v, name string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, danmaku.FieldError(name, "must be a whole number")
	}
	return n, nil
}

// timeParam parses a time parameter in seconds; empty means 0.
func timeParam(v, name string) (danmaku.Time, error) {
	if v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, danmaku.FieldError(name, "must be a number of seconds")
	}
	t, err := danmaku.TimeFromSeconds(f)
	if err != nil {
		return 0, danmaku.FieldError(name, "%v", err)
	}
	return t, nil
}
