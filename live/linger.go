package live

import "time"

// slowCloseLinger bounds how long the connection of a viewer closed with
// CloseTooSlow stays open so that the bytes it had waiting, then the close
// frame, can still reach it.
const slowCloseLinger = 5 * time.Second

// closeAfterBacklog writes frame behind what s has waiting and ends the
// connection once all of it reached the kernel, or after slowCloseLinger.
// Ending it at once would discard the waiting bytes, the close frame with
// them: the poller drops a connection's unwritten buffers when it closes,
// so a viewer dropped for being slow would never learn why.
func (s *wsSink) closeAfterBacklog(frame []byte) {
	s.queued.Add(int64(len(frame)))
	if _, err := s.conn.Write(frame); err != nil || s.backlog() == 0 {
		endConn(s.conn, nil)
		return
	}
	go func() {
		deadline := time.Now().Add(slowCloseLinger)
		for s.backlog() > 0 && !isClosed(s.conn) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		endConn(s.conn, nil)
	}()
}
