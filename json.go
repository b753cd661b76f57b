package danmaku

import (
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the JSON form of d to b: byte for byte what
// encoding/json writes for it (the same field order, omissions and string
// escaping, HTML characters included), without reflection. Every send is
// encoded at least twice (the stored value and the answer) and every live
// batch once, so this is on the hot path.
func (d *Danmaku) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":"`...)
	b = d.ID.appendDecimal(b)
	b = append(b, `","objectId":`...)
	b = appendJSONString(b, d.ObjectID)
	b = append(b, `,"userId":`...)
	b = appendJSONString(b, d.UserID)
	b = append(b, `,"ownerId":`...)
	b = appendJSONString(b, d.OwnerID)
	b = append(b, `,"content":`...)
	b = d.Content.appendJSON(b)
	b = append(b, `,"createdAt":`...)
	b = strconv.AppendInt(b, d.CreatedAt, 10)
	if d.Shadow {
		b = append(b, `,"shadow":true`...)
	}
	if d.Source != nil {
		b = append(b, `,"source":`...)
		b = d.Source.appendJSON(b)
	}
	if d.Session != "" {
		b = append(b, `,"session":`...)
		b = appendJSONString(b, d.Session)
	}
	if d.Count != 0 {
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, int64(d.Count), 10)
	}
	return append(b, '}')
}

// MarshalJSON returns d.AppendJSON(nil).
func (d Danmaku) MarshalJSON() ([]byte, error) { return d.AppendJSON(make([]byte, 0, 256)), nil }

func (c *Content) appendJSON(b []byte) []byte {
	b = append(b, `{"text":`...)
	b = appendJSONString(b, c.Text)
	b = append(b, `,"color":`...)
	b = c.Color.appendJSON(b)
	b = append(b, `,"size":"`...)
	b = strconv.AppendInt(b, int64(c.Size), 10)
	b = append(b, `px","position":`...)
	b = strconv.AppendInt(b, int64(c.Position), 10)
	b = append(b, `,"time":`...)
	b = c.Time.appendJSON(b)
	return append(b, '}')
}

func (s *Source) appendJSON(b []byte) []byte {
	b = append(b, '{')
	n := len(b)
	comma := func(b []byte) []byte {
		if len(b) > n {
			return append(b, ',')
		}
		return b
	}
	if s.Pool != 0 {
		b = append(b, `"pool":`...)
		b = strconv.AppendInt(b, int64(s.Pool), 10)
	}
	if s.Hash != "" {
		b = append(comma(b), `"hash":`...)
		b = appendJSONString(b, s.Hash)
	}
	if s.DMID != "" {
		b = append(comma(b), `"dmid":`...)
		b = appendJSONString(b, s.DMID)
	}
	if s.Weight != 0 {
		b = append(comma(b), `"weight":`...)
		b = strconv.AppendInt(b, int64(s.Weight), 10)
	}
	return append(b, '}')
}

// appendJSON writes c as "#rrggbb".
func (c Color) appendJSON(b []byte) []byte {
	const digits = "0123456789abcdef"
	v := uint32(c) & 0xffffff
	b = append(b, '"', '#')
	for shift := 20; shift >= 0; shift -= 4 {
		b = append(b, digits[(v>>shift)&0xf])
	}
	return append(b, '"')
}

// appendJSON writes t as seconds with at most three decimals.
func (t Time) appendJSON(b []byte) []byte {
	return strconv.AppendFloat(b, t.Seconds(), 'f', -1, 64)
}

// appendDecimal appends the decimal form described on ID.
func (id ID) appendDecimal(b []byte) []byte {
	if id.PlayMs == 0 {
		// Without a playback part the number starts at the first non-zero
		// digit of the tail.
		var tail [tailDigits]byte
		t := id.appendTail(tail[:0])
		for i, c := range t {
			if c != '0' {
				return append(b, t[i:]...)
			}
		}
		return append(b, '0')
	}
	b = strconv.AppendInt(b, id.PlayMs, 10)
	return id.appendTail(b)
}

// appendTail appends the fixed-width part after the playback time: Unix
// milliseconds, sequence and node, zero-padded.
func (id ID) appendTail(b []byte) []byte {
	b = appendPadded(b, uint64(id.UnixMs), unixDigits)
	b = appendPadded(b, uint64(id.Seq), seqDigits)
	return appendPadded(b, uint64(id.Node), nodeDigits)
}

// appendPadded appends v in decimal, left-padded with zeros to width
// digits (v must fit).
func appendPadded(b []byte, v uint64, width int) []byte {
	n := len(b)
	for i := 0; i < width; i++ {
		b = append(b, '0')
	}
	for i := len(b) - 1; i >= n && v > 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it by default: quotes, backslashes, control characters, the HTML
// characters <, > and &, U+2028 and U+2029, and invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it; the live package's compact batch encoder uses it.
func AppendJSONString(b []byte, s string) []byte { return appendJSONString(b, s) }
