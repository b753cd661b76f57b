package pebble

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	danmaku "github.com/danmakud/danmakud"
)

func randomText(rng *rand.Rand) string {
	pieces := []string{"", "a", "弹幕", "😀", "\x00", "\xff", "前方高能", " "}
	s := ""
	for n := rng.IntN(6); n > 0; n-- {
		s += pieces[rng.IntN(len(pieces))]
	}
	return s
}

func TestCodecRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 5000; i++ {
		d := &danmaku.Danmaku{
			ID:       danmaku.ID{PlayMs: rng.Int64N(danmaku.MaxPlayMs), UnixMs: rng.Int64N(1e13), Seq: uint16(rng.IntN(10000)), Node: uint32(rng.IntN(100000))},
			ObjectID: "v1", UserID: randomText(rng), OwnerID: randomText(rng),
			Content: danmaku.Content{Text: randomText(rng), Color: danmaku.Color(rng.Uint32() & 0xffffff), Size: danmaku.Size(rng.IntN(65)),
				Position: rng.IntN(7), Time: danmaku.Time(rng.Int64N(danmaku.MaxPlayMs))},
			CreatedAt: rng.Int64N(1<<50) - 1<<49,
			Shadow:    rng.IntN(2) == 0,
		}
		if rng.IntN(2) == 0 {
			d.Source = &danmaku.Source{Pool: rng.IntN(3), Hash: randomText(rng), DMID: randomText(rng), Weight: rng.IntN(12)}
		}
		if rng.IntN(2) == 0 {
			d.Session = randomText(rng)
		}
		got, err := decode(d.ObjectID, d.ID, encode(d))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, d) {
			t.Fatalf("case %d: decoded\n%+v\nwant\n%+v", i, got, d)
		}
	}
}

// TestCodecCountNotStored checks that the live-only count is dropped.
func TestCodecCountNotStored(t *testing.T) {
	d := &danmaku.Danmaku{ID: danmaku.ID{PlayMs: 1}, ObjectID: "v", UserID: "u", Count: 5}
	got, err := decode("v", d.ID, encode(d))
	if err != nil {
		t.Fatal(err)
	}
	if got.Count != 0 {
		t.Fatalf("count %d was stored", got.Count)
	}
}

// TestCodecReadsJSONRecords checks that records written as JSON by earlier
// versions are still read, through the store's own Get and List.
func TestCodecReadsJSONRecords(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := danmaku.ID{PlayMs: 14000, UnixMs: 1700000000000, Seq: 3, Node: 42}
	want := &danmaku.Danmaku{ID: id, ObjectID: "old", UserID: "u1", OwnerID: "o1",
		Content:   danmaku.Content{Text: "旧记录", Color: 0xffff00, Size: 40, Position: 1, Time: 14000},
		CreatedAt: 1700000000000, Source: &danmaku.Source{Hash: "abc", DMID: "123"}}
	val, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set(videoKey("old", id), val, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(context.Background(), "old", id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Get of a JSON record = %+v, want %+v", got, want)
	}
	page, err := s.List(context.Background(), danmaku.Query{ObjectID: "old", Limit: 10})
	if err != nil || len(page.Items) != 1 || !reflect.DeepEqual(page.Items[0], want) {
		t.Fatalf("List of a JSON record = %+v, %v", page.Items, err)
	}
}

func TestCodecRefusesCorruptRecords(t *testing.T) {
	good := encode(&danmaku.Danmaku{UserID: "u", Content: danmaku.Content{Text: "弹幕"}, Source: &danmaku.Source{Hash: "h"}})
	for name, val := range map[string][]byte{
		"empty":          nil,
		"unknown format": {0x7f, 1, 2},
		"truncated":      good[:len(good)-2],
		"trailing bytes": append(append([]byte(nil), good...), 0),
		"long string":    {formatBinary, 0xff, 0x01, 'a'},
	} {
		if _, err := decode("v", danmaku.ID{}, val); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: err = %v, want errCorrupt", name, err)
		}
	}
}

// FuzzDecode checks that no stored bytes make decode panic, and that what
// it accepts in the binary format encodes back to a record that decodes
// to the same danmaku.
func FuzzDecode(f *testing.F) {
	f.Add(encode(&danmaku.Danmaku{UserID: "u", Content: danmaku.Content{Text: "弹幕", Size: 25}}))
	f.Add(encode(&danmaku.Danmaku{Shadow: true, Source: &danmaku.Source{Hash: "h", Weight: 3}}))
	f.Add([]byte(`{"id":"1","content":{"text":"x"}}`))
	f.Fuzz(func(t *testing.T, val []byte) {
		d, err := decode("v", danmaku.ID{PlayMs: 1}, val)
		if err != nil || val[0] != formatBinary {
			return
		}
		again, err := decode("v", d.ID, encode(d))
		if err != nil || !reflect.DeepEqual(again, d) {
			t.Fatalf("re-encoded record decodes to %+v, %v; want %+v", again, err, d)
		}
	})
}
