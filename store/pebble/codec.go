package pebble

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	danmaku "github.com/danmakud/danmakud"
)

// Stored records. A video key already holds the video and the id, so the
// value holds the rest of the danmaku in a compact binary form:
//
//	0x01 (format version)
//	userId, ownerId, text           uvarint length, then the bytes
//	color, size, position, time ms  uvarint each
//	createdAt                       varint (Unix ms)
//	flags                           1 byte: 1 shadow, 2 source follows,
//	                                4 session follows
//	source                          pool uvarint, hash and dmid as strings,
//	                                weight uvarint
//	session                         the live session's id as a string
//
// It is about a quarter of the JSON form, which cuts the bytes that every
// put sends through the write-ahead log, the memtable, flushes and
// compactions, and it decodes without reflection. Records written by
// earlier versions of danmakud are JSON objects (first byte '{') and are
// still read.
const formatBinary byte = 0x01

// Flags of a stored record.
const (
	flagShadow byte = 1 << iota
	flagSource
	flagSession
)

// encode returns the stored form of d. The live-only Count is not stored.
func encode(d *danmaku.Danmaku) []byte {
	c := &d.Content
	b := make([]byte, 0, 32+len(d.UserID)+len(d.OwnerID)+len(c.Text)+len(d.Session))
	b = append(b, formatBinary)
	b = appendString(b, d.UserID)
	b = appendString(b, d.OwnerID)
	b = appendString(b, c.Text)
	b = binary.AppendUvarint(b, uint64(c.Color))
	b = binary.AppendUvarint(b, uint64(c.Size))
	b = binary.AppendUvarint(b, uint64(c.Position))
	b = binary.AppendUvarint(b, uint64(c.Time))
	b = binary.AppendVarint(b, d.CreatedAt)
	var flags byte
	if d.Shadow {
		flags |= flagShadow
	}
	if d.Source != nil {
		flags |= flagSource
	}
	if d.Session != "" {
		flags |= flagSession
	}
	b = append(b, flags)
	if s := d.Source; s != nil {
		b = binary.AppendUvarint(b, uint64(s.Pool))
		b = appendString(b, s.Hash)
		b = appendString(b, s.DMID)
		b = binary.AppendUvarint(b, uint64(s.Weight))
	}
	if d.Session != "" {
		b = appendString(b, d.Session)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// errCorrupt reports a stored record that cannot be decoded.
var errCorrupt = errors.New("corrupt stored danmaku")

// decode reads a stored record of the danmaku objectID/id.
func decode(objectID string, id danmaku.ID, val []byte) (*danmaku.Danmaku, error) {
	if len(val) > 0 && val[0] == '{' {
		d := new(danmaku.Danmaku)
		if err := json.Unmarshal(val, d); err != nil {
			return nil, fmt.Errorf("decode stored danmaku %s: %w", id, err)
		}
		return d, nil
	}
	if len(val) == 0 || val[0] != formatBinary {
		return nil, fmt.Errorf("decode stored danmaku %s: %w: unknown format", id, errCorrupt)
	}
	r := reader{b: val[1:]}
	d := &danmaku.Danmaku{ID: id, ObjectID: objectID}
	c := &d.Content
	d.UserID = r.string()
	d.OwnerID = r.string()
	c.Text = r.string()
	c.Color = danmaku.Color(r.uvarint())
	c.Size = danmaku.Size(r.uvarint())
	c.Position = int(r.uvarint())
	c.Time = danmaku.Time(r.uvarint())
	d.CreatedAt = r.varint()
	flags := r.byte()
	d.Shadow = flags&flagShadow != 0
	if flags&flagSource != 0 {
		d.Source = &danmaku.Source{Pool: int(r.uvarint()), Hash: r.string(), DMID: r.string(), Weight: int(r.uvarint())}
	}
	if flags&flagSession != 0 {
		d.Session = r.string()
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, fmt.Errorf("decode stored danmaku %s: %w", id, errCorrupt)
	}
	return d, nil
}

// reader reads the fields of a stored record; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = errCorrupt, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = errCorrupt, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err, r.b = errCorrupt, nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.err = errCorrupt
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}
