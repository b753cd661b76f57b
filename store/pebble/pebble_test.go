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

func TestPutBatchSkipsExisting(t *testing.T) {
	s := MustOpen(t)
	defer s.Close()
	gen := danmaku.NewIDGen(nil)
	mk := func(text string) *danmaku.Danmaku {
		return &danmaku.Danmaku{ID: gen.Next(1), ObjectID: "v", UserID: "u", Content: danmaku.Content{Text: text, Size: 25, Position: 1}}
	}
	a, b := mk("a"), mk("b")
	if err := s.Put(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	clash := *a
	clash.Content.Text = "overwrite"
	n, err := s.PutBatch(context.Background(), []*danmaku.Danmaku{&clash, b, b})
	if err != nil || n != 1 {
		t.Fatalf("PutBatch = %d, %v; want 1 stored", n, err)
	}
	got, err := s.Get(context.Background(), "v", a.ID)
	if err != nil || got.Content.Text != "a" {
		t.Fatalf("existing danmaku overwritten: %+v, %v", got, err)
	}
	if _, err := s.Get(context.Background(), "v", b.ID); err != nil {
		t.Fatalf("new danmaku not stored: %v", err)
	}
}
