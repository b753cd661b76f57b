package danmaku

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ID identifies a danmaku within its video and orders the video's danmaku:
// by playback time (millisecond resolution), then by arrival (the
// acceptance clock in milliseconds, then a per-process sequence), then by
// the node that made it.
//
// Its text form is one decimal number, so that it is also the seed's
// DynamoDB sort key (a Number, up to 38 digits): the playback milliseconds
// followed by 13 digits of Unix milliseconds, 4 digits of sequence and 5
// digits of node. Numeric order of the text equals the order above. The zero
// ID sorts before every other ID and is written "0".
type ID struct {
	PlayMs int64  // Playback time in milliseconds, 0..MaxPlayMs.
	UnixMs int64  // Acceptance time, Unix milliseconds, 13 digits.
	Seq    uint16 // Sequence within UnixMs on one node, 0..9999.
	Node   uint32 // Node discriminator, 0..99999.
}

// Digit widths of the parts of an ID's text after the playback time.
const (
	unixDigits = 13
	seqDigits  = 4
	nodeDigits = 5
	tailDigits = unixDigits + seqDigits + nodeDigits

	maxSeq  = 9999
	maxNode = 99999
)

// IDLen is the length of an ID's binary key form (Bytes).
const IDLen = 22

// FirstAt returns the smallest ID at playback time t: every danmaku at t or
// later has an ID greater than or equal to it.
func FirstAt(t Time) ID { return ID{PlayMs: int64(t)} }

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// Compare returns -1, 0 or +1 as id sorts before, equal to or after o.
func (id ID) Compare(o ID) int {
	switch {
	case id.PlayMs != o.PlayMs:
		return cmp64(id.PlayMs, o.PlayMs)
	case id.UnixMs != o.UnixMs:
		return cmp64(id.UnixMs, o.UnixMs)
	case id.Seq != o.Seq:
		return cmp64(int64(id.Seq), int64(o.Seq))
	default:
		return cmp64(int64(id.Node), int64(o.Node))
	}
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// String returns the decimal form described on ID.
func (id ID) String() string { return string(id.appendDecimal(make([]byte, 0, 10+tailDigits))) }

// ParseID parses the decimal form of an ID. It returns an error for text
// that is not a decimal number of at most 32 digits.
func ParseID(s string) (ID, error) {
	if s == "" || len(s) > 10+tailDigits {
		return ID{}, fmt.Errorf("invalid id %q", truncate(s, 40))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return ID{}, fmt.Errorf("invalid id %q: not a decimal number", truncate(s, 40))
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return ID{}, fmt.Errorf("invalid id %q: leading zero", truncate(s, 40))
	}
	if len(s) < tailDigits {
		s = strings.Repeat("0", tailDigits-len(s)) + s
	}
	head, tail := s[:len(s)-tailDigits], s[len(s)-tailDigits:]
	var id ID
	if head != "" {
		id.PlayMs, _ = strconv.ParseInt(head, 10, 64)
	}
	id.UnixMs, _ = strconv.ParseInt(tail[:unixDigits], 10, 64)
	seq, _ := strconv.ParseUint(tail[unixDigits:unixDigits+seqDigits], 10, 16)
	node, _ := strconv.ParseUint(tail[unixDigits+seqDigits:], 10, 32)
	id.Seq, id.Node = uint16(seq), uint32(node)
	return id, nil
}

// MarshalText writes the decimal form; in JSON an ID is a string.
func (id ID) MarshalText() ([]byte, error) {
	return id.appendDecimal(make([]byte, 0, 10+tailDigits)), nil
}

// AppendText appends the decimal form to b.
func (id ID) AppendText(b []byte) ([]byte, error) { return id.appendDecimal(b), nil }

// UnmarshalText reads the decimal form.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Bytes returns the IDLen-byte big-endian key form of id, whose byte order
// equals ID order.
func (id ID) Bytes() []byte { return id.AppendBytes(make([]byte, 0, IDLen)) }

// AppendBytes appends the key form of id to b.
func (id ID) AppendBytes(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(id.PlayMs))
	b = binary.BigEndian.AppendUint64(b, uint64(id.UnixMs))
	b = binary.BigEndian.AppendUint16(b, id.Seq)
	return binary.BigEndian.AppendUint32(b, id.Node)
}

// IDFromBytes decodes the key form made by Bytes.
func IDFromBytes(b []byte) (ID, error) {
	if len(b) != IDLen {
		return ID{}, fmt.Errorf("id key: want %d bytes, got %d", IDLen, len(b))
	}
	return ID{
		PlayMs: int64(binary.BigEndian.Uint64(b[0:8])),
		UnixMs: int64(binary.BigEndian.Uint64(b[8:16])),
		Seq:    binary.BigEndian.Uint16(b[16:18]),
		Node:   binary.BigEndian.Uint32(b[18:22]),
	}, nil
}

// Successor returns the smallest ID greater than id, so that a listing that
// continues after a cursor can start at cursor.Successor().
func (id ID) Successor() ID {
	n := id
	if n.Node < maxNode {
		n.Node++
		return n
	}
	n.Node = 0
	if n.Seq < maxSeq {
		n.Seq++
		return n
	}
	n.Seq = 0
	if n.UnixMs < 9_999_999_999_999 {
		n.UnixMs++
		return n
	}
	n.UnixMs = 0
	n.PlayMs++
	return n
}

// ArrivalCompare orders IDs by when they were accepted: Unix milliseconds,
// sequence, node, then playback time. It is the order of the per-user index.
func ArrivalCompare(a, b ID) int {
	switch {
	case a.UnixMs != b.UnixMs:
		return cmp64(a.UnixMs, b.UnixMs)
	case a.Seq != b.Seq:
		return cmp64(int64(a.Seq), int64(b.Seq))
	case a.Node != b.Node:
		return cmp64(int64(a.Node), int64(b.Node))
	}
	return cmp64(a.PlayMs, b.PlayMs)
}

// ArrivalBytes returns the IDLen-byte key whose byte order equals
// ArrivalCompare order: Unix milliseconds, sequence, node, playback time.
func (id ID) ArrivalBytes() []byte {
	b := make([]byte, 0, IDLen)
	b = binary.BigEndian.AppendUint64(b, uint64(id.UnixMs))
	b = binary.BigEndian.AppendUint16(b, id.Seq)
	b = binary.BigEndian.AppendUint32(b, id.Node)
	return binary.BigEndian.AppendUint64(b, uint64(id.PlayMs))
}

// IDFromArrivalBytes decodes the key made by ArrivalBytes.
func IDFromArrivalBytes(b []byte) (ID, error) {
	if len(b) != IDLen {
		return ID{}, fmt.Errorf("arrival key: want %d bytes, got %d", IDLen, len(b))
	}
	return ID{
		UnixMs: int64(binary.BigEndian.Uint64(b[0:8])),
		Seq:    binary.BigEndian.Uint16(b[8:10]),
		Node:   binary.BigEndian.Uint32(b[10:14]),
		PlayMs: int64(binary.BigEndian.Uint64(b[14:22])),
	}, nil
}

// IDGen makes IDs that are unique without coordination: unique within the
// process by its clock-and-sequence pair, and across processes by a random
// node number (stores still refuse to overwrite, so a rare cross-node clash
// is caught and retried by the caller). The zero value is not usable; call
// NewIDGen.
type IDGen struct {
	node uint32
	now  func() time.Time

	mu     sync.Mutex
	lastMs int64
	seq    uint16
}

// NewIDGen returns a generator with a random node number. now may be nil for
// time.Now.
func NewIDGen(now func() time.Time) *IDGen {
	var b [4]byte
	_, _ = rand.Read(b[:]) // Since Go 1.24, crypto/rand.Read never returns an error.
	return NewIDGenNode(binary.BigEndian.Uint32(b[:])%(maxNode+1), now)
}

// NewIDGenNode returns a generator with the given node number (0..99999).
func NewIDGenNode(node uint32, now func() time.Time) *IDGen {
	if now == nil {
		now = time.Now
	}
	return &IDGen{node: node % (maxNode + 1), now: now}
}

// Node returns the generator's node number.
func (g *IDGen) Node() uint32 { return g.node }

// Next returns a new ID at playback time t. IDs from one generator never
// repeat: when more than 10,000 are made in one millisecond, or the clock
// steps back, the clock part runs ahead of the wall clock until it catches up.
func (g *IDGen) Next(t Time) ID {
	ms := g.now().UnixMilli()
	g.mu.Lock()
	if ms > g.lastMs {
		g.lastMs, g.seq = ms, 0
	} else if g.seq < maxSeq {
		g.seq++
	} else {
		g.lastMs++
		g.seq = 0
	}
	id := ID{PlayMs: int64(t), UnixMs: g.lastMs, Seq: g.seq, Node: g.node}
	g.mu.Unlock()
	return id
}
