package danmaku

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Color is a 24-bit RGB colour. Its JSON form is "#rrggbb"; it is read from
// a CSS colour name, "#rgb", "#rrggbb", or an integer (Bilibili's and
// DPlayer's decimal RGB), as a number or a string.
type Color uint32

// White is the default danmaku colour.
const White Color = 0xffffff

// Hex returns c as "#rrggbb".
func (c Color) Hex() string {
	var buf [9]byte
	b := c.appendJSON(buf[:0])
	return string(b[1 : len(b)-1])
}

// MarshalJSON writes c as "#rrggbb".
func (c Color) MarshalJSON() ([]byte, error) { return c.appendJSON(make([]byte, 0, 9)), nil }

// UnmarshalJSON reads any form that ParseColor accepts.
func (c *Color) UnmarshalJSON(b []byte) error {
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	v, err := ParseColor(raw)
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// ParseColor converts a JSON number or string into a Color.
func ParseColor(raw any) (Color, error) {
	switch v := raw.(type) {
	case float64:
		if v < 0 || v > 0xffffff || v != math.Trunc(v) {
			return 0, fmt.Errorf("must be an integer from 0 to 16777215")
		}
		return Color(v), nil
	case string:
		return parseColorString(v)
	}
	return 0, fmt.Errorf("must be a colour name, \"#rrggbb\" or an integer")
}

func parseColorString(s string) (Color, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return White, nil
	}
	if c, ok := colorNames[s]; ok {
		return c, nil
	}
	if hex, ok := strings.CutPrefix(s, "#"); ok {
		if len(hex) == 3 {
			hex = string([]byte{hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]})
		}
		if len(hex) == 6 {
			if n, err := strconv.ParseUint(hex, 16, 32); err == nil {
				return Color(n), nil
			}
		}
		return 0, fmt.Errorf("must be \"#rgb\" or \"#rrggbb\"")
	}
	if n, err := strconv.ParseUint(s, 10, 32); err == nil && n <= 0xffffff {
		return Color(n), nil
	}
	return 0, fmt.Errorf("unknown colour %q: use a CSS colour name, \"#rrggbb\" or an integer", truncate(s, 20))
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// colorNames holds the CSS basic colour keywords and a few common extended
// ones that danmaku senders use.
var colorNames = map[string]Color{
	"black": 0x000000, "silver": 0xc0c0c0, "gray": 0x808080, "grey": 0x808080,
	"white": 0xffffff, "maroon": 0x800000, "red": 0xff0000, "purple": 0x800080,
	"fuchsia": 0xff00ff, "magenta": 0xff00ff, "green": 0x008000, "lime": 0x00ff00,
	"olive": 0x808000, "yellow": 0xffff00, "navy": 0x000080, "blue": 0x0000ff,
	"teal": 0x008080, "aqua": 0x00ffff, "cyan": 0x00ffff, "orange": 0xffa500,
	"pink": 0xffc0cb, "gold": 0xffd700, "skyblue": 0x87ceeb, "violet": 0xee82ee,
	"brown": 0xa52a2a, "coral": 0xff7f50, "crimson": 0xdc143c, "indigo": 0x4b0082,
	"lightblue": 0xadd8e6, "lightgreen": 0x90ee90, "orangered": 0xff4500,
	"hotpink": 0xff69b4, "turquoise": 0x40e0d0, "tomato": 0xff6347,
}
