package socketio

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

// session is one Engine.IO connection: its outgoing packets, its
// transport (long-polling, then perhaps a WebSocket) and the namespaces
// its client joined.
type session struct {
	srv        *Server
	sid        string
	canUpgrade bool // Opened over polling, so it may move to a WebSocket.
	done       chan struct{}
	wake       chan struct{} // Signalled when out grows or the transport changes.

	mu       sync.Mutex
	out      [][]byte // Engine.IO packets waiting for the client.
	outBytes int
	polling  bool              // A long-poll GET is waiting.
	noop     bool              // Answer the waiting poll with a noop (an upgrade is under way).
	ws       *websocket.Conn   // Set once the client upgraded.
	probing  *websocket.Conn   // A WebSocket that sent its probe, not yet upgraded.
	nsps     map[string]string // Joined namespace to its objectId ("" for "/").
	pong     bool              // A pong came since the last ping.
	closed   bool
}

func newSession(srv *Server, sid string, canUpgrade bool) *session {
	return &session{
		srv:        srv,
		sid:        sid,
		canUpgrade: canUpgrade,
		done:       make(chan struct{}),
		wake:       make(chan struct{}, 1),
		nsps:       make(map[string]string),
	}
}

// signal wakes the poll or the WebSocket writer.
func (x *session) signal() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// send queues Engine.IO packets for the client, or writes them to its
// WebSocket; it never blocks. A session whose queue grows past
// MaxQueuedBytes is closed: its client is not keeping up.
func (x *session) send(pkts ...[]byte) {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return
	}
	if x.ws != nil {
		// The poller buffers what the kernel does not take at once.
		var err error
		for _, p := range pkts {
			if err = x.ws.WriteMessage(websocket.TextMessage, p); err != nil {
				break
			}
		}
		x.mu.Unlock()
		if err != nil {
			go x.close("websocket write failed")
		}
		return
	}
	for _, p := range pkts {
		x.out = append(x.out, p)
		x.outBytes += len(p)
	}
	over := x.outBytes > x.srv.cfg.MaxQueuedBytes
	x.mu.Unlock()
	if over {
		// Not here: send runs inside a room's fan-out, which closing
		// the last session of a namespace would wait for.
		go x.close("client too slow")
		return
	}
	x.signal()
}

// takeLocked removes and returns up to max bytes of waiting packets (at least
// one packet if any wait).
func (x *session) takeLocked(max int) [][]byte {
	n, size := 0, 0
	for n < len(x.out) && (n == 0 || size+len(x.out[n])+1 <= max) {
		size += len(x.out[n]) + 1
		n++
	}
	pkts := x.out[:n:n]
	x.out = x.out[n:]
	x.outBytes -= size - n
	if len(x.out) == 0 {
		x.out = nil
	}
	return pkts
}

// close ends the session and leaves its namespaces; it is safe to call
// more than once.
func (x *session) close(reason string) {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return
	}
	x.closed = true
	nsps := x.nsps
	x.nsps = nil
	x.out = nil
	ws, probing := x.ws, x.probing
	x.mu.Unlock()
	close(x.done)
	x.srv.removeSession(x)
	for _, objectID := range nsps {
		if objectID != "" {
			x.srv.unsubscribe(x, objectID)
		}
	}
	for _, c := range []*websocket.Conn{ws, probing} {
		if c != nil {
			_ = c.WriteMessage(websocket.TextMessage, []byte("1"))
			_ = c.Close()
		}
	}
	x.srv.log.Debug("socket.io session closed", "sid", x.sid, "reason", reason)
}

// heartbeat pings the client every PingInterval and closes the session
// when a pong does not come within PingTimeout.
func (x *session) heartbeat() {
	cfg := &x.srv.cfg
	t := time.NewTimer(cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-x.done:
			return
		case <-t.C:
		}
		x.mu.Lock()
		x.pong = false
		x.mu.Unlock()
		x.send([]byte("2"))
		t.Reset(cfg.PingTimeout)
		select {
		case <-x.done:
			return
		case <-t.C:
		}
		x.mu.Lock()
		ok := x.pong
		x.mu.Unlock()
		if !ok {
			x.close("ping timeout")
			return
		}
		t.Reset(max(cfg.PingInterval-cfg.PingTimeout, 0))
	}
}

// maxPollBytes bounds the packets one poll answer carries (a single
// packet may exceed it); the rest waits for the next poll.
const maxPollBytes = 256 << 10

// pollTimeout bounds one long-poll: an idle one is answered with a noop
// so that proxies do not cut it (pings normally come sooner).
const pollTimeout = 30 * time.Second

// poll answers a long-polling GET with the waiting packets, separated by
// the record separator, once there are some.
func (x *session) poll(w http.ResponseWriter, r *http.Request) {
	x.mu.Lock()
	if x.ws != nil {
		x.mu.Unlock()
		writeError(w, http.StatusBadRequest, errBadRequest, "the session moved to WebSocket")
		return
	}
	if x.polling {
		x.mu.Unlock()
		writeError(w, http.StatusBadRequest, errBadRequest, "a poll is already waiting")
		x.close("overlapping poll")
		return
	}
	x.polling = true
	x.mu.Unlock()
	timeout := time.NewTimer(pollTimeout)
	defer timeout.Stop()
	var body []byte
	for body == nil {
		x.mu.Lock()
		switch {
		case x.closed:
			body = []byte("1")
		case len(x.out) > 0:
			body = bytes.Join(x.takeLocked(maxPollBytes), []byte{0x1e})
		case x.noop:
			body = []byte("6")
		}
		if body != nil {
			x.noop = false
			x.polling = false
			x.mu.Unlock()
			break
		}
		x.mu.Unlock()
		select {
		case <-x.wake:
		case <-x.done:
		case <-timeout.C:
			x.mu.Lock()
			x.noop = true
			x.mu.Unlock()
		case <-r.Context().Done():
			x.mu.Lock()
			x.polling = false
			x.mu.Unlock()
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

// post reads the packets of a polling POST.
func (x *session) post(w http.ResponseWriter, r *http.Request) {
	max := x.srv.cfg.MaxPayload
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(max)+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, errBadRequest, "could not read the body")
		return
	}
	if len(body) > max {
		writeError(w, http.StatusRequestEntityTooLarge, errBadRequest, "payload over "+itoa(max)+" bytes")
		x.close("payload too large")
		return
	}
	x.mu.Lock()
	upgraded := x.ws != nil
	x.mu.Unlock()
	if upgraded {
		writeError(w, http.StatusBadRequest, errBadRequest, "the session moved to WebSocket")
		return
	}
	for p := range bytes.SplitSeq(body, []byte{0x1e}) {
		if !x.packet(p) {
			break
		}
	}
	w.Header().Set("Content-Type", "text/html")
	_, _ = io.WriteString(w, "ok")
}

// packet handles one Engine.IO packet from the client and reports whether
// the session is still open.
func (x *session) packet(p []byte) bool {
	if len(p) == 0 {
		x.close("empty packet")
		return false
	}
	switch p[0] {
	case '1': // close
		x.close("client closed")
		return false
	case '3': // pong
		x.mu.Lock()
		x.pong = true
		x.mu.Unlock()
	case '4': // message: a Socket.IO packet
		return x.socketPacket(p[1:])
	case '6': // noop
	default: // ping (the server pings in Engine.IO 4), upgrade, binary
		x.close("unexpected packet")
		return false
	}
	return true
}

// socketPacket handles one Socket.IO packet.
func (x *session) socketPacket(p []byte) bool {
	if len(p) == 0 {
		x.close("empty Socket.IO packet")
		return false
	}
	typ := p[0]
	nsp, rest := "/", p[1:]
	if len(rest) > 0 && rest[0] == '/' {
		n, r, _ := bytes.Cut(rest, []byte{','})
		nsp, rest = string(n), r
	}
	switch typ {
	case '0': // CONNECT
		x.connect(nsp)
	case '1': // DISCONNECT
		x.mu.Lock()
		objectID, ok := x.nsps[nsp]
		delete(x.nsps, nsp)
		x.mu.Unlock()
		if ok && objectID != "" {
			x.srv.unsubscribe(x, objectID)
		}
	case '2': // EVENT: clients cannot emit; an ack request gets an error.
		digits := 0
		for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
			digits++
		}
		if digits > 0 {
			x.send(socketPacket('3', nsp, string(rest[:digits])+`[{"code":"forbidden","message":"this endpoint only sends: send danmaku with POST /danmu/send"}]`))
		}
	case '3': // ACK: the server asks for none.
	default: // BINARY_EVENT, BINARY_ACK, or not a packet.
		x.close("unsupported Socket.IO packet")
		return false
	}
	return true
}

// connect answers a namespace CONNECT: /video/{objectId} joins the room's
// feed, "/" is accepted with no events, anything else is refused.
func (x *session) connect(nsp string) {
	objectID := ""
	if nsp != "/" {
		id, ok := strings.CutPrefix(nsp, nspPrefix)
		if !ok {
			x.send(connectError(nsp, "Invalid namespace: use /video/{objectId}"))
			return
		}
		if err := danmaku.ValidateObjectID(id); err != nil {
			x.send(connectError(nsp, "Invalid namespace: "+danmaku.ErrorMessage(err)))
			return
		}
		objectID = id
	}
	x.mu.Lock()
	_, joined := x.nsps[nsp]
	full := len(x.nsps) >= x.srv.cfg.MaxNamespaces
	closed := x.closed
	if !joined && !full && !closed {
		x.nsps[nsp] = objectID
	}
	x.mu.Unlock()
	switch {
	case closed:
		return
	case full && !joined:
		x.send(connectError(nsp, "too many namespaces on one connection (at most "+itoa(x.srv.cfg.MaxNamespaces)+")"))
		return
	}
	if !joined && objectID != "" {
		if err := x.srv.subscribe(x, objectID); err != nil {
			x.mu.Lock()
			if x.nsps != nil {
				delete(x.nsps, nsp)
			}
			x.mu.Unlock()
			x.send(connectError(nsp, danmaku.ErrorMessage(err)))
			return
		}
		x.mu.Lock()
		closed = x.closed
		x.mu.Unlock()
		if closed { // Closed meanwhile: close found no subscription to undo.
			x.srv.unsubscribe(x, objectID)
			return
		}
	}
	b, _ := json.Marshal(struct {
		SID string `json:"sid"`
	}{randomID()})
	x.send(socketPacket('0', nsp, string(b)))
}

// socketPacket encodes a Socket.IO packet inside an Engine.IO message.
func socketPacket(typ byte, nsp, data string) []byte {
	b := []byte{'4', typ}
	if nsp != "/" {
		b = append(b, nsp...)
		b = append(b, ',')
	}
	return append(b, data...)
}

// connectError encodes a CONNECT_ERROR.
func connectError(nsp, msg string) []byte {
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	return socketPacket('4', nsp, string(b))
}
