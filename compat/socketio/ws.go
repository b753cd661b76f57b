package socketio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

// newEngine starts the poller that holds the WebSockets: after the
// upgrade a connection moves off its net/http goroutine, and writes never
// block; a connection with more than MaxQueuedBytes unwritten is closed
// by the poller.
func newEngine(cfg Config) (*nbhttp.Engine, *websocket.Upgrader, error) {
	e := nbhttp.NewEngine(nbhttp.Config{
		Name:                    "danmakud-socketio",
		NPoller:                 1,
		ReadBufferSize:          4 << 10,
		MaxWriteBufferSize:      cfg.MaxQueuedBytes,
		ReleaseWebsocketPayload: true,
		SupportServerOnly:       true,
	})
	if err := e.Start(); err != nil {
		return nil, nil, fmt.Errorf("socketio: start poller: %w", err)
	}
	u := websocket.NewUpgrader()
	u.Engine = e
	u.BlockingModTrasferConnToPoller = true
	// Pongs come every PingInterval; a connection silent for longer than
	// the heartbeat allows is closed by the poller.
	u.KeepaliveTime = cfg.PingInterval + cfg.PingTimeout + 5*time.Second
	u.MessageLengthLimit = cfg.MaxPayload
	u.CheckOrigin = cfg.CheckOrigin
	if u.CheckOrigin == nil {
		u.CheckOrigin = func(*http.Request) bool { return true }
	}
	u.EnableCompression(false)
	return e, u, nil
}

// wsState ties a WebSocket to its Engine.IO session.
type wsState struct {
	x *session
}

// serveWebSocket upgrades a request to a WebSocket: a new session (x nil)
// or the upgrade of a polling session x.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request, x *session) {
	if x != nil && !x.canUpgrade {
		writeError(w, http.StatusBadRequest, errBadRequest, "this session cannot upgrade")
		return
	}
	if x == nil {
		var err error
		if x, err = s.newSession(false); err != nil {
			writeError(w, http.StatusServiceUnavailable, errForbidden, err.Error())
			return
		}
		c, err := s.upgrader.Upgrade(w, r, nil, true)
		if err != nil {
			x.close("upgrade failed")
			return
		}
		s.conns.Store(c, &wsState{x: x})
		x.mu.Lock()
		x.ws = c
		err = c.WriteMessage(websocket.TextMessage, []byte(x.openPacket()))
		x.mu.Unlock()
		if err != nil {
			x.close("websocket write failed")
		}
		return
	}
	c, err := s.upgrader.Upgrade(w, r, nil, true)
	if err != nil {
		return
	}
	s.conns.Store(c, &wsState{x: x})
}

// stateOf returns c's state. The poller may hand over a message (or the
// end) of a connection before serveWebSocket, back from the upgrade, has
// stored it; stateOf then waits for it, up to a second.
func (s *Server) stateOf(c *websocket.Conn) *wsState {
	for end := time.Now().Add(time.Second); ; time.Sleep(time.Millisecond) {
		if v, ok := s.conns.Load(c); ok {
			return v.(*wsState)
		}
		if time.Now().After(end) {
			return nil
		}
	}
}

// newUpgraderHandlers sets what the WebSockets do with client messages.
func (s *Server) newUpgraderHandlers() {
	s.upgrader.OnMessage(func(c *websocket.Conn, mt websocket.MessageType, data []byte) {
		st := s.stateOf(c)
		if st == nil || mt != websocket.TextMessage {
			_ = c.Close()
			return
		}
		st.x.wsPacket(c, data)
	})
	s.upgrader.OnClose(func(c *websocket.Conn, _ error) {
		st := s.stateOf(c)
		if st == nil {
			return
		}
		s.conns.Delete(c)
		st.x.mu.Lock()
		mine := st.x.ws == c
		if st.x.probing == c {
			st.x.probing = nil
		}
		st.x.mu.Unlock()
		if mine {
			st.x.close("websocket closed")
		}
	})
}

// wsPacket handles one Engine.IO packet received over WebSocket c.
func (x *session) wsPacket(c *websocket.Conn, p []byte) {
	x.mu.Lock()
	current := x.ws == c
	x.mu.Unlock()
	if current {
		x.packet(p)
		return
	}
	// A polling session's WebSocket before the upgrade: the probe, then
	// the upgrade packet.
	switch {
	case bytes.Equal(p, []byte("2probe")):
		x.mu.Lock()
		x.probing = c
		x.noop = true // The client waits for its poll to end before upgrading.
		x.mu.Unlock()
		x.signal()
		_ = c.WriteMessage(websocket.TextMessage, []byte("3probe"))
	case bytes.Equal(p, []byte("5")):
		x.upgrade(c)
	default:
		_ = c.Close()
	}
}

// upgrade moves x's traffic to c and writes what waited for a poll.
func (x *session) upgrade(c *websocket.Conn) {
	x.mu.Lock()
	if x.closed || x.probing != c || x.ws != nil {
		x.mu.Unlock()
		_ = c.Close()
		return
	}
	x.probing = nil
	x.ws = c
	x.noop = true // A poll still waiting ends with a noop.
	pkts := x.out
	x.out, x.outBytes = nil, 0
	var err error
	for _, p := range pkts {
		if err = c.WriteMessage(websocket.TextMessage, p); err != nil {
			break
		}
	}
	x.mu.Unlock()
	x.signal()
	if err != nil {
		x.close("write failed")
	}
}

// closePoller stops the WebSocket poller.
func closePoller(e *nbhttp.Engine) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("socketio: stop poller: %w", err)
	}
	return nil
}
