// Package socketio serves the live danmaku of a video to Socket.IO clients,
// so that a page written for the first seed (socket.io-client listening on
// namespace /video/{objectId} for "message" events) works with danmakud
// unchanged:
//
//	const socket = io('https://host/video/' + objectId)
//	socket.on('message', (d) => show(d)) // d: one danmaku, as the API returns it
//
// It implements the subset of the Engine.IO 4 and Socket.IO 5 protocols
// (socket.io-client v3 and v4) that such a client uses: the HTTP
// long-polling handshake, the upgrade to WebSocket (or WebSocket from the
// start), namespace connects, server-to-client EVENT packets and the
// ping/pong heartbeat. WebSockets use the blocking mode of
// github.com/lesismal/nbio's nbhttp/websocket on the net/http server.
// Binary packets are not supported; clients cannot emit into a room: their
// events are ignored, or answered with an error when they ask for an ack.
//
// Each namespace with connected sockets has one listener on its live room
// (live.Hub.Listen), so the sockets receive exactly what the room's
// WebSocket viewers receive, after the same fold and fair cap: one
// "message" event per danmaku of each tick's batch.
package socketio

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/danmakud/danmakud/live"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

// Feed is the live source of the rooms; *live.Hub is one.
type Feed interface {
	// Listen calls f with each batch of objectID's room until stop.
	Listen(objectID string, f func(live.Batch)) (stop func(), err error)
}

// Config holds the endpoint's limits. Zero fields take the defaults.
type Config struct {
	// MaxSessions bounds the Engine.IO sessions (connections) open at once
	// (default 10,000); a handshake over it is refused with 503.
	MaxSessions int
	// MaxNamespaces bounds the namespaces one session may join (default 4).
	MaxNamespaces int
	// MaxPayload bounds the body of a polling POST and a WebSocket message
	// from the client, in bytes (default 16 KiB). The handshake announces it.
	MaxPayload int
	// MaxQueuedBytes bounds what may wait for one session's client (a
	// poll that has not come, a slow WebSocket); a session over it is
	// closed (default 1 MiB).
	MaxQueuedBytes int
	// PingInterval and PingTimeout drive the heartbeat: the server pings
	// every PingInterval and closes a session whose client has not
	// answered within PingTimeout (defaults 25 s and 20 s, as Socket.IO's).
	PingInterval time.Duration
	PingTimeout  time.Duration
	// CheckOrigin allows or refuses a WebSocket by its Origin; nil allows
	// every origin (the endpoint is read-only).
	CheckOrigin func(*http.Request) bool
}

func (c Config) withDefaults() Config {
	if c.MaxSessions <= 0 {
		c.MaxSessions = 10_000
	}
	if c.MaxNamespaces <= 0 {
		c.MaxNamespaces = 4
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = 16 << 10
	}
	if c.MaxQueuedBytes <= 0 {
		c.MaxQueuedBytes = 1 << 20
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 20 * time.Second
	}
	return c
}

// Server serves /socket.io/. Create it with New and stop it with Close.
type Server struct {
	cfg      Config
	feed     Feed
	log      *slog.Logger
	engine   *nbhttp.Engine
	upgrader *websocket.Upgrader
	conns    sync.Map // *websocket.Conn to its *wsState, while it is open.

	mu       sync.Mutex
	sessions map[string]*session
	feeds    map[string]*roomFeed
	closed   bool
}

// New returns a running Server that takes the rooms' batches from feed.
// log may be nil.
func New(feed Feed, cfg Config, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:      cfg.withDefaults(),
		feed:     feed,
		log:      log,
		sessions: make(map[string]*session),
		feeds:    make(map[string]*roomFeed),
	}
	var err error
	if s.engine, s.upgrader, err = newEngine(s.cfg); err != nil {
		return nil, err
	}
	s.newUpgraderHandlers()
	return s, nil
}

// Close ends every session and stops the WebSocket poller; later
// requests are refused.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ss := make([]*session, 0, len(s.sessions))
	for _, x := range s.sessions {
		ss = append(ss, x)
	}
	s.mu.Unlock()
	for _, x := range ss {
		x.close("server closing")
	}
	return closePoller(s.engine)
}

// Sessions returns the number of open sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Engine.IO error codes, sent as {"code":N,"message":"…"}.
const (
	errTransportUnknown = 0
	errSessionUnknown   = 1
	errBadMethod        = 2
	errBadRequest       = 3
	errForbidden        = 4
	errVersion          = 5
)

// ServeHTTP serves GET and POST /socket.io/?EIO=4&transport=…[&sid=…].
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		writeError(w, http.StatusBadRequest, errVersion, "unsupported protocol version: only Engine.IO 4 (socket.io-client v3 and v4) is served")
		return
	}
	transport := q.Get("transport")
	if transport != "polling" && transport != "websocket" {
		writeError(w, http.StatusBadRequest, errTransportUnknown, "transport must be polling or websocket")
		return
	}
	sid := q.Get("sid")
	if sid == "" {
		switch {
		case r.Method != http.MethodGet:
			writeError(w, http.StatusBadRequest, errBadMethod, "a handshake is a GET")
		case transport == "websocket":
			s.serveWebSocket(w, r, nil)
		default:
			s.handshakePolling(w)
		}
		return
	}
	s.mu.Lock()
	x := s.sessions[sid]
	s.mu.Unlock()
	if x == nil {
		writeError(w, http.StatusBadRequest, errSessionUnknown, "session id unknown")
		return
	}
	switch {
	case transport == "websocket":
		s.serveWebSocket(w, r, x)
	case r.Method == http.MethodGet:
		x.poll(w, r)
	case r.Method == http.MethodPost:
		x.post(w, r)
	default:
		writeError(w, http.StatusBadRequest, errBadMethod, "polling takes GET and POST")
	}
}

// writeError answers with Engine.IO's JSON error.
func writeError(w http.ResponseWriter, status, code int, msg string) {
	b, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, msg})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// handshakePolling opens a session over long-polling.
func (s *Server) handshakePolling(w http.ResponseWriter) {
	x, err := s.newSession(true)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, errForbidden, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, x.openPacket())
}

// errFull refuses a handshake over MaxSessions.
var errFull = errors.New("too many Socket.IO sessions")

// newSession registers a new session and starts its heartbeat.
func (s *Server) newSession(canUpgrade bool) (*session, error) {
	x := newSession(s, randomID(), canUpgrade)
	s.mu.Lock()
	if s.closed || len(s.sessions) >= s.cfg.MaxSessions {
		s.mu.Unlock()
		return nil, errFull
	}
	s.sessions[x.sid] = x
	s.mu.Unlock()
	go x.heartbeat()
	return x, nil
}

// removeSession forgets x.
func (s *Server) removeSession(x *session) {
	s.mu.Lock()
	if s.sessions[x.sid] == x {
		delete(s.sessions, x.sid)
	}
	s.mu.Unlock()
}

// openPacket is the Engine.IO open packet of x.
func (x *session) openPacket() string {
	upgrades := []string{}
	if x.canUpgrade {
		upgrades = append(upgrades, "websocket")
	}
	b, _ := json.Marshal(struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int64    `json:"pingInterval"`
		PingTimeout  int64    `json:"pingTimeout"`
		MaxPayload   int      `json:"maxPayload"`
	}{x.sid, upgrades, x.srv.cfg.PingInterval.Milliseconds(), x.srv.cfg.PingTimeout.Milliseconds(), x.srv.cfg.MaxPayload})
	return "0" + string(b)
}

// randomID returns a random session or socket id.
func randomID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// roomFeed is one room's listener and the sessions that joined its
// namespace.
type roomFeed struct {
	nsp  string
	stop func()
	subs map[*session]struct{}
}

// subscribe adds x to objectID's feed, starting the room's listener for
// the first one.
func (s *Server) subscribe(x *session, objectID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.feeds[objectID]; f != nil {
		f.subs[x] = struct{}{}
		return nil
	}
	f := &roomFeed{nsp: nspPrefix + objectID, subs: map[*session]struct{}{x: {}}}
	// The listener may fire as soon as Listen returns, and it takes s.mu:
	// it waits until f is in place.
	stop, err := s.feed.Listen(objectID, func(b live.Batch) { s.broadcast(f, b) })
	if err != nil {
		return err
	}
	f.stop = stop
	s.feeds[objectID] = f
	return nil
}

// unsubscribe removes x from objectID's feed and stops the listener of a
// feed left with no session.
func (s *Server) unsubscribe(x *session, objectID string) {
	s.mu.Lock()
	f := s.feeds[objectID]
	if f == nil {
		s.mu.Unlock()
		return
	}
	delete(f.subs, x)
	var stop func()
	if len(f.subs) == 0 {
		delete(s.feeds, objectID)
		stop = f.stop
	}
	s.mu.Unlock()
	if stop != nil {
		stop() // Outside s.mu: the listener takes s.mu.
	}
}

// broadcast sends one "message" event per danmaku of b to f's sessions,
// each packet encoded once.
func (s *Server) broadcast(f *roomFeed, b live.Batch) {
	if len(b.Items) == 0 {
		return
	}
	pkts := make([][]byte, len(b.Items))
	for i, it := range b.Items {
		p := make([]byte, 0, len(f.nsp)+len(it)+16)
		p = append(p, "42"...)
		p = append(p, f.nsp...)
		p = append(p, `,["message",`...)
		p = append(p, it...)
		pkts[i] = append(p, ']')
	}
	s.mu.Lock()
	subs := make([]*session, 0, len(f.subs))
	for x := range f.subs {
		subs = append(subs, x)
	}
	s.mu.Unlock()
	for _, x := range subs {
		x.send(pkts...)
	}
}

// nspPrefix starts the namespace of a video.
const nspPrefix = "/video/"

// itoa formats n.
func itoa(n int) string { return strconv.Itoa(n) }
