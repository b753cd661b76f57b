package bilibili

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"io"
	"iter"
	"math"
	"strconv"
	"strings"

	danmaku "github.com/danmakud/danmakud"
)

// Declaration starts every file Encoder writes. The root element follows it
// with no newline: danmaku2ass recognises the format only that way.
const Declaration = `<?xml version="1.0" encoding="UTF-8"?>`

// Defaults that Encoder writes for zero Header fields.
const (
	DefaultChatServer = "chat.bilibili.com" // Some tools sniff for it.
	DefaultMaxLimit   = 8000                // Bilibili's cap for long videos.
	DefaultSource     = "k-v"
)

// NativeWeight is the weight written for danmaku that were not imported:
// the highest Bilibili weight, so that players which hide low-weight
// danmaku never hide danmakud's own, which moderation has already passed.
const NativeWeight = 11

// Encoder writes one Bilibili XML document. The header is written before
// the first danmaku (or by Close when there are none). The zero value is not
// usable; call NewEncoder.
type Encoder struct {
	w       *bufio.Writer
	h       Header
	started bool
	closed  bool
	buf     []byte
}

// NewEncoder returns an Encoder that writes to w with header h.
func NewEncoder(w io.Writer, h Header) *Encoder {
	return &Encoder{w: bufio.NewWriterSize(w, 32<<10), h: h}
}

// Encode writes one <d> element for d. Errors come from the underlying
// writer, or from calling Encode after Close.
func (e *Encoder) Encode(d *danmaku.Danmaku) error {
	if e.closed {
		return errors.New("bilibili xml: encode after close")
	}
	if !e.started {
		e.writeHeader()
	}
	e.buf = AppendD(e.buf[:0], d)
	if _, err := e.w.Write(e.buf); err != nil {
		return fmt.Errorf("bilibili xml: write: %w", err)
	}
	return nil
}

// Close writes the end of the document and flushes it. It does not close
// the underlying writer.
func (e *Encoder) Close() error {
	if e.closed {
		return nil
	}
	if !e.started {
		e.writeHeader()
	}
	e.closed = true
	_, _ = e.w.WriteString("</i>")
	if err := e.w.Flush(); err != nil {
		return fmt.Errorf("bilibili xml: write: %w", err)
	}
	return nil
}

func (e *Encoder) writeHeader() {
	e.started = true
	h := e.h
	if h.ChatServer == "" {
		h.ChatServer = DefaultChatServer
	}
	if h.MaxLimit <= 0 {
		h.MaxLimit = DefaultMaxLimit
	}
	if h.Source == "" {
		h.Source = DefaultSource
	}
	b := e.buf[:0]
	b = append(b, Declaration+"<i><chatserver>"...)
	b = appendEscaped(b, CleanText(h.ChatServer))
	b = append(b, "</chatserver><chatid>"...)
	b = appendEscaped(b, CleanText(h.ChatID))
	b = append(b, "</chatid><mission>"...)
	b = strconv.AppendInt(b, int64(h.Mission), 10)
	b = append(b, "</mission><maxlimit>"...)
	b = strconv.AppendInt(b, int64(h.MaxLimit), 10)
	b = append(b, "</maxlimit><state>"...)
	b = strconv.AppendInt(b, int64(h.State), 10)
	b = append(b, "</state><real_name>"...)
	b = strconv.AppendInt(b, int64(h.RealName), 10)
	b = append(b, "</real_name><source>"...)
	b = appendEscaped(b, CleanText(h.Source))
	b = append(b, "</source>"...)
	_, _ = e.w.Write(b) // A bufio.Writer's error is sticky; Encode and Close report it.
	e.buf = b
}

// Encode writes a whole document holding items, with chatid chatID and
// maxlimit the number of items (at least 1).
func Encode(w io.Writer, chatID string, items []*danmaku.Danmaku) error {
	enc := NewEncoder(w, Header{ChatID: chatID, MaxLimit: max(len(items), 1)})
	for _, d := range items {
		if err := enc.Encode(d); err != nil {
			return err
		}
	}
	return enc.Close()
}

// Export writes items, in the order they come (ID order for a video, which
// service.ReadAll gives with the rule of who may see what applied), as one
// document with header h, encoding each as it arrives so that memory does
// not grow with the video. It stops at the first error items yields.
func Export(w io.Writer, items iter.Seq2[*danmaku.Danmaku, error], h Header) error {
	enc := NewEncoder(w, h)
	for d, err := range items {
		if err != nil {
			return fmt.Errorf("bilibili export: %w", err)
		}
		if err := enc.Encode(d); err != nil {
			return err
		}
	}
	return enc.Close()
}

// AppendD appends the <d> element for d to b:
// <d p="time,mode,size,color,sendtime,pool,hash,dmid,weight">text</d>.
func AppendD(b []byte, d *danmaku.Danmaku) []byte {
	c := d.Content
	b = append(b, `<d p="`...)
	b = appendTime(b, int64(c.Time))
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(exportMode(c.Position)), 10)
	b = append(b, ',')
	size := int64(c.Size)
	if size <= 0 {
		size = danmaku.SizeMedium
	}
	b = strconv.AppendInt(b, size, 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(c.Color)&0xffffff, 10)
	b = append(b, ',')
	created := d.CreatedAt
	if created <= 0 {
		created = d.ID.UnixMs
	}
	b = strconv.AppendInt(b, max(created, 0)/1000, 10)
	b = append(b, ',')
	pool, hash, dmid, weight := sourceFields(d)
	b = strconv.AppendInt(b, int64(pool), 10)
	b = append(b, ',')
	b = appendEscaped(b, CleanText(hash))
	b = append(b, ',')
	b = append(b, dmid...)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(weight), 10)
	b = append(b, `">`...)
	b = appendEscaped(b, CleanText(c.Text))
	return append(b, "</d>"...)
}

// appendTime writes milliseconds as seconds with five decimals, as Bilibili
// does, without going through floating point.
func appendTime(b []byte, ms int64) []byte {
	ms = max(ms, 0)
	b = strconv.AppendInt(b, ms/1000, 10)
	frac := ms % 1000
	b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10), '0', '0')
	return b
}

// exportMode maps a stored position to a Bilibili mode: every scrolling
// variant becomes 1, unknown positions too.
func exportMode(p int) int {
	switch p {
	case danmaku.ModeBottom, danmaku.ModeTop, danmaku.ModeReverse:
		return p
	}
	return danmaku.ModeScroll
}

// sourceFields returns the pool, sender hash, dmid and weight to write for
// d: the imported values when d came from Bilibili XML, otherwise pool 0, the
// CRC-32 of the user id in hex (as Bilibili hashes its user ids),
// DMIDFromID of the ID, and NativeWeight.
func sourceFields(d *danmaku.Danmaku) (pool int, hash, dmid string, weight int) {
	weight = NativeWeight
	if s := d.Source; s != nil {
		pool, weight = s.Pool, s.Weight
		if s.Hash != "" && !strings.Contains(s.Hash, ",") {
			hash = s.Hash
		}
		if s.DMID != "" && validDMID(s.DMID) {
			dmid = s.DMID
		}
	}
	if hash == "" {
		hash = strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(d.UserID))), 16)
	}
	if dmid == "" {
		dmid = DMIDFromID(d.ID)
	}
	return pool, hash, dmid, weight
}

// DMIDFromID returns the dmid written for a danmaku that was not imported:
// the decimal form of a 63-bit FNV-1a digest of the ID's key bytes. A
// danmakud ID has up to 32 digits and does not fit Bilibili's int64 dmid;
// the digest does, stays positive in every int64 parser, and collides with
// probability about n²/2⁶⁴ for n danmaku. It cannot be turned back into the
// ID: re-importing such an export gives new IDs, derived from this dmid as
// for any Bilibili file, and the same ones every time.
func DMIDFromID(id danmaku.ID) string {
	h := fnv.New64a()
	_, _ = h.Write(id.Bytes())
	return strconv.FormatUint(h.Sum64()&math.MaxInt64, 10)
}

// appendEscaped appends s with exactly the five XML entities escaped, which
// is all that ArtPlayer's parser unescapes.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '"':
			b = append(b, "&quot;"...)
		case '\'':
			b = append(b, "&apos;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}
