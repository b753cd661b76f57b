package ass

import (
	"math"

	danmaku "github.com/danmakud/danmakud"
)

// kind is how a danmaku moves on screen.
type kind int

const (
	kindScroll  kind = iota // Right to left.
	kindReverse             // Left to right.
	kindTop                 // Fixed, stacked down from the top.
	kindBottom              // Fixed, stacked up from the bottom.
)

func kindOf(position int) kind {
	switch position {
	case danmaku.ModeTop:
		return kindTop
	case danmaku.ModeBottom:
		return kindBottom
	case danmaku.ModeReverse:
		return kindReverse
	}
	return kindScroll
}

// placement is where and when one danmaku is drawn.
type placement struct {
	kind           kind
	startCs, endCs int64 // Centiseconds, the resolution of ASS times.
	y              int   // Top edge (scroll, top) or bottom edge (bottom).
	width          int   // Estimated text width in pixels.
	fontSize       int
}

// mover is the last scrolling danmaku placed in a lane.
type mover struct {
	startMs float64
	width   float64
}

// layout allocates lanes. The screen is cut into horizontal lanes of one
// medium line's height; a larger danmaku takes several adjacent lanes.
// Each kind has its own lanes: a fixed danmaku may cover a scrolling one,
// as in every danmaku player.
type layout struct {
	o       Options
	laneH   int
	durCs   int64 // Scroll duration.
	fixCs   int64 // Fixed duration.
	scroll  []*mover
	reverse []*mover
	top     []int64 // End time of the last danmaku in each lane, in centiseconds.
	bottom  []int64
}

func newLayout(o Options) *layout {
	laneH := lineHeight(o.FontSize)
	n := max(o.Height/laneH, 1)
	return &layout{
		o:       o,
		laneH:   laneH,
		durCs:   max(o.ScrollDuration.Milliseconds()/10, 1),
		fixCs:   max(o.FixedDuration.Milliseconds()/10, 1),
		scroll:  make([]*mover, n),
		reverse: make([]*mover, n),
		top:     make([]int64, n),
		bottom:  make([]int64, n),
	}
}

// lineHeight is the vertical room a line of font size fs needs.
func lineHeight(fs int) int { return int(math.Ceil(float64(fs) * 1.2)) }

// place finds lanes for d, or reports false when every lane is busy.
func (l *layout) place(d *danmaku.Danmaku) (placement, bool) {
	size := int(d.Content.Size)
	if size <= 0 {
		size = danmaku.SizeMedium
	}
	fs := max(int(math.Round(float64(size)*float64(l.o.FontSize)/danmaku.SizeMedium)), 1)
	p := placement{
		kind:     kindOf(d.Content.Position),
		startCs:  max(int64(d.Content.Time), 0) / 10,
		fontSize: fs,
		width:    TextWidth(d.Content.Text, fs),
	}
	span := (lineHeight(fs) + l.laneH - 1) / l.laneH
	switch p.kind {
	case kindScroll, kindReverse:
		lanes := l.scroll
		if p.kind == kindReverse {
			lanes = l.reverse
		}
		m := &mover{startMs: float64(p.startCs * 10), width: float64(p.width)}
		i, ok := firstFree(len(lanes), span, func(i int) bool { return l.movesClear(lanes[i], m) })
		if !ok {
			return p, false
		}
		for j := i; j < i+span; j++ {
			lanes[j] = m
		}
		p.endCs = p.startCs + l.durCs
		p.y = i * l.laneH
	default:
		lanes := l.top
		if p.kind == kindBottom {
			lanes = l.bottom
		}
		i, ok := firstFree(len(lanes), span, func(i int) bool { return lanes[i] <= p.startCs })
		if !ok {
			return p, false
		}
		p.endCs = p.startCs + l.fixCs
		for j := i; j < i+span; j++ {
			lanes[j] = p.endCs
		}
		p.y = i * l.laneH
		if p.kind == kindBottom {
			p.y = l.o.Height - i*l.laneH
		}
	}
	return p, true
}

// firstFree returns the first lane i such that lanes i to i+span-1 are all
// free.
func firstFree(n, span int, free func(int) bool) (int, bool) {
	for i := 0; i+span <= n; i++ {
		ok := true
		for j := i; j < i+span && ok; j++ {
			ok = free(j)
		}
		if ok {
			return i, true
		}
	}
	return 0, false
}

// movesClear reports whether b, entering a lane after a, never touches it.
// Every scrolling danmaku crosses in the same time D, so a wider one moves
// faster: speed v = (W + w) / D. b must not appear before a's tail has fully
// entered (tb ≥ ta + wa/va), and must not catch up with a's tail before a
// has left at the far edge (tb + W/vb ≥ ta + D). Between those two moments
// the gap changes linearly, so checking both ends is enough.
func (l *layout) movesClear(a, b *mover) bool {
	if a == nil {
		return true
	}
	w := float64(l.o.Width)
	d := float64(l.durCs * 10)
	va := (w + a.width) / d
	vb := (w + b.width) / d
	return b.startMs >= a.startMs+a.width/va && b.startMs+w/vb >= a.startMs+d
}
