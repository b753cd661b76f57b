package ass_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/format/ass"
	"github.com/danmakud/danmakud/format/bilibili"
	"github.com/danmakud/danmakud/service"
	"github.com/danmakud/danmakud/store/pebble"
)

func dm(ms int64, pos int, text string, color danmaku.Color, size danmaku.Size) *danmaku.Danmaku {
	return &danmaku.Danmaku{
		ID:      danmaku.ID{PlayMs: ms, UnixMs: 1_700_000_000_000 + ms},
		Content: danmaku.Content{Text: text, Color: color, Size: size, Position: pos, Time: danmaku.Time(ms)},
	}
}

// dialogue is one parsed Dialogue line.
type dialogue struct {
	layer, start, end int // Times in centiseconds.
	style, text       string
	tags              string
}

var timeRE = regexp.MustCompile(`^(\d+):(\d\d):(\d\d)\.(\d\d)$`)

func parseTime(t *testing.T, s string) int {
	t.Helper()
	m := timeRE.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("bad ASS time %q", s)
	}
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	se, _ := strconv.Atoi(m[3])
	cs, _ := strconv.Atoi(m[4])
	return ((h*60+mi)*60+se)*100 + cs
}

// parseScript checks the section order and returns the style's font size
// and the dialogue lines.
func parseScript(t *testing.T, script string) (int, []dialogue) {
	t.Helper()
	iInfo := strings.Index(script, "[Script Info]\n")
	iStyles := strings.Index(script, "\n[V4+ Styles]\n")
	iEvents := strings.Index(script, "\n[Events]\n")
	if iInfo != 0 || iStyles < 0 || iEvents < iStyles {
		t.Fatalf("sections missing or out of order:\n%s", script)
	}
	fontSize := 0
	var out []dialogue
	for _, line := range strings.Split(script, "\n") {
		if rest, ok := strings.CutPrefix(line, "Style: "); ok {
			f := strings.Split(rest, ",")
			if len(f) != 23 {
				t.Fatalf("style has %d fields: %s", len(f), line)
			}
			fontSize, _ = strconv.Atoi(f[2])
		}
		rest, ok := strings.CutPrefix(line, "Dialogue: ")
		if !ok {
			continue
		}
		f := strings.SplitN(rest, ",", 10)
		if len(f) != 10 {
			t.Fatalf("dialogue has %d fields: %s", len(f), line)
		}
		layer, _ := strconv.Atoi(f[0])
		d := dialogue{layer: layer, start: parseTime(t, f[1]), end: parseTime(t, f[2]), style: f[3]}
		if !strings.HasPrefix(f[9], "{") || !strings.Contains(f[9], "}") {
			t.Fatalf("dialogue without override block: %s", line)
		}
		end := strings.Index(f[9], "}")
		d.tags, d.text = f[9][1:end], f[9][end+1:]
		out = append(out, d)
	}
	return fontSize, out
}

func encode(t *testing.T, items []*danmaku.Danmaku, o ass.Options) (string, ass.Stats) {
	t.Helper()
	var b bytes.Buffer
	st, err := ass.Encode(&b, items, o)
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), st
}

func TestStructure(t *testing.T) {
	items := []*danmaku.Danmaku{
		dm(3723450, danmaku.ModeBottom, "bottom", 0x000000, 25),
		dm(1500, danmaku.ModeScroll, "红色 red", 0xff0000, 25),
		dm(2000, danmaku.ModeTop, "top", 0x123456, 36),
		dm(2500, danmaku.ModeReverse, "rev", danmaku.White, 25),
	}
	o := ass.Options{Width: 1280, Height: 720, FontName: "Noto, Sans", FontSize: 30,
		ScrollDuration: 6 * time.Second, FixedDuration: 3 * time.Second}
	script, st := encode(t, items, o)
	if st.Written != 4 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	for _, want := range []string{"ScriptType: v4.00+\n", "PlayResX: 1280\n", "PlayResY: 720\n",
		"Style: Danmaku,Noto Sans,30,", "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	fs, lines := parseScript(t, script)
	if fs != 30 || len(lines) != 4 {
		t.Fatalf("font size %d, %d lines", fs, len(lines))
	}
	scrollW := ass.TextWidth("红色 red", 30)
	want := []dialogue{
		{0, 150, 750, "Danmaku", "红色 red", fmt.Sprintf(`\an7\move(1280,0,%d,0)\c&H0000FF&`, -scrollW)},
		{1, 200, 500, "Danmaku", "top", `\an8\pos(640,0)\fs43\c&H563412&\3c&HFFFFFF&`},
		{0, 250, 850, "Danmaku", "rev", fmt.Sprintf(`\an7\move(%d,0,1280,0)`, -ass.TextWidth("rev", 30))},
		{1, 372345, 372645, "Danmaku", "bottom", `\an2\pos(640,720)\c&H000000&\3c&HFFFFFF&`},
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d\n got  %+v\n want %+v", i, lines[i], w)
		}
	}
	if !strings.Contains(script, "Dialogue: 1,1:02:03.45,1:02:06.45,") {
		t.Errorf("hour-long time not written as 1:02:03.45")
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain 文字", "plain 文字"},
		{`{\b1}bold`, "\\{\\\u200bb1\\}bold"},
		{`a\Nb\hc`, "a\\\u200bNb\\\u200bhc"},
		{"two\nlines\r\n", `two\Nlines`},
		{"tab\there\x00\x1b", "tab here"},
		{"  spaced  ", "spaced"},
	}
	for _, tt := range tests {
		if got := ass.Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}

	script, _ := encode(t, []*danmaku.Danmaku{dm(0, 1, "{\\pos(0,0)}x\ny", 0xffffff, 25)}, ass.Options{})
	_, lines := parseScript(t, script)
	if len(lines) != 1 || strings.ContainsAny(lines[0].text, "{}\n") && !strings.Contains(lines[0].text, `\{`) {
		t.Fatalf("text %q can open an override block", lines[0].text)
	}
	if strings.Count(script, "Dialogue:") != 1 {
		t.Fatalf("a newline in text broke the line:\n%s", script)
	}
}

var moveRE = regexp.MustCompile(`\\move\((-?\d+),(-?\d+),(-?\d+),(-?\d+)\)`)
var posRE = regexp.MustCompile(`\\an([28])\\pos\((-?\d+),(-?\d+)\)`)
var fsRE = regexp.MustCompile(`\\fs(\d+)`)

// mover is a parsed scrolling line: left edge x(t) = x1 + (x2-x1)(t-start)/(end-start).
type mover struct {
	start, end      float64
	x1, x2, y, w, h float64
}

func (m mover) x(t float64) float64 { return m.x1 + (m.x2-m.x1)*(t-m.start)/(m.end-m.start) }

// TestNoOverlap lays out random danmaku and checks, from the script alone,
// that no two scrolling danmaku whose lines share pixels ever touch and
// that no two fixed danmaku share pixels at the same time.
func TestNoOverlap(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := 50 + rng.IntN(400)
		var items []*danmaku.Danmaku
		modes := []int{danmaku.ModeScroll, danmaku.ModeScroll, danmaku.ModeScroll, 2, danmaku.ModeReverse, danmaku.ModeTop, danmaku.ModeBottom}
		sizes := []danmaku.Size{18, 25, 25, 25, 36, 64}
		for range n {
			text := strings.Repeat("弹", rng.IntN(12)) + strings.Repeat("ab", rng.IntN(20)) + "x"
			items = append(items, dm(rng.Int64N(60_000), modes[rng.IntN(len(modes))], text, danmaku.White, sizes[rng.IntN(len(sizes))]))
		}
		o := ass.Options{Width: 800 + rng.IntN(1200), Height: 300 + rng.IntN(800), FontSize: 20 + rng.IntN(30),
			ScrollDuration: time.Duration(3+rng.IntN(8)) * time.Second, FixedDuration: time.Duration(1+rng.IntN(5)) * time.Second}
		script, st := encode(t, items, o)
		if st.Written+st.Dropped != n || st.Written == 0 {
			t.Fatalf("seed %d: stats %+v for %d", seed, st, n)
		}
		baseFS, lines := parseScript(t, script)
		if len(lines) != st.Written {
			t.Fatalf("seed %d: %d lines, stats %+v", seed, len(lines), st)
		}
		var movers [2][]mover // Right-to-left and left-to-right.
		var fixed []dialogue
		for _, l := range lines {
			fs := float64(baseFS)
			if m := fsRE.FindStringSubmatch(l.tags); m != nil {
				fs, _ = strconv.ParseFloat(m[1], 64)
			}
			if m := moveRE.FindStringSubmatch(l.tags); m != nil {
				v := make([]float64, 4)
				for i := range v {
					v[i], _ = strconv.ParseFloat(m[i+1], 64)
				}
				if v[1] != v[3] {
					t.Fatalf("seed %d: diagonal move %s", seed, l.tags)
				}
				mv := mover{start: float64(l.start), end: float64(l.end), x1: v[0], x2: v[2], y: v[1], h: fs}
				dir := 0
				if v[0] < v[2] {
					dir = 1
					mv.w = -v[0]
				} else {
					mv.w = -v[2]
				}
				movers[dir] = append(movers[dir], mv)
				continue
			}
			if !posRE.MatchString(l.tags) {
				t.Fatalf("seed %d: neither \\move nor \\an8/\\an2 \\pos: %s", seed, l.tags)
			}
			fixed = append(fixed, l)
		}
		for dir, ms := range movers {
			for i := range ms {
				for j := i + 1; j < len(ms); j++ {
					a, b := ms[i], ms[j] // b starts no earlier than a.
					if a.y+a.h <= b.y || b.y+b.h <= a.y {
						continue
					}
					lo, hi := max(a.start, b.start), min(a.end, b.end)
					if lo >= hi {
						continue
					}
					for _, tt := range []float64{lo, hi} {
						var gap float64
						if dir == 0 { // b is to the right of a's tail.
							gap = b.x(tt) - (a.x(tt) + a.w)
						} else { // b is to the left of a's tail.
							gap = a.x(tt) - (b.x(tt) + b.w)
						}
						if gap < -1e-6 {
							t.Fatalf("seed %d: scrolling lines collide at %.0f cs (gap %.2f px):\n%+v\n%+v", seed, tt, gap, a, b)
						}
					}
				}
			}
		}
		for i := range fixed {
			for j := i + 1; j < len(fixed); j++ {
				a, b := fixed[i], fixed[j]
				if a.start >= b.end || b.start >= a.end {
					continue
				}
				ma, mb := posRE.FindStringSubmatch(a.tags), posRE.FindStringSubmatch(b.tags)
				if ma[1] != mb[1] {
					continue // One top, one bottom: separate stacks.
				}
				ya, _ := strconv.Atoi(ma[3])
				yb, _ := strconv.Atoi(mb[3])
				ha, hb := lineFS(a, baseFS), lineFS(b, baseFS)
				if ma[1] == "2" { // Bottom-anchored: the text is above y.
					ya, yb = ya-ha, yb-hb
				}
				if ya < yb+hb && yb < ya+ha {
					t.Fatalf("seed %d: fixed lines overlap:\n%+v\n%+v", seed, a, b)
				}
			}
		}
	}
}

func lineFS(d dialogue, base int) int {
	if m := fsRE.FindStringSubmatch(d.tags); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return base
}

func TestDropsWhenFull(t *testing.T) {
	var items []*danmaku.Danmaku
	for i := range 100 {
		items = append(items, dm(1000, danmaku.ModeTop, fmt.Sprint("top ", i), danmaku.White, 25))
	}
	_, st := encode(t, items, ass.Options{Width: 640, Height: 100, FontSize: 20})
	if st.Written != 4 || st.Dropped != 96 { // 100 px of 24 px lanes.
		t.Fatalf("stats %+v, want 4 written and 96 dropped", st)
	}
}

// TestExportSample lays out a real Bilibili file read from a real store
// through the service, as the public export does, and checks that the
// streaming export equals Encode of the same danmaku, the shadowed one left
// out.
func TestExportSample(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "testdata", "bilibili-sample-2022.xml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var items []*danmaku.Danmaku
	if _, err := bilibili.Decode(f, func(d *danmaku.Danmaku) error {
		d.ObjectID = "bv"
		items = append(items, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st, err := pebble.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	shadow := *items[0]
	shadow.ID.Node++
	shadow.Shadow = true
	ctx := context.Background()
	if n, err := st.PutBatch(ctx, append(slices.Clone(items), &shadow)); err != nil || n != len(items)+1 {
		t.Fatalf("PutBatch stored %d: %v", n, err)
	}

	var exported bytes.Buffer
	svc := service.New(service.Config{}, st, service.Options{})
	est, err := ass.Export(&exported, svc.ReadAll(ctx, danmaku.Actor{}, "bv"), ass.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, wst := encode(t, items, ass.Options{})
	if est != wst || exported.String() != want {
		t.Fatalf("Export (%+v) differs from Encode (%+v)", est, wst)
	}
	t.Logf("%d danmaku: %+v", len(items), est)
	if est.Written+est.Dropped != len(items) || est.Written < len(items)*9/10 {
		t.Fatalf("stats %+v for %d danmaku", est, len(items))
	}
}

func BenchmarkEncode(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	items := make([]*danmaku.Danmaku, 10000)
	for i := range items {
		items[i] = dm(rng.Int64N(600_000), danmaku.ModeScroll, strings.Repeat("弹幕", 1+rng.IntN(8)), danmaku.White, 25)
	}
	for b.Loop() {
		if _, err := ass.Encode(io.Discard, items, ass.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
