package live

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// sseWriteTimeout bounds one write to an SSE client.
const sseWriteTimeout = 10 * time.Second

// sseSink hands frames to the goroutine that serves one SSE request.
type sseSink struct {
	mu      sync.Mutex
	bufs    [][]byte
	pending atomic.Int64
	wake    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newSSESink() *sseSink {
	return &sseSink{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (s *sseSink) write(bufs [][]byte) error {
	var n int64
	for _, b := range bufs {
		n += int64(len(b))
	}
	s.push(n, bufs...)
	return nil
}

func (s *sseSink) writeOne(b []byte) error {
	s.push(int64(len(b)), b)
	return nil
}

// push queues bufs, n bytes in all, for the connection's goroutine and
// wakes it.
func (s *sseSink) push(n int64, bufs ...[]byte) {
	s.mu.Lock()
	s.bufs = append(s.bufs, bufs...)
	s.mu.Unlock()
	s.pending.Add(n)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *sseSink) backlog() int64 { return s.pending.Load() }

func (s *sseSink) close(int, string) { s.once.Do(func() { close(s.done) }) }

// take returns the frames waiting to be written.
func (s *sseSink) take() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bufs
	s.bufs = nil
	return b
}

// ServeSSE serves GET /danmu/stream/{objectId} as Server-Sent Events: the
// same welcome and batches as the WebSocket, as "welcome", "batch",
// "delete" and "dropped" events. The welcome's and batches' ids are
// "<epoch>:<seq>", so that a client that reconnects with Last-Event-ID
// resumes after the last it received. Each SSE client holds one goroutine.
func (h *Hub) ServeSSE(w http.ResponseWriter, r *http.Request) {
	j, err := h.readJoin(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	objectID, actor, rs, compact := j.objectID, j.actor, j.resume, j.compact
	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte("retry: 2000\n\n")); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}

	s := newSSESink()
	v := &viewer{sink: s, sse: true, actor: actor, compact: compact}
	if !h.joinRoom(objectID, v, rs) {
		return
	}
	defer func() {
		v.close(CloseGoingAway, "")
		v.room.leave(v)
	}()
	for {
		select {
		case <-s.done:
			return
		case <-r.Context().Done():
			return
		case <-s.wake:
		}
		for _, b := range s.take() {
			_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
			if _, err := w.Write(b); err != nil {
				return
			}
			s.pending.Add(-int64(len(b)))
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if s.pending.Load() == 0 && v.waiting.Load() {
			v.drained()
		}
	}
}
