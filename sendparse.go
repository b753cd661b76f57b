package danmaku

import "strconv"

// parseFast decodes body, which must be valid UTF-8, into r when body has the plain shape that clients
// send: one object holding only the seed's fields, each at most once, with
// strings that have no escapes and values that are strings or numbers. It
// reports false for anything else, and then r must be discarded and the
// body decoded with encoding/json, which also words the errors. For every
// body it accepts it fills r exactly as encoding/json would (FuzzParseFast
// checks this), several times faster and without reflection.
func (r *rawSend) parseFast(body []byte) bool {
	p := jsonParser{b: body}
	var content rawContent
	hasContent := false
	top := []field{{"objectId", &r.ObjectID}, {"userId", &r.UserID}, {"ownerId", &r.OwnerID}}
	inner := []field{{"text", &content.Text}, {"color", &content.Color}, {"size", &content.Size},
		{"position", &content.Position}, {"time", &content.Time}}
	ok := p.scalarObject(top, func(key string) bool {
		if key != "content" || hasContent {
			return false
		}
		hasContent = true
		return p.scalarObject(inner, nil)
	})
	if !ok || !p.end() {
		return false
	}
	if hasContent {
		r.Content = &content
	}
	return true
}

// field is a member of an object that parseFast reads, and where its value
// goes.
type field struct {
	name string
	dst  *any
}

// jsonParser reads the subset of JSON that parseFast accepts.
type jsonParser struct {
	b []byte
	i int
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// consume skips white space and then c, reporting whether c was there.
func (p *jsonParser) consume(c byte) bool {
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (p *jsonParser) end() bool {
	p.skipSpace()
	return p.i == len(p.b)
}

// object reads an object, calling member for each key with the parser
// positioned at the value, which member must read.
func (p *jsonParser) object(member func(key string) bool) bool {
	if !p.consume('{') {
		return false
	}
	if p.consume('}') {
		return true
	}
	for {
		p.skipSpace()
		key, ok := p.string()
		if !ok || !p.consume(':') || !member(key) {
			return false
		}
		if p.consume(',') {
			continue
		}
		return p.consume('}')
	}
}

// scalarObject reads an object whose members are fields, each a string or
// a number given at most once; a member with another key goes to other,
// which reads its value (nil refuses every other key).
func (p *jsonParser) scalarObject(fields []field, other func(key string) bool) bool {
	var seen uint32
	return p.object(func(key string) bool {
		for i, f := range fields {
			if f.name != key {
				continue
			}
			if seen&(1<<i) != 0 {
				return false
			}
			seen |= 1 << i
			return p.scalar(f.dst)
		}
		return other != nil && other(key)
	})
}

// scalar reads a string or a number into dst, as encoding/json reads them
// into an interface value.
func (p *jsonParser) scalar(dst *any) bool {
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == '"' {
		s, ok := p.string()
		*dst = s
		return ok
	}
	f, ok := p.number()
	*dst = f
	return ok
}

// string reads a string without escapes or control characters.
func (p *jsonParser) string() (string, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	start := p.i + 1
	for j := start; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			p.i = j + 1
			return string(p.b[start:j]), true
		case c == '\\' || c < 0x20:
			return "", false
		}
	}
	return "", false
}

// number reads a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? that fits a float64.
func (p *jsonParser) number() (float64, bool) {
	b, start, i := p.b, p.i, p.i
	digits := func() bool {
		n := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(b[start:i]), 64)
	if err != nil {
		return 0, false
	}
	p.i = i
	return f, true
}
