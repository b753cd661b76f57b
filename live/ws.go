package live

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/webapi"
	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

// nbioPollers returns how many poller goroutines serve WebSocket viewers.
func nbioPollers() int { return 1 + runtime.NumCPU()/4 }

// sendTimeout bounds the store write behind one WebSocket send.
const sendTimeout = 10 * time.Second

// maxQueuedMessages bounds a connection's client messages waiting to be
// handled.
const maxQueuedMessages = 32

// maxRefLen bounds the client's reference echoed in acks and errors.
const maxRefLen = 64

// wsSink writes pre-framed messages to a WebSocket connection held by the
// nbio poller. Writes never block: bytes the kernel does not take at once
// wait in the poller, and backlog reports them.
type wsSink struct {
	conn    *nbio.Conn
	v       *viewer
	queued  atomic.Int64 // Bytes handed to conn.
	written atomic.Int64 // Bytes the kernel took (counted by the poller).
	once    sync.Once

	release     func() // Config.ConnHook's release function.
	releaseOnce sync.Once

	// heard is when the last frame from the client (a message, a ping,
	// a pong) was handled, in Unix nanoseconds. The room closes a
	// connection that stays silent for too long (see viewer.ping); a
	// deadline timer per connection would cost each viewer about 300
	// bytes of heap.
	heard atomic.Int64
}

// lastHeard returns when the last frame from the client was handled, in
// Unix nanoseconds.
func (s *wsSink) lastHeard() int64 { return s.heard.Load() }

// hear records that a frame from the client was handled at now.
func (s *wsSink) hear(now time.Time) { s.heard.Store(now.UnixNano()) }

// heard records that a frame from c's client was handled now, and returns
// c's sink (nil before the connection has one).
func (h *Hub) heard(c *websocket.Conn) *wsSink {
	s, ok := c.Session().(*wsSink)
	if !ok {
		return nil
	}
	s.hear(h.cfg.Now())
	return s
}

func (s *wsSink) write(bufs [][]byte) error {
	switch len(bufs) {
	case 0:
		return nil
	case 1:
		return s.writeOne(bufs[0])
	}
	// One write of the joined frames: nbio v1.6.8's Writev neither
	// reports fully written vectors to OnWrittenSize nor keeps the vectors
	// after a partial write, so it is avoided. Write copies what the
	// kernel does not take at once, so the joined frames go back to the
	// pool: a viewer that catches up on a backlog writes the whole of it
	// in one go, and with many such viewers in one tick, fresh buffers
	// would be megabytes of garbage a tick. (The viewer is in its room
	// before anything is written to it.)
	joins := &s.v.room.hub.joins
	p, _ := joins.Get().(*[]byte)
	if p == nil {
		p = new([]byte)
	}
	b := (*p)[:0]
	for _, x := range bufs {
		b = append(b, x...)
	}
	s.queued.Add(int64(len(b)))
	_, err := s.conn.Write(b)
	if cap(b) <= maxPooledJoin {
		*p = b[:0]
		joins.Put(p)
	}
	return err
}

// maxPooledJoin is the largest buffer of joined frames that goes back to
// the pool.
const maxPooledJoin = 256 << 10

func (s *wsSink) writeOne(b []byte) error {
	s.queued.Add(int64(len(b)))
	_, err := s.conn.Write(b)
	return err
}

func (s *wsSink) backlog() int64 { return max(s.queued.Load()-s.written.Load(), 0) }

func (s *wsSink) close(code int, reason string) {
	s.once.Do(func() {
		if code == CloseTooSlow {
			s.closeAfterBacklog(closeFrame(code, reason)) // See linger.go.
			return
		}
		endConn(s.conn, closeFrame(code, reason))
	})
}

// ended removes the viewer of a connection that has closed and frees its
// place; it is safe to call more than once.
func (s *wsSink) ended() {
	s.v.close(CloseGoingAway, "")
	s.v.mu.Lock()
	r := s.v.room
	s.v.mu.Unlock()
	if r != nil {
		r.leave(s.v)
	}
	s.releaseOnce.Do(s.release)
}

// newUpgrader configures the WebSocket upgrade: connections move to the
// hub's poller, compression is offered unless disabled (see
// docs/protocol.md), client messages are limited to MaxMessageBytes.
func (h *Hub) newUpgrader() *websocket.Upgrader {
	u := websocket.NewUpgrader()
	u.Engine = h.engine
	u.BlockingModTrasferConnToPoller = true
	// No read deadline: the rooms close connections that stay silent
	// (see wsSink.heard), without a timer per connection.
	u.KeepaliveTime = 0
	u.MessageLengthLimit = h.cfg.MaxMessageBytes
	u.CheckOrigin = h.cfg.CheckOrigin
	u.EnableCompression(!h.cfg.DisableCompression)
	u.SetPingHandler(func(c *websocket.Conn, data string) {
		if s := h.heard(c); s != nil {
			s.v.answerPing(&message{ws: wsFrame(opPong, []byte(data))})
		}
	})
	u.SetPongHandler(func(c *websocket.Conn, _ string) { h.heard(c) })
	u.SetCloseHandler(h.onCloseFrame)
	u.OnMessage(h.onMessage)
	u.OnClose(func(c *websocket.Conn, _ error) {
		if s, ok := c.Session().(*wsSink); ok {
			s.ended()
		}
	})
	return u
}

// onCloseFrame answers a client's close frame with its code (1000 if it
// had none, 1002 if its reason is not UTF-8) and waits for the poller to
// close the connection: nbio closes it directly once this returns, which
// endConn is there to avoid.
func (h *Hub) onCloseFrame(c *websocket.Conn, code int, reason string) {
	const noStatus = 1005 // Never sent in a close frame.
	switch {
	case !utf8.ValidString(reason):
		code = CloseProtocolError
	case code == noStatus:
		code = CloseNormal
	}
	nbc, ok := c.UnderlayerConn().(*nbio.Conn)
	if !ok {
		return
	}
	if s, ok := c.Session().(*wsSink); ok {
		s.v.close(code, "")
	} else {
		endConn(nbc, closeFrame(code, ""))
	}
	waitClosed(nbc, closeWait)
}

// joinRequest is what a viewer's request to join a room says: the room,
// who asks, where it resumes (nil: it does not) and whether it wants
// compact batches.
type joinRequest struct {
	objectID string
	actor    danmaku.Actor
	resume   *resumeFrom
	compact  bool
}

// readJoin admits r (see admit) and reads its resume point and protocol
// version, for both transports.
func (h *Hub) readJoin(r *http.Request) (joinRequest, error) {
	objectID, actor, err := h.admit(r)
	if err != nil {
		return joinRequest{}, err
	}
	rs, err := parseResume(r)
	if err != nil {
		return joinRequest{}, err
	}
	compact, err := parseVersion(r)
	if err != nil {
		return joinRequest{}, err
	}
	return joinRequest{objectID: objectID, actor: actor, resume: rs, compact: compact}, nil
}

// admit checks a viewer's request before it joins: the room id, who it
// is, and that the room can be held (the hub is not full or closed).
func (h *Hub) admit(r *http.Request) (objectID string, actor danmaku.Actor, err error) {
	objectID = r.PathValue("objectId")
	if err := danmaku.ValidateObjectID(objectID); err != nil {
		return "", actor, err
	}
	if actor, err = webapi.Viewer(h.cfg.Auth, r); err != nil {
		return "", actor, err
	}
	if _, err := h.roomFor(objectID, actor.IP); err != nil {
		return "", actor, err
	}
	return objectID, actor, nil
}

// ServeWS upgrades GET /danmu/ws/{objectId} to a WebSocket that receives
// the room's welcome, then its batches, and may send danmaku. Errors
// before the upgrade are written by webapi.WriteError.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request) {
	j, err := h.readJoin(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	objectID, actor, rs, compact := j.objectID, j.actor, j.resume, j.compact
	// The origin is checked before the upgrade headers, so that a client
	// whose socket was refused can learn why with a plain GET.
	if h.cfg.CheckOrigin != nil && !h.cfg.CheckOrigin(r) {
		h.writeError(w, r, danmaku.Errorf(danmaku.EFORBIDDEN,
			"this page's origin may not open a WebSocket here: add it to the server's -origins setting (DANMAKUD_ORIGINS)"))
		return
	}
	// Checked here so that refusals are JSON errors (the upgrader
	// answers plain text).
	if !headerHas(r.Header, "Connection", "upgrade") || !headerHas(r.Header, "Upgrade", "websocket") || r.Header.Get("Sec-WebSocket-Version") != "13" || r.Header.Get("Sec-WebSocket-Key") == "" {
		h.writeError(w, r, danmaku.Errorf(danmaku.EINVALID, "this endpoint needs a WebSocket upgrade (version 13)"))
		return
	}
	release := func() {}
	if h.cfg.ConnHook != nil {
		release = h.cfg.ConnHook(r)
	}
	wsc, err := h.upgrader.Upgrade(w, r, nil, true)
	if err != nil {
		release()
		return // The upgrader has answered the request.
	}
	nbc, ok := wsc.UnderlayerConn().(*nbio.Conn)
	if !ok {
		release()
		// Only plain TCP connections move to the poller; TLS is expected
		// to end at a proxy in front of danmakud.
		h.log.Error("live: websocket connection is not on the poller", "type", typeName(wsc.UnderlayerConn()))
		_ = wsc.Close()
		return
	}
	if h.cfg.SocketSendBuffer > 0 {
		_ = nbc.SetWriteBuffer(h.cfg.SocketSendBuffer)
	}
	v := &viewer{actor: actor, zip: !h.cfg.DisableCompression && offersDeflate(r.Header), compact: compact}
	s := &wsSink{conn: nbc, v: v, release: release}
	s.hear(h.cfg.Now())
	v.sink = s
	wsc.SetSession(s)
	h.joinRoom(objectID, v, rs)
	if isClosed(nbc) {
		// The connection may have ended before it had a session, or
		// before the viewer was in its room, so OnClose may have found
		// nothing to remove.
		s.ended()
	}
}

// headerHas reports whether a comma-separated header holds token,
// case-insensitively.
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// offersDeflate reports whether the upgrade request offers
// permessage-deflate, which the upgrader then accepts with no context
// takeover either way.
func offersDeflate(h http.Header) bool {
	for _, v := range h.Values("Sec-WebSocket-Extensions") {
		for ext := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(ext, ";")
			if strings.TrimSpace(name) == "permessage-deflate" {
				return true
			}
		}
	}
	return false
}

// joinRoom adds v to objectID's room, replacing a room that closed
// meanwhile; rs, when not nil, is where v resumes.
func (h *Hub) joinRoom(objectID string, v *viewer, rs *resumeFrom) bool {
	var live *Session
	if s, ok := h.liveSession(objectID); ok {
		live = &s
	}
	for {
		r, err := h.room(objectID)
		if err != nil {
			v.close(CloseGoingAway, danmaku.ErrorMessage(err))
			return false
		}
		v.mu.Lock()
		v.room = r
		v.mu.Unlock()
		if r.join(v, live, rs) {
			return true
		}
	}
}

// clientMessage is a message from a viewer.
type clientMessage struct {
	Type    string          `json:"type"`
	Ref     string          `json:"ref"`
	Content json.RawMessage `json:"content"`
}

// pongJSON answers a client's {"type":"ping"}.
type pongJSON struct {
	Type string `json:"type"`
	Ref  string `json:"ref,omitempty"`
}

// onMessage handles one client message; nbio runs it on its handler pool,
// where blocking on the store is allowed.
func (h *Hub) onMessage(c *websocket.Conn, mt websocket.MessageType, data []byte) {
	s, ok := c.Session().(*wsSink)
	if !ok {
		return
	}
	v := s.v
	s.hear(h.cfg.Now())
	if s.conn.ExecuteLen() > maxQueuedMessages {
		// The client sends faster than its sends are stored; nbio would
		// queue its messages without bound.
		v.close(ClosePolicy, "too many messages in flight")
		return
	}
	if mt != websocket.TextMessage {
		v.send(errorMessage("", danmaku.Errorf(danmaku.EINVALID, "messages must be JSON text frames")))
		return
	}
	if !utf8.Valid(data) {
		// Checked here rather than by nbio (see New), so that the
		// connection is closed through endConn.
		v.close(CloseProtocolError, "invalid UTF-8 bytes")
		return
	}
	var in clientMessage
	if err := json.Unmarshal(data, &in); err != nil {
		v.send(errorMessage("", danmaku.Errorf(danmaku.EINVALID, "message is not a JSON object")))
		return
	}
	if len(in.Ref) > maxRefLen {
		v.send(errorMessage("", danmaku.FieldError("ref", "must be at most %d bytes", maxRefLen)))
		return
	}
	switch in.Type {
	case "ping":
		v.send(control("pong", pongJSON{Type: "pong", Ref: in.Ref}))
	case "send":
		v.send(h.handleSend(v, in))
	default:
		v.send(errorMessage(in.Ref, danmaku.FieldError("type", "must be \"send\" or \"ping\"")))
	}
}

// handleSend stores a danmaku sent over WebSocket through the Sender and
// returns the ack or the error message.
func (h *Hub) handleSend(v *viewer, in clientMessage) *message {
	h.mu.Lock()
	sender := h.sender
	h.mu.Unlock()
	if sender == nil {
		return errorMessage(in.Ref, danmaku.Errorf(danmaku.EUNAVAILABLE, "sending over this connection is not enabled"))
	}
	body, err := json.Marshal(struct {
		ObjectID string          `json:"objectId"`
		Content  json.RawMessage `json:"content,omitempty"`
	}{v.room.id, in.Content})
	if err != nil {
		return errorMessage(in.Ref, danmaku.Errorf(danmaku.EINVALID, "content is not valid JSON"))
	}
	req, err := danmaku.ParseSend(body, h.cfg.Limits)
	if err != nil {
		return errorMessage(in.Ref, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	d, err := sender.Send(ctx, v.actor, req)
	if err != nil {
		if danmaku.ErrorCode(err) == danmaku.EINTERNAL {
			h.log.Error("live: send over websocket", "objectId", v.room.id, "err", err)
		}
		return errorMessage(in.Ref, err)
	}
	return control("ack", ackJSON{Type: "ack", Ref: in.Ref, ID: d.ID, Danmaku: d})
}

// writeError answers a request that was not upgraded, with the same
// status and JSON body as the HTTP API gives for the same error.
func (h *Hub) writeError(w http.ResponseWriter, r *http.Request, err error) {
	webapi.WriteError(w, r, h.log, err)
}

func typeName(c net.Conn) string { return fmt.Sprintf("%T", c) }
