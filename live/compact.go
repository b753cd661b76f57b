package live

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/auth"
)

// This file holds the compact batch shape (protocol version 2, see
// docs/protocol.md, "Batch shapes"): a batch without what the room
// already knows. Its items leave out the objectId, empty user and owner
// ids and default content (white, 25px, scrolling, playback time 0), give
// createdAt relative to the batch's at, and give the id by its parts
// rather than as a 22-to-32-digit string when the parts rebuild it. They
// name a signed-in sender (u), so that a player can block that user's
// danmaku, but not an anonymous one: an anonymous id is 27 random
// characters, more than the rest of a compressed item, and it is only a
// browser's pseudonym (a client knows its own danmaku by the ids its sends
// were given). Clients that need every sender (moderation tools) use
// version 1 or the HTTP API.

// Protocol versions a viewer may ask for with ?v= on /danmu/ws and
// /danmu/stream.
const (
	ProtocolFull    = 1 // Batches carry items in the seed's shape.
	ProtocolCompact = 2 // Batches carry compact items.
)

// shapes holds the compact form of a batch message, made on first use,
// so that a room encodes it only when a viewer wants it.
type shapes struct {
	once    sync.Once
	compact *message
}

// compactOf returns m in the compact shape: m itself when m is not a
// batch or its items are not known (a remote payload that did not
// decode), which a version-2 client also reads.
func (m *message) compactOf() *message {
	if m.seq == 0 || m.items == nil {
		return m
	}
	m.shapes.once.Do(func() {
		p := appendCompactBatch(make([]byte, 0, 64+48*len(m.items)), m.seq, m.at, m.items)
		c := newMessage("batch", "", 0, m.n, p)
		c.seq, c.at, c.items = m.seq, m.at, m.items
		c.sse = sseEvent("batch", m.eventID, p)
		c.eventID = m.eventID
		c.shapes.once.Do(func() { c.shapes.compact = c })
		m.shapes.compact = c
	})
	return m.shapes.compact
}

// parseVersion reads the protocol version a viewer asks for with ?v=
// and reports whether it is the compact one; no v is version 1.
func parseVersion(r *http.Request) (compact bool, err error) {
	switch r.URL.Query().Get("v") {
	case "", "1":
		return false, nil
	case "2":
		return true, nil
	}
	return false, danmaku.FieldError("v", "must be 1 (batches in the seed's shape, the default) or 2 (compact batches)")
}

// EncodeCompactBatch returns the JSON of one batch in the compact shape.
func EncodeCompactBatch(seq uint64, atMs int64, items []*danmaku.Danmaku) []byte {
	return appendCompactBatch(nil, seq, atMs, items)
}

// appendCompactBatch appends the compact form of a batch to b:
//
//	{"type":"batch","v":2,"seq":…,"at":…,"node":…,"items":[…]}
//
// where node is the id node of the first item whose id is given by its
// parts, and each item is an object with
//
//	t   the text (always)
//	d   createdAt minus the batch's at, milliseconds (always)
//	ms  the playback time in milliseconds (content.time × 1000), if not 0
//	k   the id's acceptance milliseconds minus createdAt, if not 0
//	q   the id's sequence number, if not 0
//	n   the id's node, if not the batch's node
//	id  the whole id as a string, instead of k, q and n, when its
//	    playback part is not ms
//	u   userId, if the sender is signed in (not anonymous)
//	o   ownerId, if not empty
//	se  the live session's id, if the danmaku was sent during one
//	c   color "#rrggbb", if not white; s size, if not 25; p position, if
//	    not 1 (scrolling)
//	x   count, for folded items
//	src source, for imported items
func appendCompactBatch(b []byte, seq uint64, atMs int64, items []*danmaku.Danmaku) []byte {
	var node uint32
	haveNode := false
	for _, d := range items {
		if partsID(d) {
			node, haveNode = d.ID.Node, true
			break
		}
	}
	b = append(b, `{"type":"batch","v":2,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"at":`...)
	b = strconv.AppendInt(b, atMs, 10)
	if haveNode {
		b = append(b, `,"node":`...)
		b = strconv.AppendUint(b, uint64(node), 10)
	}
	b = append(b, `,"items":[`...)
	for i, d := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCompactItem(b, d, atMs, node)
	}
	return append(b, "]}"...)
}

// partsID reports whether d's id can be given by its parts: its playback
// part is the content's time.
func partsID(d *danmaku.Danmaku) bool { return d.ID.PlayMs == int64(d.Content.Time) && !d.ID.IsZero() }

func appendCompactItem(b []byte, d *danmaku.Danmaku, atMs int64, node uint32) []byte {
	b = append(b, `{"t":`...)
	b = danmaku.AppendJSONString(b, d.Content.Text)
	b = append(b, `,"d":`...)
	b = strconv.AppendInt(b, d.CreatedAt-atMs, 10)
	if d.Content.Time != 0 {
		b = append(b, `,"ms":`...)
		b = strconv.AppendInt(b, int64(d.Content.Time), 10)
	}
	if partsID(d) {
		if k := d.ID.UnixMs - d.CreatedAt; k != 0 {
			b = append(b, `,"k":`...)
			b = strconv.AppendInt(b, k, 10)
		}
		if d.ID.Seq != 0 {
			b = append(b, `,"q":`...)
			b = strconv.AppendUint(b, uint64(d.ID.Seq), 10)
		}
		if d.ID.Node != node {
			b = append(b, `,"n":`...)
			b = strconv.AppendUint(b, uint64(d.ID.Node), 10)
		}
	} else {
		b = append(b, `,"id":"`...)
		b = append(b, d.ID.String()...)
		b = append(b, '"')
	}
	if d.UserID != "" && !strings.HasPrefix(d.UserID, auth.AnonymousPrefix) {
		b = append(b, `,"u":`...)
		b = danmaku.AppendJSONString(b, d.UserID)
	}
	if d.OwnerID != "" {
		b = append(b, `,"o":`...)
		b = danmaku.AppendJSONString(b, d.OwnerID)
	}
	if d.Session != "" {
		b = append(b, `,"se":`...)
		b = danmaku.AppendJSONString(b, d.Session)
	}
	if v := uint32(d.Content.Color) & 0xffffff; v != uint32(danmaku.White) {
		b = append(b, `,"c":"#`...)
		const digits = "0123456789abcdef"
		for shift := 20; shift >= 0; shift -= 4 {
			b = append(b, digits[(v>>shift)&0xf])
		}
		b = append(b, '"')
	}
	if d.Content.Size != danmaku.SizeMedium {
		b = append(b, `,"s":`...)
		b = strconv.AppendInt(b, int64(d.Content.Size), 10)
	}
	if d.Content.Position != danmaku.ModeScroll {
		b = append(b, `,"p":`...)
		b = strconv.AppendInt(b, int64(d.Content.Position), 10)
	}
	if d.Count > 1 {
		b = append(b, `,"x":`...)
		b = strconv.AppendInt(b, int64(d.Count), 10)
	}
	if d.Source != nil {
		if src, err := json.Marshal(d.Source); err == nil {
			b = append(b, `,"src":`...)
			b = append(b, src...)
		}
	}
	return append(b, '}')
}
