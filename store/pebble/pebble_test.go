package pebble_test

import (
	"context"
	"testing"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/store/pebble"
	"github.com/danmakud/danmakud/store/storetest"
)

// MustOpen opens a store in a temporary directory.
func MustOpen(tb testing.TB) *pebble.Store {
	tb.Helper()
	s, err := pebble.Open(tb.TempDir(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) danmaku.Store { return MustOpen(t) })
}

// TestReopen checks that acknowledged danmaku survive closing and reopening.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := pebble.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	gen := danmaku.NewIDGen(nil)
	d := &danmaku.Danmaku{ID: gen.Next(1500), ObjectID: "v", UserID: "u", Content: danmaku.Content{Text: "持久", Size: 25, Position: 1, Time: 1500}}
	if err := s.Put(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = pebble.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get(context.Background(), "v", d.ID)
	if err != nil || got.Content.Text != "持久" {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
}
