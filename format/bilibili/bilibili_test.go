package bilibili_test

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/format/bilibili"
	"github.com/danmakud/danmakud/service"
	"github.com/danmakud/danmakud/store/pebble"
)

// openStore opens a real store in a temporary directory.
func openStore(t *testing.T) *pebble.Store {
	t.Helper()
	st, err := pebble.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return st
}

var samples = []struct {
	file   string
	count  int
	fields int
}{
	{"bilibili-sample-2016.xml", 499, 8},
	{"bilibili-sample-2022.xml", 1224, 9},
}

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawD is one <d> element as the bytes of a file spell it, found by a
// regular expression instead of the package's parser.
type rawD struct {
	p    []string
	text string
}

var dRE = regexp.MustCompile(`<d p="([^"]*)">([^<]*)</d>`)

var unescape = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&apos;", "'")

func rawElements(t *testing.T, b []byte) map[string]rawD {
	t.Helper()
	out := make(map[string]rawD)
	for _, m := range dRE.FindAllSubmatch(b, -1) {
		p := strings.Split(string(m[1]), ",")
		if len(p) < 8 {
			t.Fatalf("element with %d p fields: %s", len(p), m[0])
		}
		if _, dup := out[p[7]]; dup {
			t.Fatalf("duplicate dmid %s", p[7])
		}
		out[p[7]] = rawD{p: p, text: unescape.Replace(string(m[2]))}
	}
	return out
}

func decodeAll(t *testing.T, b []byte) ([]*danmaku.Danmaku, bilibili.Result) {
	t.Helper()
	var out []*danmaku.Danmaku
	res, err := bilibili.Decode(bytes.NewReader(b), func(d *danmaku.Danmaku) error {
		out = append(out, d)
		return nil
	})
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return out, res
}

func byID(t *testing.T, items []*danmaku.Danmaku) map[danmaku.ID]*danmaku.Danmaku {
	t.Helper()
	m := make(map[danmaku.ID]*danmaku.Danmaku, len(items))
	for _, d := range items {
		if _, dup := m[d.ID]; dup {
			t.Fatalf("two danmaku share id %s", d.ID)
		}
		m[d.ID] = d
	}
	return m
}

// TestSampleRoundTrip imports both real files into a store, exports them,
// and checks that every <d> survives with every field danmakud keeps.
func TestSampleRoundTrip(t *testing.T) {
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			orig := readSample(t, s.file)
			if n := bytes.Count(orig, []byte("<d ")); n != s.count {
				t.Fatalf("sample holds %d <d>, test expects %d", n, s.count)
			}
			first, res := decodeAll(t, orig)
			if res.Decoded != s.count || len(first) != s.count || res.Skipped != 0 {
				t.Fatalf("decoded %d (callback %d), skipped %d; want %d, 0", res.Decoded, len(first), res.Skipped, s.count)
			}

			ctx := context.Background()
			st := openStore(t)
			for _, d := range first {
				d.ObjectID = "bv1"
			}
			if n, err := st.PutBatch(ctx, first); err != nil || n != s.count {
				t.Fatalf("PutBatch stored %d of %d: %v", n, s.count, err)
			}
			var out bytes.Buffer
			svc := service.New(service.Config{}, st, service.Options{})
			if err := bilibili.Export(&out, svc.ReadAll(ctx, danmaku.Actor{}, "bv1"), res.Header); err != nil {
				t.Fatalf("Export: %v", err)
			}

			// Element by element, on the raw text of both files.
			in, exp := rawElements(t, orig), rawElements(t, out.Bytes())
			if len(exp) != s.count {
				t.Fatalf("export holds %d <d>, want %d", len(exp), s.count)
			}
			for dmid, a := range in {
				b, ok := exp[dmid]
				if !ok {
					t.Fatalf("dmid %s missing from export", dmid)
				}
				if len(b.p) != 9 {
					t.Fatalf("dmid %s: export has %d p fields, want 9", dmid, len(b.p))
				}
				want := append([]string(nil), a.p...)
				if len(want) == 8 {
					want = append(want, "0") // Old files have no weight.
				}
				if !reflect.DeepEqual(b.p, want) || b.text != a.text {
					t.Fatalf("dmid %s:\n got  %q %q\n want %q %q", dmid, b.p, b.text, want, a.text)
				}
			}

			// Decoding the export again gives the very same danmaku.
			second, res2 := decodeAll(t, out.Bytes())
			if res2.Decoded != s.count || res2.Header != res.Header {
				t.Fatalf("re-decode: %d danmaku, header %+v; want %d, %+v", res2.Decoded, res2.Header, s.count, res.Header)
			}
			m1, m2 := byID(t, first), byID(t, second)
			for id, a := range m1 {
				b := m2[id]
				if b == nil {
					t.Fatalf("id %s lost in the round trip", id)
				}
				b.ObjectID = a.ObjectID
				if !reflect.DeepEqual(a, b) {
					t.Fatalf("id %s:\n got  %+v %+v\n want %+v %+v", id, b, b.Source, a, a.Source)
				}
			}

			// Importing the export again is refused as a duplicate: the ids
			// are deterministic.
			for _, d := range second {
				d.ObjectID = "bv1"
			}
			if n, err := st.PutBatch(ctx, second); err != nil || n != 0 {
				t.Fatalf("re-import stored %d: %v; want 0", n, err)
			}
			for _, d := range second[:10] {
				if err := st.Put(ctx, d); !errors.Is(err, danmaku.ErrConflict) {
					t.Fatalf("re-import of %s: %v, want ErrConflict", d.ID, err)
				}
			}
		})
	}
}

// TestHeaderBytes checks that the bytes before the first <d> are exactly the
// sample's, and the default header for a new export.
func TestHeaderBytes(t *testing.T) {
	for _, s := range samples {
		orig := readSample(t, s.file)
		_, res := decodeAll(t, orig)
		var out bytes.Buffer
		enc := bilibili.NewEncoder(&out, res.Header)
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		want := string(orig[:bytes.Index(orig, []byte("<d "))]) + "</i>"
		if out.String() != want {
			t.Errorf("%s header:\n got  %s\n want %s", s.file, out.String(), want)
		}
	}

	var out bytes.Buffer
	if err := bilibili.Encode(&out, "movie&1", nil); err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?><i><chatserver>chat.bilibili.com</chatserver>` +
		`<chatid>movie&amp;1</chatid><mission>0</mission><maxlimit>1</maxlimit><state>0</state>` +
		`<real_name>0</real_name><source>k-v</source></i>`
	if out.String() != want {
		t.Errorf("default header:\n got  %s\n want %s", out.String(), want)
	}
}

func TestEncodeNative(t *testing.T) {
	id := danmaku.ID{PlayMs: 490191, UnixMs: 1584268892123, Seq: 7, Node: 42}
	tests := []struct {
		name string
		d    danmaku.Danmaku
		want string
	}{
		{
			name: "escaping and defaults",
			d: danmaku.Danmaku{ID: id, UserID: "alice", CreatedAt: 1584268892123,
				Content: danmaku.Content{Text: `<b>"Tom" & 'Jerry'</b>`, Color: 0xff0000, Size: 25, Position: 1, Time: 490191}},
			want: `<d p="490.19100,1,25,16711680,1584268892,0,` + crcHex("alice") + `,` + bilibili.DMIDFromID(id) + `,11">` +
				`&lt;b&gt;&quot;Tom&quot; &amp; &apos;Jerry&apos;&lt;/b&gt;</d>`,
		},
		{
			name: "controls stripped, mode 2 scrolls as 1",
			d: danmaku.Danmaku{ID: id, UserID: "bob", CreatedAt: 999,
				Content: danmaku.Content{Text: "a\x00b\x1bc\nd\u0085e\uffff", Color: 0, Size: 18, Position: 2, Time: 5}},
			want: `<d p="0.00500,1,18,0,0,0,` + crcHex("bob") + `,` + bilibili.DMIDFromID(id) + `,11">abc de</d>`,
		},
		{
			name: "imported fields kept",
			d: danmaku.Danmaku{ID: id, UserID: "bili:a16fe0dd", CreatedAt: 1584268892000,
				Content: danmaku.Content{Text: "hi", Color: 16777215, Size: 36, Position: danmaku.ModeTop, Time: 12},
				Source:  &danmaku.Source{Pool: 1, Hash: "a16fe0dd", DMID: "29950852386521095", Weight: 3}},
			want: `<d p="0.01200,5,36,16777215,1584268892,1,a16fe0dd,29950852386521095,3">hi</d>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(bilibili.AppendD(nil, &tt.d)); got != tt.want {
				t.Errorf("\n got  %s\n want %s", got, tt.want)
			}
		})
	}
}

func crcHex(s string) string {
	return strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(s))), 16)
}

func TestDMIDFromID(t *testing.T) {
	a := bilibili.DMIDFromID(danmaku.ID{PlayMs: 1, UnixMs: 2, Seq: 3, Node: 4})
	b := bilibili.DMIDFromID(danmaku.ID{PlayMs: 1, UnixMs: 2, Seq: 3, Node: 5})
	if a == b {
		t.Fatalf("neighbouring ids share dmid %s", a)
	}
	for _, s := range []string{a, b} {
		if n, err := strconv.ParseInt(s, 10, 64); err != nil || n < 0 {
			t.Fatalf("dmid %q is not a non-negative int64: %v", s, err)
		}
	}
}

func TestDecodeMapping(t *testing.T) {
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<i><chatid>7</chatid><maxlimit>3</maxlimit><unknown><x/></unknown>
<d p="1.5,2,100,33554431,1600000000,2,abc,123">scroll&nbsp;2</d>
<d p="2.0001,6,5,255,1600000001,0,abc,124,4">reverse</d>
<d p="3,7,25,0,1600000002,2,abc,125,1">[0,0,"1-1",7,"positioned"]</d>
<d p="4,8,25,0,1600000003,2,abc,126,1">code</d>
<d p="5,1,25,0,1600000004,0,abc">too few fields</d>
<d p="x,1,25,0,1600000005,0,abc,127">bad time</d>
<d p="6,1,25,0,1600000006,0,abc,128">   </d>
<d p="7,4,25,0,1600000007,0,,">line&#10;break	tab</d>
</i>`
	items, res := decodeAllString(t, doc)
	if res.Decoded != 3 || res.Skipped != 5 {
		t.Fatalf("decoded %d, skipped %d; want 3, 5", res.Decoded, res.Skipped)
	}
	if res.Header.ChatID != "7" || res.Header.MaxLimit != 3 {
		t.Errorf("header %+v", res.Header)
	}
	want := []struct {
		text     string
		pos      int
		size     danmaku.Size
		color    danmaku.Color
		ms       danmaku.Time
		created  int64
		user     string
		pool     int
		weight   int
		hasDMID  bool
		playMsID int64
	}{
		{"scroll\u00a02", 1, danmaku.MaxSize, 0xffffff, 1500, 1600000000000, "bili:abc", 2, 0, true, 1500},
		{"reverse", 6, danmaku.MinSize, 255, 2000, 1600000001000, "bili:abc", 0, 4, true, 2000},
		{"line break tab", 4, 25, 0, 7000, 1600000007000, "bili:anonymous", 0, 0, false, 7000},
	}
	for i, w := range want {
		d := items[i]
		c := d.Content
		if c.Text != w.text || c.Position != w.pos || c.Size != w.size || c.Color != w.color || c.Time != w.ms ||
			d.CreatedAt != w.created || d.UserID != w.user || d.Source.Pool != w.pool || d.Source.Weight != w.weight ||
			(d.Source.DMID != "") != w.hasDMID || d.ID.PlayMs != w.playMsID || d.ID.UnixMs != w.created {
			t.Errorf("item %d = %+v %+v, want %+v", i, d, d.Source, w)
		}
	}
}

func decodeAllString(t *testing.T, doc string) ([]*danmaku.Danmaku, bilibili.Result) {
	t.Helper()
	return decodeAll(t, []byte(doc))
}

func TestDecodeIDs(t *testing.T) {
	doc := `<i><d p="1,1,25,0,1600000000,0,abc,1">a</d><d p="1,1,25,0,1600000000,0,abc,2">a</d>` +
		`<d p="1,1,25,0,1600000000,0,abc,">a</d><d p="1,1,25,0,1600000000,0,abc,">b</d></i>`
	first, _ := decodeAllString(t, doc)
	again, _ := decodeAllString(t, doc)
	if len(first) != 4 {
		t.Fatalf("decoded %d", len(first))
	}
	seen := map[danmaku.ID]bool{}
	for i, d := range first {
		if d.ID != again[i].ID {
			t.Errorf("item %d: id %s then %s; want deterministic", i, d.ID, again[i].ID)
		}
		if seen[d.ID] {
			t.Errorf("item %d: id %s repeats", i, d.ID)
		}
		seen[d.ID] = true
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, doc string
	}{
		{"empty", ""},
		{"wrong root", `<?xml version="1.0"?><root><d p="1,1,25,0,0,0,a,1">x</d></root>`},
		{"truncated", `<i><d p="1,1,25,0,0,0,a,1">x`},
		{"bad utf-8", "<i><d p=\"1,1,25,0,0,0,a,1\">\xff</d></i>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bilibili.Decode(strings.NewReader(tt.doc), func(*danmaku.Danmaku) error { return nil })
			if err == nil {
				t.Fatal("no error")
			}
		})
	}

	stop := errors.New("stop")
	res, err := bilibili.Decode(bytes.NewReader(readSample(t, samples[0].file)), func(*danmaku.Danmaku) error { return stop })
	if !errors.Is(err, stop) || res.Decoded != 0 {
		t.Fatalf("callback error: got %v after %d, want stop after 0", err, res.Decoded)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0" encoding="UTF-8"?><i><chatid>1</chatid><d p="1.5,1,25,16777215,1600000000,0,abc,123,1">hi &amp; bye</d></i>`))
	f.Add([]byte(`<i><d p="1e300,1,25,-1,99999999999,0,,">x</d><d p="NaN,4,nan,1,1,1,a,1">y</d></i>`))
	f.Add(readSample(f, samples[0].file)[:2000])
	f.Fuzz(func(t *testing.T, b []byte) {
		var items []*danmaku.Danmaku
		_, err := bilibili.Decode(bytes.NewReader(b), func(d *danmaku.Danmaku) error {
			if d.Content.Size < danmaku.MinSize || d.Content.Size > danmaku.MaxSize {
				t.Fatalf("size %d out of range", d.Content.Size)
			}
			if d.Content.Time < 0 || d.Content.Time > danmaku.MaxPlayMs {
				t.Fatalf("time %d out of range", d.Content.Time)
			}
			items = append(items, d)
			return nil
		})
		if err != nil {
			return
		}
		// Whatever decodes must encode to a document that decodes to the
		// same number of danmaku.
		var out bytes.Buffer
		if err := bilibili.Encode(&out, "x", items); err != nil {
			t.Fatal(err)
		}
		res, err := bilibili.Decode(&out, func(*danmaku.Danmaku) error { return nil })
		if err != nil || res.Decoded != len(items) {
			t.Fatalf("re-decode: %v, %d of %d\n%s", err, res.Decoded, len(items), out.Bytes())
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	doc := readSample(b, samples[1].file)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := bilibili.Decode(bytes.NewReader(doc), func(*danmaku.Danmaku) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	doc := readSample(b, samples[1].file)
	var items []*danmaku.Danmaku
	if _, err := bilibili.Decode(bytes.NewReader(doc), func(d *danmaku.Danmaku) error {
		items = append(items, d)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := bilibili.Encode(io.Discard, "1", items); err != nil {
			b.Fatal(err)
		}
	}
}
