package danmaku_test

import (
	"bytes"
	"encoding/json"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

func TestIDStringRoundTrip(t *testing.T) {
	tests := []struct {
		id   danmaku.ID
		want string
	}{
		{danmaku.ID{}, "0"},
		{danmaku.ID{PlayMs: 14000, UnixMs: 1795426084982, Seq: 0, Node: 38178}, "140001795426084982000038178"},
		{danmaku.ID{PlayMs: 0, UnixMs: 1795426084982, Seq: 12, Node: 7}, "1795426084982001200007"},
		{danmaku.ID{PlayMs: 1, UnixMs: 1, Seq: 1, Node: 1}, "10000000000001000100001"},
		{danmaku.ID{PlayMs: danmaku.MaxPlayMs, UnixMs: 9999999999999, Seq: 9999, Node: 99999}, "99999999999999999999999999999999"},
		{danmaku.FirstAt(20_000), "20000" + "0000000000000000000000"},
	}
	for _, tc := range tests {
		if got := tc.id.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.id, got, tc.want)
		}
		back, err := danmaku.ParseID(tc.want)
		if err != nil || back != tc.id {
			t.Errorf("ParseID(%q) = %+v, %v; want %+v", tc.want, back, err, tc.id)
		}
		kb, err := danmaku.IDFromBytes(tc.id.Bytes())
		if err != nil || kb != tc.id {
			t.Errorf("IDFromBytes(Bytes(%+v)) = %+v, %v", tc.id, kb, err)
		}
		ab, err := danmaku.IDFromArrivalBytes(tc.id.ArrivalBytes())
		if err != nil || ab != tc.id {
			t.Errorf("IDFromArrivalBytes(ArrivalBytes(%+v)) = %+v, %v", tc.id, ab, err)
		}
	}
}

func TestParseIDRejects(t *testing.T) {
	for _, s := range []string{"", "-1", "abc", "1.5", "01", " 1", "123456789012345678901234567890123", "1e10"} {
		if _, err := danmaku.ParseID(s); err == nil {
			t.Errorf("ParseID(%q) accepted", s)
		}
	}
}

// TestIDOrder checks that the three orders agree: Compare, the numeric
// value of the text (the DynamoDB sort key) and the bytes (the Pebble key).
func TestIDOrder(t *testing.T) {
	ids := []danmaku.ID{
		{},
		{PlayMs: 0, UnixMs: 1700000000000, Seq: 0, Node: 0},
		{PlayMs: 0, UnixMs: 1700000000000, Seq: 0, Node: 1},
		{PlayMs: 0, UnixMs: 1700000000000, Seq: 1, Node: 0},
		{PlayMs: 0, UnixMs: 1700000000001, Seq: 0, Node: 0},
		{PlayMs: 1, UnixMs: 1600000000000, Seq: 0, Node: 0},
		{PlayMs: 999, UnixMs: 1800000000000, Seq: 9999, Node: 99999},
		{PlayMs: 1000, UnixMs: 1500000000000, Seq: 0, Node: 5},
		{PlayMs: 90_001, UnixMs: 1700000000000, Seq: 3, Node: 2},
		{PlayMs: danmaku.MaxPlayMs, UnixMs: 1, Seq: 0, Node: 0},
	}
	for i := 1; i < len(ids); i++ {
		a, b := ids[i-1], ids[i]
		if a.Compare(b) >= 0 || b.Compare(a) <= 0 {
			t.Errorf("Compare(%v, %v) does not put them in order", a, b)
		}
		if bytes.Compare(a.Bytes(), b.Bytes()) >= 0 {
			t.Errorf("Bytes order differs at %v, %v", a, b)
		}
		na, _ := new(big.Int).SetString(a.String(), 10)
		nb, _ := new(big.Int).SetString(b.String(), 10)
		if na.Cmp(nb) >= 0 {
			t.Errorf("numeric order differs at %s, %s", a, b)
		}
		if s := a.Successor(); s.Compare(a) <= 0 || s.Compare(b) > 0 {
			t.Errorf("Successor(%v) = %v is not between it and %v", a, s, b)
		}
	}
}

func TestArrivalOrder(t *testing.T) {
	early := danmaku.ID{PlayMs: 500_000, UnixMs: 1700000000000}
	late := danmaku.ID{PlayMs: 1, UnixMs: 1700000000001}
	if danmaku.ArrivalCompare(early, late) >= 0 || bytes.Compare(early.ArrivalBytes(), late.ArrivalBytes()) >= 0 {
		t.Fatal("arrival order must follow acceptance time, not playback time")
	}
}

func TestIDGenUniqueAndOrdered(t *testing.T) {
	fixed := time.UnixMilli(1700000000000)
	gen := danmaku.NewIDGenNode(42, func() time.Time { return fixed })
	// More than 10,000 ids in one (frozen) millisecond, from many goroutines.
	const workers, each = 8, 2000
	var mu sync.Mutex
	var all []danmaku.ID
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]danmaku.ID, 0, each)
			for i := 0; i < each; i++ {
				local = append(local, gen.Next(14_000))
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	seen := map[danmaku.ID]bool{}
	for _, id := range all {
		if seen[id] {
			t.Fatalf("duplicate id %v", id)
		}
		seen[id] = true
		if id.Node != 42 || id.PlayMs != 14_000 {
			t.Fatalf("unexpected id %+v", id)
		}
	}
	// Sequential calls give increasing ids (arrival order).
	a, b := gen.Next(0), gen.Next(0)
	if a.Compare(b) >= 0 {
		t.Fatalf("ids not increasing: %v then %v", a, b)
	}
}

// TestIDBeyondJavaScriptPrecision checks that ids travel as JSON strings:
// the seed's numeric ids lost precision in JavaScript after 90 s.
func TestIDBeyondJavaScriptPrecision(t *testing.T) {
	id := danmaku.ID{PlayMs: 3_600_000, UnixMs: 1795426084982, Seq: 1, Node: 99999}
	b, err := json.Marshal(map[string]danmaku.ID{"id": id})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":"36000001795426084982000199999"}`; string(b) != want {
		t.Fatalf("JSON = %s, want %s", b, want)
	}
	var back map[string]danmaku.ID
	if err := json.Unmarshal(b, &back); err != nil || back["id"] != id {
		t.Fatalf("round trip = %v, %v", back, err)
	}
}

func TestIDsSortLikeTheirText(t *testing.T) {
	gen := danmaku.NewIDGen(nil)
	var ids []danmaku.ID
	for _, ms := range []int64{5, 0, 90_000, 14_000, 14_000, 7_200_000} {
		ids = append(ids, gen.Next(danmaku.Time(ms)))
	}
	byCompare := slices.Clone(ids)
	slices.SortFunc(byCompare, danmaku.ID.Compare)
	byNumber := slices.Clone(ids)
	slices.SortFunc(byNumber, func(a, b danmaku.ID) int {
		na, _ := new(big.Int).SetString(a.String(), 10)
		nb, _ := new(big.Int).SetString(b.String(), 10)
		return na.Cmp(nb)
	})
	if !slices.Equal(byCompare, byNumber) {
		t.Fatalf("orders differ:\n%v\n%v", byCompare, byNumber)
	}
}
