package live

import (
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

// maxQueuedFrames bounds the frames of one WebSocket connection that the
// poller has parsed and whose handlers have not run yet. A client that
// sends frames faster than they are handled, typically pings whose pongs
// it never reads, would otherwise make that queue, and the server's
// memory, grow with its flood.
const maxQueuedFrames = 128

// maxFloodWait is how long the poller stops reading for one connection
// whose queue is full before it gives up on it and closes it.
const maxFloodWait = time.Second

// flooded is called by the poller before it parses data from c. When c
// has maxQueuedFrames frames waiting for their handlers, it stops reading
// (the poller waits, so the client's frames stay in the kernel buffers and
// TCP pushes back) until half of them have run; a connection whose queue
// does not drain within maxFloodWait is closed with ClosePolicy, and
// flooded reports true.
func flooded(c *nbio.Conn) bool {
	if c.ExecuteLen() < maxQueuedFrames {
		return false
	}
	deadline := time.Now().Add(maxFloodWait)
	for c.ExecuteLen() >= maxQueuedFrames/2 {
		if time.Now().After(deadline) {
			c.Execute(func() { closeFlooded(c) })
			return true
		}
		time.Sleep(100 * time.Microsecond)
	}
	return false
}

// closeFlooded closes c with ClosePolicy, through its viewer when it has one.
func closeFlooded(c *nbio.Conn) {
	const reason = "too many messages waiting"
	if wsc, ok := c.Session().(*websocket.Conn); ok {
		if s, ok := wsc.Session().(*wsSink); ok {
			s.v.close(ClosePolicy, reason)
			return
		}
	}
	endConn(c, closeFrame(ClosePolicy, reason))
}
