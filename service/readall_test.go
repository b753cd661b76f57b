package service_test

import (
	"context"
	"testing"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/service"
)

// TestReadAllAppliesTheListingRule reads a video of more than one store
// page through ReadAll and checks that each actor sees what the listings
// show them: the shadowed danmaku only for its author (unmarked) and the
// room's moderators (marked), everything in playback order.
func TestReadAllAppliesTheListingRule(t *testing.T) {
	st := mustStore(t)
	ctx := context.Background()
	gen := danmaku.NewIDGenNode(3, nil)
	const n = danmaku.MaxPageSize + 7
	batch := make([]*danmaku.Danmaku, 0, n+1)
	for i := range n {
		tm := danmaku.Time(n - i) // Stored out of playback order.
		batch = append(batch, &danmaku.Danmaku{ID: gen.Next(tm), ObjectID: "v", UserID: "u1",
			Content: danmaku.Content{Text: "hi", Size: 25, Position: 1, Time: tm}})
	}
	batch = append(batch, &danmaku.Danmaku{ID: gen.Next(500), ObjectID: "v", UserID: "u2", Shadow: true,
		Content: danmaku.Content{Text: "odd", Size: 25, Position: 1, Time: 500}})
	if stored, err := st.PutBatch(ctx, batch); err != nil || stored != len(batch) {
		t.Fatalf("PutBatch stored %d of %d: %v", stored, len(batch), err)
	}
	svc := service.New(service.Config{}, st, service.Options{})
	for _, tc := range []struct {
		actor  danmaku.Actor
		want   int
		marked bool // Whether the shadowed danmaku is read with its mark.
	}{
		{danmaku.Actor{}, n, false},
		{danmaku.Actor{UserID: "u1"}, n, false},
		{danmaku.Actor{UserID: "u2"}, n + 1, false},
		{danmaku.Actor{UserID: "mod", Role: danmaku.RoleModerator, Rooms: []string{"v"}}, n + 1, true},
		{danmaku.Actor{UserID: "mod2", Role: danmaku.RoleModerator, Rooms: []string{"w"}}, n, false},
	} {
		var got []*danmaku.Danmaku
		marked := false
		for d, err := range svc.ReadAll(ctx, tc.actor, "v") {
			if err != nil {
				t.Fatalf("%+v: %v", tc.actor, err)
			}
			if len(got) > 0 && got[len(got)-1].ID.Compare(d.ID) >= 0 {
				t.Fatalf("%+v: %s after %s is out of order", tc.actor, d.ID, got[len(got)-1].ID)
			}
			got = append(got, d)
			marked = marked || d.Shadow
		}
		if len(got) != tc.want {
			t.Errorf("%+v reads %d danmaku, want %d", tc.actor, len(got), tc.want)
		}
		if marked != tc.marked {
			t.Errorf("%+v reads a shadow mark: %v, want %v", tc.actor, marked, tc.marked)
		}
	}
}

// TestReadAllStopsEarly checks that ReadAll honours a reader that stops (the
// runtime panics when an iterator yields after that).
func TestReadAllStopsEarly(t *testing.T) {
	st := mustStore(t)
	ctx := context.Background()
	svc := service.New(service.Config{}, st, service.Options{})
	for _, text := range []string{"a", "b", "c"} {
		if _, err := svc.Send(ctx, danmaku.Actor{}, sendReq("v", text, 1)); err != nil {
			t.Fatal(err)
		}
	}
	read := 0
	for _, err := range svc.ReadAll(ctx, danmaku.Actor{}, "v") {
		if err != nil {
			t.Fatal(err)
		}
		if read++; read == 2 {
			break
		}
	}
	if read != 2 {
		t.Fatalf("read %d danmaku, want 2", read)
	}
}

// TestReadAllRefusesABadObjectID checks that an invalid id ends the read
// with the validation error.
func TestReadAllRefusesABadObjectID(t *testing.T) {
	svc := service.New(service.Config{}, mustStore(t), service.Options{})
	n := 0
	for d, err := range svc.ReadAll(context.Background(), danmaku.Actor{}, "") {
		n++
		if d != nil || danmaku.ErrorCode(err) != danmaku.EINVALID {
			t.Fatalf("got %v, %v; want nil and an EINVALID error", d, err)
		}
	}
	if n != 1 {
		t.Fatalf("yielded %d times, want 1", n)
	}
}
