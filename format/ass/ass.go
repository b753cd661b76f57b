// Package ass writes danmaku as an Advanced SubStation Alpha (ASS v4+)
// script, so that they can be burned into a video or shown by players such
// as mpv: scrolling danmaku move across the picture with \move, top and
// bottom danmaku stay put with \pos, and a lane allocator keeps them from
// overlapping one another.
package ass

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"iter"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	danmaku "github.com/danmakud/danmakud"
	"golang.org/x/text/width"
)

// Options shape the script. Zero fields take the defaults below.
type Options struct {
	Width, Height  int           // Play resolution; default 1920×1080.
	FontName       string        // Default "sans-serif"; commas are removed.
	FontSize       int           // Pixels for a 25 px (medium) danmaku; default Height/25.
	ScrollDuration time.Duration // Time a scrolling danmaku takes to cross; default 8 s.
	FixedDuration  time.Duration // Time a top or bottom danmaku stays; default 4 s.
}

// Stats tells what Encode wrote.
type Stats struct {
	Written int // Dialogue lines written.
	// Dropped counts danmaku for which no lane was free: like a player, the
	// script leaves them out rather than drawing them over others.
	Dropped int
}

func (o Options) withDefaults() Options {
	if o.Width <= 0 {
		o.Width = 1920
	}
	if o.Height <= 0 {
		o.Height = 1080
	}
	o.FontName = strings.TrimSpace(strings.NewReplacer(",", "", "\n", "", "\r", "").Replace(o.FontName))
	if o.FontName == "" {
		o.FontName = "sans-serif"
	}
	if o.FontSize <= 0 {
		o.FontSize = max(o.Height/25, 8)
	}
	if o.ScrollDuration <= 0 {
		o.ScrollDuration = 8 * time.Second
	}
	if o.FixedDuration <= 0 {
		o.FixedDuration = 4 * time.Second
	}
	return o
}

// StyleName is the one style the script defines.
const StyleName = "Danmaku"

// Encode writes items as an ASS script to w, in playback order, and reports
// how many were written and dropped. items is not modified. Errors come only
// from w.
func Encode(w io.Writer, items []*danmaku.Danmaku, opts Options) (Stats, error) {
	sorted := slices.Clone(items)
	slices.SortStableFunc(sorted, func(a, b *danmaku.Danmaku) int {
		return cmp.Or(cmp.Compare(a.Content.Time, b.Content.Time), a.ID.Compare(b.ID))
	})
	e := newEncoder(w, opts)
	for _, d := range sorted {
		e.add(d)
	}
	return e.finish()
}

// Export writes items, which must come in playback order, as an ASS
// script, laying them out as they arrive so that memory does not grow with
// the video (service.ReadAll gives a video's danmaku in that order, with the
// rule of who may see what applied). It stops at the first error items
// yields; other errors come only from w.
func Export(w io.Writer, items iter.Seq2[*danmaku.Danmaku, error], opts Options) (Stats, error) {
	e := newEncoder(w, opts)
	for d, err := range items {
		if err != nil {
			return e.st, fmt.Errorf("ass export: %w", err)
		}
		e.add(d)
	}
	return e.finish()
}

// encoder lays out and writes danmaku given in playback order.
type encoder struct {
	o   Options
	bw  *bufio.Writer
	l   *layout
	st  Stats
	buf []byte
}

func newEncoder(w io.Writer, opts Options) *encoder {
	o := opts.withDefaults()
	e := &encoder{o: o, bw: bufio.NewWriterSize(w, 32<<10), l: newLayout(o)}
	writeHeader(e.bw, o)
	return e
}

// add places d, or counts it as dropped when no lane is free. Blank texts
// are ignored.
func (e *encoder) add(d *danmaku.Danmaku) {
	text := Escape(d.Content.Text)
	if text == "" {
		return
	}
	p, ok := e.l.place(d)
	if !ok {
		e.st.Dropped++
		return
	}
	e.buf = appendDialogue(e.buf[:0], e.o, d, p, text)
	_, _ = e.bw.Write(e.buf) // bufio keeps the first error for Flush.
	e.st.Written++
}

func (e *encoder) finish() (Stats, error) {
	if err := e.bw.Flush(); err != nil {
		return e.st, fmt.Errorf("ass: write: %w", err)
	}
	return e.st, nil
}

func writeHeader(w *bufio.Writer, o Options) {
	fmt.Fprintf(w, "[Script Info]\n"+
		"; Danmaku exported by danmakud\n"+
		"ScriptType: v4.00+\n"+
		"PlayResX: %d\n"+
		"PlayResY: %d\n"+
		"WrapStyle: 2\n"+
		"ScaledBorderAndShadow: yes\n"+
		"YCbCr Matrix: None\n\n", o.Width, o.Height)
	outline := max(1, o.FontSize/20)
	fmt.Fprintf(w, "[V4+ Styles]\n"+
		"Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "+
		"Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "+
		"Alignment, MarginL, MarginR, MarginV, Encoding\n"+
		"Style: %s,%s,%d,&H33FFFFFF,&H33FFFFFF,&H33000000,&H33000000,1,0,0,0,100,100,0,0,1,%d,0,7,0,0,0,1\n\n",
		StyleName, o.FontName, o.FontSize, outline)
	_, _ = w.WriteString("[Events]\n" +
		"Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n")
}

// appendDialogue appends one Dialogue line.
func appendDialogue(b []byte, o Options, d *danmaku.Danmaku, p placement, text string) []byte {
	layer := 0
	if p.kind != kindScroll && p.kind != kindReverse {
		layer = 1
	}
	b = append(b, "Dialogue: "...)
	b = strconv.AppendInt(b, int64(layer), 10)
	b = append(b, ',')
	b = appendTime(b, p.startCs)
	b = append(b, ',')
	b = appendTime(b, p.endCs)
	b = append(b, ","+StyleName+",,0,0,0,,{"...)
	switch p.kind {
	case kindScroll:
		b = fmt.Appendf(b, `\an7\move(%d,%d,%d,%d)`, o.Width, p.y, -p.width, p.y)
	case kindReverse:
		b = fmt.Appendf(b, `\an7\move(%d,%d,%d,%d)`, -p.width, p.y, o.Width, p.y)
	case kindTop:
		b = fmt.Appendf(b, `\an8\pos(%d,%d)`, o.Width/2, p.y)
	case kindBottom:
		b = fmt.Appendf(b, `\an2\pos(%d,%d)`, o.Width/2, p.y)
	}
	if p.fontSize != o.FontSize {
		b = fmt.Appendf(b, `\fs%d`, p.fontSize)
	}
	c := uint32(d.Content.Color) & 0xffffff
	if c != 0xffffff {
		b = fmt.Appendf(b, `\c&H%02X%02X%02X&`, c&0xff, c>>8&0xff, c>>16)
	}
	if luma(c) < 0x30 {
		b = append(b, `\3c&HFFFFFF&`...) // A dark danmaku gets a light outline.
	}
	b = append(b, '}')
	b = append(b, text...)
	return append(b, '\n')
}

// luma approximates the perceived brightness of an RGB colour, 0 to 255.
func luma(c uint32) uint32 {
	r, g, b := c>>16, c>>8&0xff, c&0xff
	return (r*299 + g*587 + b*114) / 1000
}

// appendTime writes centiseconds as H:MM:SS.cc.
func appendTime(b []byte, cs int64) []byte {
	h := cs / 360000
	m := cs / 6000 % 60
	s := cs / 100 % 60
	return fmt.Appendf(b, "%d:%02d:%02d.%02d", h, m, s, cs%100)
}

// Escape returns text as literal ASS dialogue text: a backslash is followed
// by a zero-width space so that it cannot start \N, \h or another escape,
// braces become \{ and \} so that they cannot open an override block, line
// breaks become \N, and other control characters are dropped. Surrounding
// white space is removed first.
func Escape(text string) string {
	text = strings.TrimSpace(text)
	var b strings.Builder
	b.Grow(len(text) + 8)
	for _, r := range text {
		switch {
		case r == '\\':
			b.WriteString("\\\u200b")
		case r == '{':
			b.WriteString(`\{`)
		case r == '}':
			b.WriteString(`\}`)
		case r == '\n':
			b.WriteString(`\N`)
		case r == '\r':
		case r == '\t':
			b.WriteByte(' ')
		case unicode.IsControl(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TextWidth estimates the rendered width in pixels of text at font size fs:
// a full em for East Asian wide and fullwidth characters, 0.6 em for the
// rest. Lanes are allocated with this estimate.
func TextWidth(text string, fs int) int {
	var w float64
	for _, r := range text {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			w += 1
		default:
			w += 0.6
		}
	}
	return int(math.Ceil(w * float64(fs)))
}
