package main

import (
	"context"
	"io"
	"strings"
	"testing"

	danmaku "github.com/danmakud/danmakud"
)

// openMain opens a Main on data with extra flags.
func openMain(t *testing.T, data string, extra ...string) *Main {
	t.Helper()
	m := NewMain(io.Discard)
	if _, err := m.ParseFlags(append([]string{"-data", data}, extra...), func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

func listRoom(t *testing.T, st danmaku.Store, room string) []*danmaku.Danmaku {
	t.Helper()
	page, err := st.List(context.Background(), danmaku.Query{ObjectID: room, Limit: danmaku.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

// TestSeedDemo checks that a first start seeds the demo room, and only it,
// with sample danmaku over the demo timeline, starting within the first
// second; that a second start does not seed again, even after every demo
// danmaku was deleted; and that -demo=false seeds nothing.
func TestSeedDemo(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	m := openMain(t, data)
	n, err := m.SeedDemo(ctx)
	if err != nil || n < 100 {
		t.Fatalf("first start seeded %d danmaku (%v), want 100 or more", n, err)
	}
	ds := listRoom(t, m.Store, DemoRoom)
	if len(ds) != n {
		t.Fatalf("the demo room holds %d danmaku, want %d", len(ds), n)
	}
	if first := ds[0].Content.Time; first > 1000 {
		t.Errorf("the first demo danmaku flies at %v ms, want within the first second", first)
	}
	if last := ds[len(ds)-1].Content.Time; last > demoLength*1000 || last < demoLength*1000/2 {
		t.Errorf("the last demo danmaku flies at %v ms, want in the second half of the %d s timeline", last, demoLength)
	}
	modes := map[int]bool{}
	for _, d := range ds {
		if d.UserID != DemoUser || d.ObjectID != DemoRoom {
			t.Fatalf("seeded danmaku %+v, want sender %q in %q", d, DemoUser, DemoRoom)
		}
		if err := danmaku.ValidateUserID("userId", d.UserID); err != nil {
			t.Fatalf("demo sender: %v", err)
		}
		text := d.Content.Text
		if strings.ContainsAny(text, "<>&\"") || strings.TrimSpace(text) == "" || len([]rune(text)) > 100 {
			t.Errorf("demo text %q is not a plain short danmaku", text)
		}
		modes[d.Content.Position] = true
	}
	if len(modes) < 3 {
		t.Errorf("demo danmaku use modes %v, want scrolling, top and bottom", modes)
	}
	if other := listRoom(t, m.Store, "demo2"); len(other) != 0 {
		t.Errorf("another room holds %d danmaku", len(other))
	}
	for _, d := range ds {
		if _, err := m.Store.Delete(ctx, DemoRoom, d.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	m = openMain(t, data)
	defer m.Close()
	if n, err := m.SeedDemo(ctx); n != 0 || err != nil {
		t.Fatalf("second start seeded %d (%v), want none", n, err)
	}
	if left := listRoom(t, m.Store, DemoRoom); len(left) != 0 {
		t.Fatalf("the emptied demo room holds %d danmaku after a restart", len(left))
	}

	off := openMain(t, t.TempDir(), "-demo=false")
	defer off.Close()
	if n, err := off.SeedDemo(ctx); n != 0 || err != nil {
		t.Fatalf("-demo=false seeded %d (%v)", n, err)
	}
	if ds := listRoom(t, off.Store, DemoRoom); len(ds) != 0 {
		t.Fatalf("-demo=false: the demo room holds %d danmaku", len(ds))
	}
}
