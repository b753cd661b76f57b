package service_test

import (
	"context"
	"testing"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/service"
)

// TestSendOnceResumesAReservedKey covers a first request that reserved its
// key and then failed before storing (a 503, a crash): the retry stores
// the danmaku under the reserved id and publishes it, and a further retry
// only replays it.
func TestSendOnceResumesAReservedKey(t *testing.T) {
	st := mustStore(t)
	pub := &recorder{}
	svc := service.New(service.Config{}, st, service.Options{Broker: pub})
	ctx := context.Background()
	reserved := danmaku.Ref{ObjectID: "v", ID: danmaku.ID{PlayMs: 9_000, UnixMs: 1_800_000_000_000, Seq: 1, Node: 3}}
	if _, found, err := st.ReserveKey(ctx, "u1\x00k1", reserved); err != nil || found {
		t.Fatalf("ReserveKey: %v, %v", found, err)
	}
	d, replayed, err := svc.SendOnce(ctx, danmaku.Actor{}, sendReq("v", "重试", 12_000), "k1")
	if err != nil || replayed {
		t.Fatalf("retry: replayed %v, err %v; want a fresh store", replayed, err)
	}
	if d.ID != reserved.ID || d.Content.Time != 9_000 {
		t.Fatalf("retry stored id %s at %d ms, want the reserved %s at 9000 ms", d.ID, d.Content.Time, reserved.ID)
	}
	if _, err := st.Get(ctx, "v", reserved.ID); err != nil {
		t.Fatalf("the danmaku is not stored under the reserved id: %v", err)
	}
	again, replayed, err := svc.SendOnce(ctx, danmaku.Actor{}, sendReq("v", "重试", 15_000), "k1")
	if err != nil || !replayed || again.ID != reserved.ID {
		t.Fatalf("second retry = %+v, replayed %v, %v; want a replay of %s", again, replayed, err, reserved.ID)
	}
	if len(pub.got) != 1 {
		t.Fatalf("published %d times, want once", len(pub.got))
	}
	page, err := st.List(ctx, danmaku.Query{ObjectID: "v", Limit: 10})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("video holds %d danmaku (%v), want 1", len(page.Items), err)
	}
}
