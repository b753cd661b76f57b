package live

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
	"sync"

	danmaku "github.com/danmakud/danmakud"
)

// message is one server message encoded once and shared by every viewer
// that receives it: the JSON payload, the same payload framed as one
// WebSocket text frame, and as one Server-Sent Event.
type message struct {
	seq     uint64             // Batch sequence number; 0 for other messages.
	n       int                // Danmaku items carried (folded items count once).
	at      int64              // A batch's tick time, Unix milliseconds.
	items   []*danmaku.Danmaku // A batch's items, kept for deletes.
	payload []byte             // JSON.
	ws      []byte             // WebSocket frame: header + payload.
	sse     []byte             // "id: …\nevent: …\ndata: …\n\n".
	eventID string             // The SSE id; empty for messages without one.

	shapes shapes // The batch in the compact shape (compact.go).

	zOnce sync.Once
	wsz   []byte // The frame compressed with permessage-deflate, made once.
}

// DeflateLevel is the compress/flate level of permessage-deflate frames.
// A batch is compressed once per tick whatever the audience, so the
// best compression costs nothing per viewer and saves bytes on every
// delivery.
const DeflateLevel = flate.BestCompression

// minDeflate is the smallest payload worth compressing.
const minDeflate = 512

// deflated returns m as one permessage-deflate frame (RFC 7692, no
// context takeover), compressed on first use and shared by every viewer
// that negotiated compression; nil if m is too small to be worth it.
func (m *message) deflated() []byte {
	if len(m.payload) < minDeflate {
		return nil
	}
	m.zOnce.Do(func() {
		var b bytes.Buffer
		w, err := flate.NewWriter(&b, DeflateLevel)
		if err != nil {
			return
		}
		if _, err := w.Write(m.payload); err != nil {
			return
		}
		if err := w.Flush(); err != nil {
			return
		}
		z, ok := bytes.CutSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
		if !ok {
			return
		}
		f := wsFrame(opText, z)
		f[0] |= 0x40 // RSV1: compressed.
		m.wsz = f
	})
	return m.wsz
}

// newMessage frames payload for both transports. event names the SSE
// event; seq, when non-zero, becomes its id with the room's history
// epoch, as "<epoch>:<seq>" (see eventID).
func newMessage(event, epoch string, seq uint64, n int, payload []byte) *message {
	id := ""
	if seq > 0 {
		id = eventID(epoch, seq)
	}
	return &message{seq: seq, n: n, payload: payload, ws: wsFrame(opText, payload), sse: sseEvent(event, id, payload), eventID: id}
}

// eventID is the SSE id of a batch: what a client needs to resume after
// it, sent back as Last-Event-ID.
func eventID(epoch string, seq uint64) string {
	return epoch + ":" + strconv.FormatUint(seq, 10)
}

// WebSocket opcodes used by the server.
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// wsFrame returns an unmasked, final server frame carrying payload.
func wsFrame(op byte, payload []byte) []byte {
	n := len(payload)
	var b []byte
	switch {
	case n < 126:
		b = make([]byte, 2, 2+n)
		b[1] = byte(n)
	case n <= 0xFFFF:
		b = make([]byte, 4, 4+n)
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	default:
		b = make([]byte, 10, 10+n)
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
	}
	b[0] = 0x80 | op
	return append(b, payload...)
}

// closeFrame returns a close frame with code and reason.
func closeFrame(code int, reason string) []byte {
	p := binary.BigEndian.AppendUint16(nil, uint16(code))
	return wsFrame(opClose, append(p, reason...))
}

// sseEvent formats one Server-Sent Event; an empty id is left out. The
// payload is JSON from encoding/json, which never holds a raw newline.
func sseEvent(event, id string, payload []byte) []byte {
	b := make([]byte, 0, len(payload)+len(id)+48)
	if id != "" {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	b = append(b, "event: "...)
	b = append(b, event...)
	b = append(b, "\ndata: "...)
	b = append(b, payload...)
	return append(b, "\n\n"...)
}

// batchJSON is the wire form of a batch.
type batchJSON struct {
	Type  string             `json:"type"`
	Seq   uint64             `json:"seq"`
	At    int64              `json:"at"`
	Items []*danmaku.Danmaku `json:"items"`
}

// encodeBatch encodes one tick's items of a room whose history epoch is
// epoch.
//
// The payload is what encoding/json writes for batchJSON, made with
// Danmaku.AppendJSON directly: encoding/json would call it per item and
// then copy and re-validate every item's bytes.
func encodeBatch(epoch string, seq uint64, atMs int64, items []*danmaku.Danmaku) (*message, error) {
	p := make([]byte, 0, 64+256*len(items))
	p = append(p, `{"type":"batch","seq":`...)
	p = strconv.AppendUint(p, seq, 10)
	p = append(p, `,"at":`...)
	p = strconv.AppendInt(p, atMs, 10)
	if items == nil {
		p = append(p, `,"items":null}`...)
	} else {
		p = append(p, `,"items":[`...)
		for i, d := range items {
			if i > 0 {
				p = append(p, ',')
			}
			p = d.AppendJSON(p)
		}
		p = append(p, "]}"...)
	}
	m := newMessage("batch", epoch, seq, len(items), p)
	m.at, m.items = atMs, items
	return m, nil
}

// roomState is the room part of a welcome message.
type roomState struct {
	ObjectID   string `json:"objectId"`
	TickMs     int64  `json:"tickMs"`
	MaxPerTick int    `json:"maxPerTick"`
	Viewers    int    `json:"viewers"`
	Seq        uint64 `json:"seq"` // Last batch sent; the next is seq+1.
	// Epoch names the room's history: seq values from another epoch are
	// not comparable (see docs/protocol.md, "Resume").
	Epoch string   `json:"epoch"`
	Live  *Session `json:"live"`
}

// encodeWelcome builds a joiner's welcome: the room state, whether the
// batches are exactly those after the client's since (recovered), and the
// batches, whose payloads are embedded as they are. Its SSE id is the
// room's epoch and seq, so that a client that reconnects resumes after it.
//
// A viewer of the compact shape gets the batches in that shape.
func encodeWelcome(st roomState, recovered bool, recent []*message, compact bool) (*message, error) {
	if compact {
		shaped := make([]*message, len(recent))
		for i, m := range recent {
			shaped[i] = m.compactOf()
		}
		recent = shaped
	}
	head, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	size := len(head) + 64
	for _, m := range recent {
		size += len(m.payload) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, `{"type":"welcome","room":`...)
	b = append(b, head...)
	b = append(b, `,"recovered":`...)
	b = strconv.AppendBool(b, recovered)
	b = append(b, `,"batches":[`...)
	for i, m := range recent {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m.payload...)
	}
	b = append(b, "]}"...)
	return &message{payload: b, ws: wsFrame(opText, b), sse: sseEvent("welcome", eventID(st.Epoch, st.Seq), b)}, nil
}

// control encodes a small message that is not a batch.
func control(event string, v any) *message {
	p, err := json.Marshal(v)
	if err != nil {
		// Only fixed struct types reach here; they always encode.
		p = []byte(`{"type":"error","code":"internal","message":"internal error"}`)
	}
	return newMessage(event, "", 0, 0, p)
}

// droppedJSON tells a slow viewer how many batches it missed.
type droppedJSON struct {
	Type  string `json:"type"`
	Count int    `json:"count"`
	Next  uint64 `json:"next"` // The seq of the next batch it will receive.
}

// deleteJSON withdraws danmaku from every screen.
type deleteJSON struct {
	Type string       `json:"type"`
	IDs  []danmaku.ID `json:"ids"`
}

// liveJSON announces that a live session started (Live set) or ended (nil).
type liveJSON struct {
	Type string   `json:"type"`
	Live *Session `json:"live"`
}

// ackJSON acknowledges a danmaku sent over WebSocket.
type ackJSON struct {
	Type    string           `json:"type"`
	Ref     string           `json:"ref,omitempty"`
	ID      danmaku.ID       `json:"id"`
	Danmaku *danmaku.Danmaku `json:"danmaku"`
}

// errorJSON reports a failed client request.
type errorJSON struct {
	Type       string `json:"type"`
	Ref        string `json:"ref,omitempty"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	Field      string `json:"field,omitempty"`
	RetryAfter int64  `json:"retryAfter,omitempty"` // Milliseconds.
}

// errorMessage converts err into an error message for ref.
func errorMessage(ref string, err error) *message {
	e := errorJSON{Type: "error", Ref: ref, Code: danmaku.ErrorCode(err), Message: danmaku.ErrorMessage(err)}
	var de *danmaku.Error
	if errors.As(err, &de) {
		e.Field = de.Field
	}
	if ra := danmaku.ErrorRetryAfter(err); ra > 0 {
		e.RetryAfter = max(ra.Milliseconds(), 1)
	}
	return control("error", e)
}
