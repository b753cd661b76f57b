// Package bilibili reads and writes Bilibili's danmaku XML, the format that
// most players, converters and archives of danmaku understand:
//
//	<?xml version="1.0" encoding="UTF-8"?><i><chatserver>…</chatserver><chatid>CID</chatid>…
//	<d p="490.19100,1,25,16777215,1584268892,0,a16fe0dd,29950852386521095,11">text</d></i>
//
// Decode streams a file of any size into danmaku; Encoder writes them back
// in the exact form that ArtPlayer's danmuku plugin and danmaku2ass accept.
// The field mapping and the id derivation are described in docs/formats.md.
package bilibili

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	danmaku "github.com/danmakud/danmakud"
)

// Header holds the metadata elements of a file's <i> root. Zero fields are
// written with Bilibili's usual values by Encoder.
type Header struct {
	ChatServer string // <chatserver>, "chat.bilibili.com" in real files.
	ChatID     string // <chatid>, Bilibili's cid of the video.
	Mission    int    // <mission>, 0 in practice.
	MaxLimit   int    // <maxlimit>, the most danmaku a player shows at once.
	State      int    // <state>, 0 when danmaku are open.
	RealName   int    // <real_name>, 0 in practice.
	Source     string // <source>, "k-v" in real files.
}

// Result tells what Decode read.
type Result struct {
	Header Header
	// Decoded counts the <d> elements passed to the callback.
	Decoded int
	// Skipped counts the <d> elements that were not: positioned (mode 7)
	// and code (mode 8) danmaku, unknown modes, malformed p attributes and
	// blank or overlong texts.
	Skipped int
}

// MaxTextRunes is the longest text Decode accepts; longer danmaku are
// skipped. It is generous because old files hold long subtitle-pool lines.
const MaxTextRunes = 1000

// UserPrefix starts the user id of every imported danmaku; the sender hash
// follows it.
const UserPrefix = "bili:"

// Decode reads Bilibili danmaku XML from r as a token stream, so files of any
// size use little memory, and calls fn with each danmaku in file order. The
// danmaku have no ObjectID: the caller sets it. Decode stops at the first
// error from fn and returns it; a file that is not well-formed XML or whose
// root is not <i> returns an error wrapping the position reached.
//
// Characters that XML 1.0 forbids (C0 controls other than tab, newline and
// carriage return) are read as spaces, HTML entities such as &nbsp; are
// understood and unknown ones are kept as text, rather than failing the
// whole file.
func Decode(r io.Reader, fn func(*danmaku.Danmaku) error) (Result, error) {
	var res Result
	dec := xml.NewDecoder(&controlFilter{r: bufio.NewReaderSize(r, 64<<10)})
	// Real files carry stray HTML entities (&nbsp;) and bare ampersands;
	// reading them as text beats refusing a whole archive.
	dec.Strict = false
	dec.Entity = xml.HTMLEntity
	depth := 0
	sawRoot := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if !sawRoot {
				return res, fmt.Errorf("bilibili xml: no <i> root element")
			}
			return res, nil
		}
		if err != nil {
			return res, fmt.Errorf("bilibili xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if t.Name.Local != "i" {
					return res, fmt.Errorf("bilibili xml: root element is <%s>, want <i>", t.Name.Local)
				}
				sawRoot = true
				depth++
				continue
			}
			if err := decodeChild(dec, t, &res, fn); err != nil {
				return res, err
			}
		case xml.EndElement:
			depth--
		}
	}
}

// decodeChild consumes one child element of <i>, including its end tag.
func decodeChild(dec *xml.Decoder, t xml.StartElement, res *Result, fn func(*danmaku.Danmaku) error) error {
	if t.Name.Local != "d" {
		field := headerField(&res.Header, t.Name.Local)
		if field == nil {
			if err := dec.Skip(); err != nil {
				return fmt.Errorf("bilibili xml: <%s>: %w", t.Name.Local, err)
			}
			return nil
		}
		var s string
		if err := dec.DecodeElement(&s, &t); err != nil {
			return fmt.Errorf("bilibili xml: <%s>: %w", t.Name.Local, err)
		}
		field(strings.TrimSpace(s))
		return nil
	}
	var text string
	if err := dec.DecodeElement(&text, &t); err != nil {
		return fmt.Errorf("bilibili xml: <d>: %w", err)
	}
	var p string
	for _, a := range t.Attr {
		if a.Name.Local == "p" {
			p = a.Value
		}
	}
	d, ok := parseD(p, text)
	if !ok {
		res.Skipped++
		return nil
	}
	if err := fn(d); err != nil {
		return err
	}
	res.Decoded++
	return nil
}

// headerField returns a setter for the header element named name, or nil.
func headerField(h *Header, name string) func(string) {
	atoi := func(dst *int) func(string) {
		return func(s string) { *dst, _ = strconv.Atoi(s) }
	}
	switch name {
	case "chatserver":
		return func(s string) { h.ChatServer = s }
	case "chatid":
		return func(s string) { h.ChatID = s }
	case "mission":
		return atoi(&h.Mission)
	case "maxlimit":
		return atoi(&h.MaxLimit)
	case "state":
		return atoi(&h.State)
	case "real_name":
		return atoi(&h.RealName)
	case "source":
		return func(s string) { h.Source = s }
	}
	return nil
}

// parseD maps one <d> element to a danmaku, or reports false when it is to
// be skipped.
func parseD(p, text string) (*danmaku.Danmaku, bool) {
	f := strings.Split(p, ",")
	if len(f) < 8 {
		return nil, false
	}
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	secs, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return nil, false
	}
	playTime, err := danmaku.TimeFromSeconds(secs)
	if err != nil {
		return nil, false
	}
	mode, err := strconv.Atoi(f[1])
	if err != nil {
		return nil, false
	}
	switch mode {
	case 2, 3:
		mode = danmaku.ModeScroll
	case danmaku.ModeScroll, danmaku.ModeBottom, danmaku.ModeTop, danmaku.ModeReverse:
	default:
		// Modes 7 (positioned) and 8 (code) carry JSON or script that no
		// danmakud client renders; showing them as text would be noise.
		return nil, false
	}
	size, err := strconv.ParseFloat(f[2], 64)
	if err != nil {
		return nil, false
	}
	color, err := strconv.ParseUint(f[3], 10, 64)
	if err != nil {
		return nil, false
	}
	sendSecs, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil || sendSecs < 0 || sendSecs > maxSendSecs {
		return nil, false
	}
	pool, err := strconv.Atoi(f[5])
	if err != nil {
		return nil, false
	}
	hash, dmid := f[6], f[7]
	if len(hash) > 64 || !validDMID(dmid) {
		return nil, false
	}
	weight := 0
	if len(f) > 8 && f[8] != "" {
		if weight, err = strconv.Atoi(f[8]); err != nil {
			return nil, false
		}
	}
	text = CleanText(text)
	if strings.TrimSpace(text) == "" || utf8.RuneCountInString(text) > MaxTextRunes {
		return nil, false
	}
	userID := UserPrefix + hash
	if hash == "" || danmaku.ValidateUserID("userId", userID) != nil {
		userID = UserPrefix + "anonymous"
	}
	d := &danmaku.Danmaku{
		UserID: userID,
		Content: danmaku.Content{
			Text:     text,
			Color:    danmaku.Color(color & 0xffffff),
			Size:     clampSize(size),
			Position: mode,
			Time:     playTime,
		},
		CreatedAt: sendSecs * 1000,
		Source:    &danmaku.Source{Pool: pool, Hash: hash, DMID: dmid, Weight: weight},
	}
	d.ID = importID(d, p, text)
	return d, true
}

// maxSendSecs keeps a send time's milliseconds within the 13 digits of an ID.
const maxSendSecs = 9_999_999_999

// validDMID reports whether s is empty or a decimal number that fits an ID
// digest input; Bilibili's dmids are int64.
func validDMID(s string) bool {
	if len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func clampSize(px float64) danmaku.Size {
	switch {
	case px != px || px < danmaku.MinSize: // NaN or too small.
		return danmaku.MinSize
	case px > danmaku.MaxSize:
		return danmaku.MaxSize
	}
	return danmaku.Size(int(px + 0.5))
}

// importID derives the ID of an imported danmaku from the file alone, so that
// importing the same file twice yields the same IDs and the store refuses the
// second copy. PlayMs and UnixMs are the danmaku's playback time and send
// time; Seq and Node (together 10^9 values) come from a 64-bit FNV-1a digest
// of the dmid, or of the whole p attribute and text when the file has no
// dmid. Two different danmaku get the same ID only if they share the playback
// millisecond, the send second and the digest modulo 10^9; see
// docs/formats.md.
func importID(d *danmaku.Danmaku, p, text string) danmaku.ID {
	h := fnv.New64a()
	if dmid := d.Source.DMID; dmid != "" {
		_, _ = io.WriteString(h, "dmid:"+dmid)
	} else {
		_, _ = io.WriteString(h, "p:"+p+"\x00"+text)
	}
	n := h.Sum64() % 1_000_000_000
	return danmaku.ID{
		PlayMs: int64(d.Content.Time),
		UnixMs: d.CreatedAt,
		Seq:    uint16(n / 100_000),
		Node:   uint32(n % 100_000),
	}
}

// CleanText returns s as danmakud keeps and writes danmaku text: tabs, line
// breaks and other white-space controls become spaces, every other control
// character and every character that XML 1.0 forbids is dropped, and invalid
// UTF-8 becomes U+FFFD. Surrounding spaces are kept, as Bilibili keeps them.
func CleanText(s string) string {
	clean := true
	for _, r := range s {
		if !keepRune(r) || r == utf8.RuneError || unicode.IsControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case unicode.IsControl(r) || !keepRune(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// keepRune reports whether r is a character XML 1.0 allows.
func keepRune(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// controlFilter replaces the ASCII control bytes that XML 1.0 forbids with
// spaces. UTF-8 never uses bytes below 0x80 inside a multi-byte character, so
// working on bytes is safe.
type controlFilter struct{ r io.Reader }

func (f *controlFilter) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	for i, c := range p[:n] {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			p[i] = ' '
		}
	}
	return n, err
}
