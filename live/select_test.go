package live

import (
	"errors"
	"strings"
	"testing"

	danmaku "github.com/danmakud/danmakud"
)

// items builds pending danmaku from "user:text" or "!user:text" (priority)
// specs, in arrival order.
func items(specs ...string) []pendingItem {
	g := danmaku.NewIDGenNode(1, nil)
	var out []pendingItem
	for _, s := range specs {
		prio := strings.HasPrefix(s, "!")
		user, text, _ := strings.Cut(strings.TrimPrefix(s, "!"), ":")
		d := &danmaku.Danmaku{ID: g.Next(0), UserID: user, Content: danmaku.Content{Text: text}}
		out = append(out, pendingItem{d: d, priority: prio})
	}
	return out
}

func TestChoose(t *testing.T) {
	tests := []struct {
		name         string
		in           []pendingItem
		max          int
		want         string
		folded       int
		droppedByCap int
	}{
		{"under the cap all pass in order", items("a:1", "b:2", "a:3"), 10, "1,2,3", 0, 0},
		{"repeats fold into the first", items("a:gg", "b:gg", "c:hi", "d:gg"), 10, "gg×3,hi", 2, 0},
		{"one user cannot fill a tick", items("a:1", "a:2", "a:3", "a:4", "a:5", "b:x", "c:y"), 3, "1,x,y", 0, 4},
		{"round robin gives each user a second turn", items("a:1", "a:2", "a:3", "b:x", "b:z"), 4, "1,2,x,z", 0, 1},
		{"priority is kept over the cap", items("a:1", "a:2", "b:3", "!mod:keep", "c:4"), 2, "1,keep", 0, 3},
		{"priority never folds", items("a:same", "!owner:same"), 5, "same,same", 0, 0},
		{"priority over the cap keeps the earliest", items("!a:1", "!b:2", "!c:3"), 2, "1,2", 0, 1},
		{"folding happens before the cap", items("a:w", "b:w", "c:w", "d:x", "e:y"), 2, "w×3,x", 2, 1},
		{"repeats fold in canonical form", items("a:666", "b:６６６", "c:666!", "d:66", "e:???", "f:!!!"), 10, "666×3,66,???,!!!", 2, 0},
		{"empty", nil, 3, "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel := choose(tt.in, tt.max)
			if got := texts(sel.Items); got != tt.want {
				t.Errorf("items = %q, want %q", got, tt.want)
			}
			if sel.Folded != tt.folded || sel.DroppedByCap != tt.droppedByCap {
				t.Errorf("folded, dropped = %d, %d; want %d, %d", sel.Folded, sel.DroppedByCap, tt.folded, tt.droppedByCap)
			}
			for i := 1; i < len(sel.Items); i++ {
				if sel.Items[i-1].ID.Compare(sel.Items[i].ID) >= 0 {
					t.Errorf("items not in ID order at %d", i)
				}
			}
		})
	}
}

func TestChooseDoesNotMutateInput(t *testing.T) {
	in := items("a:gg", "b:gg")
	sel := choose(in, 5)
	if in[0].d.Count != 0 {
		t.Errorf("input danmaku got Count %d", in[0].d.Count)
	}
	if sel.Items[0].Count != 2 || sel.Items[0].ID != in[0].d.ID {
		t.Errorf("folded item = %+v", sel.Items[0])
	}
}

func TestRoomConfigValidate(t *testing.T) {
	tests := []struct {
		c     RoomConfig
		field string
	}{
		{RoomConfig{}, ""},
		{RoomConfig{TickInterval: MinTickInterval, MaxPerTick: 1}, ""},
		{RoomConfig{TickInterval: MaxTickInterval, MaxPerTick: MaxMaxPerTick}, ""},
		{RoomConfig{TickInterval: MinTickInterval - 1}, "tickInterval"},
		{RoomConfig{TickInterval: MaxTickInterval + 1}, "tickInterval"},
		{RoomConfig{MaxPerTick: -1}, "maxPerTick"},
		{RoomConfig{MaxPerTick: MaxMaxPerTick + 1}, "maxPerTick"},
	}
	for _, tt := range tests {
		err := tt.c.Validate()
		if tt.field == "" {
			if err != nil {
				t.Errorf("%+v: %v", tt.c, err)
			}
			continue
		}
		var de *danmaku.Error
		if !errors.As(err, &de) || de.Code != danmaku.EINVALID || de.Field != tt.field {
			t.Errorf("%+v: got %v, want EINVALID on %s", tt.c, err, tt.field)
		}
	}
}
