package live

import (
	"bytes"
	"encoding/json"

	danmaku "github.com/danmakud/danmakud"
)

// Batch is one tick's batch as a Listen callback sees it.
type Batch struct {
	Seq uint64 // The batch's sequence number in its room.
	At  int64  // The tick's time, Unix milliseconds.
	// Items are the danmaku the tick's fair cap kept, each as the JSON the
	// API returns for it.
	Items []json.RawMessage
}

// Listen registers f as a listener of objectID's room: f sees each batch
// as it goes out to the room's viewers, after the same fold and fair cap,
// in seq order. It is called from the room's fan-out and must return
// quickly without blocking. A listener counts as one viewer of its room
// (it keeps the room open); it does not see the welcome's recent batches,
// deletes or pings. stop removes it and may be called more than once. Listen
// returns the errors a joining viewer would get: EINVALID for a bad
// objectID, EUNAVAILABLE when the hub is closed or full.
func (h *Hub) Listen(objectID string, f func(Batch)) (stop func(), err error) {
	if err := danmaku.ValidateObjectID(objectID); err != nil {
		return nil, err
	}
	if _, err := h.room(objectID); err != nil {
		return nil, err
	}
	v := &viewer{sink: &listenSink{f: f}, sse: true}
	if !h.joinRoom(objectID, v, nil) {
		return nil, danmaku.Errorf(danmaku.EUNAVAILABLE, "the live service is shutting down")
	}
	return func() {
		v.close(CloseGoingAway, "")
		v.mu.Lock()
		r := v.room
		v.mu.Unlock()
		if r != nil {
			r.leave(v)
		}
	}, nil
}

// listenSink turns the Server-Sent Events a viewer is written into calls
// of a Listen callback: it never holds anything back, so the viewer never
// has a backlog.
type listenSink struct {
	f func(Batch)
}

// batchEvent starts the SSE form of a batch (see sseEvent).
var batchEvent = []byte("\nevent: batch\ndata: ")

func (s *listenSink) write(bufs [][]byte) error {
	for _, b := range bufs {
		_, p, ok := bytes.Cut(b, batchEvent)
		if !ok {
			continue // The welcome, a delete, a ping.
		}
		var m struct {
			Seq   uint64            `json:"seq"`
			At    int64             `json:"at"`
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(bytes.TrimSuffix(p, []byte("\n\n")), &m); err != nil {
			return err
		}
		s.f(Batch{Seq: m.Seq, At: m.At, Items: m.Items})
	}
	return nil
}

func (s *listenSink) writeOne(b []byte) error { return s.write([][]byte{b}) }

func (s *listenSink) backlog() int64 { return 0 }

func (s *listenSink) close(int, string) {}
