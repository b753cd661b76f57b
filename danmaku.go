// Package danmaku holds the domain types of danmakud, a bullet-comment
// (弹幕) service: the danmaku itself, its id scheme (id.go), the errors
// every layer speaks, the small interfaces (Store, Broker) that the
// storage and fan-out packages implement, and All, the one loop that reads
// a whole video from a Store.
//
// Two pieces of wire code live here too, on purpose. The JSON encoder
// (json.go) is Danmaku's MarshalJSON and AppendJSON: a method set must be
// declared with its type, and MarshalJSON is what makes every
// encoding/json user (stores, the API, the live fan-out) write the same
// bytes without reflection. The send parser's fast path (sendparse.go)
// fills the same unexported request that ParseSend's encoding/json
// fallback fills and validates, so that both paths share one set of rules
// and FuzzParseFast can check one against the other. Moving either out
// would mean exporting those internals or copying the rules.
package danmaku

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Mode values, as in Bilibili's danmaku XML and the seed's content.position.
const (
	ModeScroll  = 1 // Scrolls right to left (Bilibili also uses 2 and 3).
	ModeBottom  = 4 // Fixed at the bottom.
	ModeTop     = 5 // Fixed at the top.
	ModeReverse = 6 // Scrolls left to right.
)

// Font sizes that Bilibili uses; any size from MinSize to MaxSize is accepted.
const (
	SizeSmall  = 18
	SizeMedium = 25
	SizeLarge  = 36
	MinSize    = 12
	MaxSize    = 64
)

// MaxPlayMs is the largest playback time accepted, in milliseconds: about
// 115 days, which keeps a playback time within ten decimal digits of an ID.
const MaxPlayMs = 9_999_999_999

// Danmaku is one bullet comment on one video or live room. Its JSON form is
// the seed's: {"id","objectId","userId","ownerId","content","createdAt"},
// with the id as a string so that JavaScript clients keep every digit.
type Danmaku struct {
	ID        ID      `json:"id"`
	ObjectID  string  `json:"objectId"`
	UserID    string  `json:"userId"`
	OwnerID   string  `json:"ownerId"`
	Content   Content `json:"content"`
	CreatedAt int64   `json:"createdAt"` // Unix milliseconds at acceptance.
	// Shadow marks a danmaku that was stored and acknowledged but is shown
	// only to its author and to moderators.
	Shadow bool `json:"shadow,omitempty"`
	// Source keeps the fields of an imported danmaku (Bilibili XML) that
	// danmakud does not use itself but gives back on export; nil otherwise.
	Source *Source `json:"source,omitempty"`
	// Session is the id of the live session the danmaku was sent in
	// (SessionID), empty for a danmaku sent outside any session.
	Session string `json:"session,omitempty"`
	// Count is how many identical danmaku a live batch folded into this
	// one; zero or one means a single danmaku. It is never stored.
	Count int `json:"count,omitempty"`
}

// Source holds fields of an imported danmaku that only exports use.
type Source struct {
	Pool   int    `json:"pool,omitempty"`   // Bilibili pool: 0 normal, 1 subtitle, 2 special.
	Hash   string `json:"hash,omitempty"`   // Bilibili's sender hash.
	DMID   string `json:"dmid,omitempty"`   // Bilibili's danmaku id (an int64, kept as text).
	Weight int    `json:"weight,omitempty"` // Bilibili's weight (0–11), absent in old files.
}

// Content is what a viewer sees: the seed's content object.
type Content struct {
	Text     string `json:"text"`
	Color    Color  `json:"color"`
	Size     Size   `json:"size"`
	Position int    `json:"position"` // One of the Mode constants.
	Time     Time   `json:"time"`     // Playback time.
}

// Time is a playback time in whole milliseconds. Its JSON form is seconds,
// as in the seed ("time":14 or "time":14.25).
type Time int64

// Seconds returns t in seconds.
func (t Time) Seconds() float64 { return float64(t) / 1000 }

// TimeFromSeconds converts seconds to a Time, rounding to the millisecond. It
// returns an error for values that are not finite, negative or too large.
func TimeFromSeconds(s float64) (Time, error) {
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return 0, fmt.Errorf("must be a finite number of seconds")
	}
	if s < 0 {
		return 0, fmt.Errorf("must not be negative")
	}
	ms := math.Round(s * 1000)
	if ms > MaxPlayMs {
		return 0, fmt.Errorf("must be at most %d seconds", MaxPlayMs/1000)
	}
	return Time(ms), nil
}

// MarshalJSON writes t as seconds with at most three decimals.
func (t Time) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, t.Seconds(), 'f', -1, 64), nil
}

// UnmarshalJSON reads seconds, as a number or a numeric string.
func (t *Time) UnmarshalJSON(b []byte) error {
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	var s float64
	switch v := raw.(type) {
	case float64:
		s = v
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return fmt.Errorf("must be a number of seconds")
		}
		s = f
	default:
		return fmt.Errorf("must be a number of seconds")
	}
	v, err := TimeFromSeconds(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Size is a font size in CSS pixels. Its JSON form is the seed's "40px".
type Size int

// MarshalJSON writes s as "NNpx".
func (s Size) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.Itoa(int(s)) + `px"`), nil
}

// UnmarshalJSON accepts a number, "NN", "NNpx", or small, medium and large.
func (s *Size) UnmarshalJSON(b []byte) error {
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	v, err := ParseSize(raw)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSize converts a JSON number or string into a Size within MinSize and
// MaxSize.
func ParseSize(raw any) (Size, error) {
	var n float64
	switch v := raw.(type) {
	case float64:
		n = v
	case string:
		str := strings.ToLower(strings.TrimSpace(v))
		switch str {
		case "small":
			return SizeSmall, nil
		case "medium", "normal":
			return SizeMedium, nil
		case "large", "big":
			return SizeLarge, nil
		}
		f, err := strconv.ParseFloat(strings.TrimSuffix(str, "px"), 64)
		if err != nil {
			return 0, fmt.Errorf("must be a pixel size such as 25 or \"25px\"")
		}
		n = f
	default:
		return 0, fmt.Errorf("must be a pixel size such as 25 or \"25px\"")
	}
	if math.IsNaN(n) || n < MinSize || n > MaxSize {
		return 0, fmt.Errorf("must be between %d and %d pixels", MinSize, MaxSize)
	}
	return Size(math.Round(n)), nil
}

// ValidMode reports whether m is a mode that danmakud renders.
func ValidMode(m int) bool {
	return m == ModeScroll || m == 2 || m == 3 || m == ModeBottom || m == ModeTop || m == ModeReverse
}
