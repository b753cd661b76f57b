package danmaku

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// reflected has Danmaku's fields without its MarshalJSON method, so that
// encoding/json encodes it by reflection: the reference for AppendJSON.
type reflected Danmaku

// jsonPieces are the fragments random test strings are made of: plain
// text, every character that encoding/json escapes, and invalid UTF-8.
var jsonPieces = []string{
	"a", "Z", "9", " ", "弹幕", "前方高能", "😀", "é", "\"", "\\", "/", "<", ">", "&",
	"\n", "\r", "\t", "\b", "\f", "\x00", "\x01", "\x1f", "\x7f", "\u2028", "\u2029",
	"\xff", "\xe5\xbc", "\xc3", "\ufffd", "\u00a0", "\u200b",
}

func randomJSONString(rng *rand.Rand) string {
	var sb strings.Builder
	for n := rng.IntN(12); n > 0; n-- {
		sb.WriteString(jsonPieces[rng.IntN(len(jsonPieces))])
	}
	return sb.String()
}

func randomDanmaku(rng *rand.Rand) *Danmaku {
	d := &Danmaku{
		ID:       ID{PlayMs: rng.Int64N(MaxPlayMs + 1), UnixMs: rng.Int64N(1e13), Seq: uint16(rng.IntN(maxSeq + 1)), Node: uint32(rng.IntN(maxNode + 1))},
		ObjectID: randomJSONString(rng), UserID: randomJSONString(rng), OwnerID: randomJSONString(rng),
		Content: Content{Text: randomJSONString(rng), Color: Color(rng.Uint32() & 0xffffff), Size: Size(rng.IntN(80)),
			Position: rng.IntN(7), Time: Time(rng.Int64N(MaxPlayMs + 1))},
		CreatedAt: rng.Int64N(1 << 50),
		Shadow:    rng.IntN(2) == 0,
		Count:     rng.IntN(3),
	}
	switch rng.IntN(4) {
	case 0:
		d.ID.PlayMs = 0 // The shortened form without a playback part.
	case 1:
		d.ID = ID{}
	}
	if rng.IntN(2) == 0 {
		d.Source = &Source{}
		if rng.IntN(2) == 0 {
			d.Source.Pool = rng.IntN(3)
		}
		if rng.IntN(2) == 0 {
			d.Source.Hash = randomJSONString(rng)
		}
		if rng.IntN(2) == 0 {
			d.Source.DMID = randomJSONString(rng)
		}
		if rng.IntN(2) == 0 {
			d.Source.Weight = rng.IntN(12)
		}
	}
	if rng.IntN(2) == 0 {
		d.Session = randomJSONString(rng)
	}
	return d
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		d := randomDanmaku(rng)
		want, err := json.Marshal((*reflected)(d))
		if err != nil {
			t.Fatal(err)
		}
		if got := d.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("case %d: AppendJSON\n got %s\nwant %s", i, got, want)
		}
		if got, _ := json.Marshal(d); !bytes.Equal(got, want) {
			t.Fatalf("case %d: json.Marshal through MarshalJSON\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestIDDecimalForm(t *testing.T) {
	for _, tc := range []struct {
		id   ID
		want string
	}{
		{ID{}, "0"},
		{ID{Node: 7}, "7"},
		{ID{Seq: 1, Node: 2}, "100002"},
		{ID{UnixMs: 1700000000000, Seq: 12, Node: 345}, "1700000000000001200345"},
		{ID{PlayMs: 14000, UnixMs: 1700000000000, Seq: 0, Node: 0}, "140001700000000000000000000"},
		{ID{PlayMs: MaxPlayMs, UnixMs: 9999999999999, Seq: maxSeq, Node: maxNode}, "99999999999999999999999999999999"},
	} {
		if got := tc.id.String(); got != tc.want {
			t.Errorf("%+v: String() = %s, want %s", tc.id, got, tc.want)
		}
		if back, err := ParseID(tc.want); err != nil || back != tc.id {
			t.Errorf("ParseID(%s) = %+v, %v; want %+v", tc.want, back, err, tc.id)
		}
	}
}

// FuzzAppendJSON checks AppendJSON against encoding/json for arbitrary
// strings in every string field.
func FuzzAppendJSON(f *testing.F) {
	for _, p := range jsonPieces {
		f.Add(p, "u", int64(0))
	}
	f.Fuzz(func(t *testing.T, text, user string, play int64) {
		d := &Danmaku{ID: ID{PlayMs: max(0, play) % (MaxPlayMs + 1), UnixMs: 1700000000000}, ObjectID: "v", UserID: user,
			Content: Content{Text: text, Color: White, Size: SizeMedium, Position: ModeScroll}, Source: &Source{Hash: text}}
		want, err := json.Marshal((*reflected)(d))
		if err != nil {
			t.Fatal(err)
		}
		if got := d.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON\n got %s\nwant %s", got, want)
		}
	})
}

func benchDanmaku() *Danmaku {
	return &Danmaku{ID: ID{PlayMs: 14000, UnixMs: 1763900000000, Seq: 12, Node: 4242}, ObjectID: "av170001", UserID: "anon-3f9a2c",
		OwnerID: "1", Content: Content{Text: "前方高能 <3", Color: 0xffff00, Size: 25, Position: 1, Time: 14000}, CreatedAt: 1763900000000}
}

// BenchmarkAppendJSON measures the hand-written encoder;
// BenchmarkAppendJSONReflect is encoding/json on the same danmaku, its
// baseline.
func BenchmarkAppendJSON(b *testing.B) {
	d := benchDanmaku()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = d.AppendJSON(buf[:0])
	}
}

func BenchmarkAppendJSONReflect(b *testing.B) {
	d := (*reflected)(benchDanmaku())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(d); err != nil {
			b.Fatal(err)
		}
	}
}
