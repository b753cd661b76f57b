package service_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/service"
	"github.com/danmakud/danmakud/store/pebble"
)

func mustStore(t *testing.T) *pebble.Store {
	t.Helper()
	st, err := pebble.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func sendReq(objectID, text string, ms danmaku.Time) danmaku.SendRequest {
	return danmaku.SendRequest{ObjectID: objectID, UserID: "u1", Content: danmaku.Content{Text: text, Size: 25, Position: 1, Time: ms}}
}

// TestSendDrawsANewIDOnConflict stores a danmaku under the very id that the
// service will draw next, as another node with the same node number could.
func TestSendDrawsANewIDOnConflict(t *testing.T) {
	st := mustStore(t)
	frozen := time.UnixMilli(1_800_000_000_000)
	now := func() time.Time { return frozen }
	clash := danmaku.ID{PlayMs: 14_000, UnixMs: frozen.UnixMilli(), Seq: 0, Node: 7}
	other := &danmaku.Danmaku{ID: clash, ObjectID: "v", UserID: "other", Content: danmaku.Content{Text: "first", Size: 25, Position: 1, Time: 14_000}}
	if err := st.Put(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Config{}, st, service.Options{IDs: danmaku.NewIDGenNode(7, now), Now: now})
	d, err := svc.Send(context.Background(), danmaku.Actor{}, sendReq("v", "second", 14_000))
	if err != nil {
		t.Fatal(err)
	}
	if d.ID == clash {
		t.Fatal("Send reused the taken id")
	}
	got, err := st.Get(context.Background(), "v", clash)
	if err != nil || got.Content.Text != "first" {
		t.Fatalf("the first danmaku was overwritten: %+v, %v", got, err)
	}
}

// liveAt is a LiveClock with one session started at a fixed time.
type liveAt struct {
	objectID string
	start    time.Time
}

func (l liveAt) LiveStamp(objectID string, now time.Time) (string, danmaku.Time, bool) {
	if objectID != l.objectID {
		return "", 0, false
	}
	return danmaku.SessionID(l.start), danmaku.Time(now.Sub(l.start).Milliseconds()), true
}

func TestLiveSessionSetsPlaybackTime(t *testing.T) {
	st := mustStore(t)
	start := time.UnixMilli(1_800_000_000_000)
	now := start.Add(90*time.Second + 250*time.Millisecond)
	svc := service.New(service.Config{}, st, service.Options{
		Live: liveAt{objectID: "live1", start: start},
		Now:  func() time.Time { return now },
	})
	d, err := svc.Send(context.Background(), danmaku.Actor{}, sendReq("live1", "hi", 3_000_000))
	if err != nil {
		t.Fatal(err)
	}
	if d.Content.Time != 90_250 {
		t.Fatalf("live danmaku time = %v ms, want 90250 (the client's time is not trusted)", int64(d.Content.Time))
	}
	if want := danmaku.SessionID(start); d.Session != want {
		t.Fatalf("live danmaku session = %q, want %q", d.Session, want)
	}
	if got, err := st.Get(context.Background(), "live1", d.ID); err != nil || got.Session != d.Session {
		t.Fatalf("stored live danmaku = %+v, %v; want its session kept", got, err)
	}
	d, err = svc.Send(context.Background(), danmaku.Actor{}, sendReq("vod", "hi", 3_000_000))
	if err != nil || d.Content.Time != 3_000_000 || d.Session != "" {
		t.Fatalf("a video on demand keeps the client's time and has no session: %v, %v", d, err)
	}
}

// recorder is a Broker that remembers what it was given.
type recorder struct {
	got     []*danmaku.Danmaku
	deleted []danmaku.ID
}

func (r *recorder) Publish(_ context.Context, d *danmaku.Danmaku, _ bool) error {
	r.got = append(r.got, d)
	return nil
}

func (r *recorder) Delete(_ string, id danmaku.ID) { r.deleted = append(r.deleted, id) }

// refuser is a Moderator that refuses "bad", shadows "odd" and masks "meh".
type refuser struct{}

func (m *refuser) Check(_ context.Context, _ danmaku.Actor, d *danmaku.Danmaku) (danmaku.Verdict, error) {
	switch d.Content.Text {
	case "bad":
		return danmaku.Verdict{}, danmaku.Errorf(danmaku.EREFUSED, "refused")
	case "odd":
		return danmaku.Verdict{Text: d.Content.Text, Shadow: true}, nil
	case "meh":
		return danmaku.Verdict{Text: "***"}, nil
	}
	return danmaku.Verdict{Text: d.Content.Text}, nil
}

// TestDeleteRetractsThroughBroker checks that a deletion is retracted
// through the Broker that published the danmaku.
func TestDeleteRetractsThroughBroker(t *testing.T) {
	pub := &recorder{}
	svc := service.New(service.Config{}, mustStore(t), service.Options{Broker: pub})
	ctx := context.Background()
	d, err := svc.Send(ctx, danmaku.Actor{}, sendReq("v", "oops", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Delete(ctx, danmaku.Actor{UserID: "root", Role: danmaku.RoleAdmin}, "v", d.ID); err != nil {
		t.Fatal(err)
	}
	if len(pub.deleted) != 1 || pub.deleted[0] != d.ID {
		t.Fatalf("retracted %v, want the deleted danmaku %v", pub.deleted, d.ID)
	}
}

func TestModerationVerdicts(t *testing.T) {
	st := mustStore(t)
	pub := &recorder{}
	mod := &refuser{}
	svc := service.New(service.Config{}, st, service.Options{Broker: pub, Moderator: mod})
	ctx := context.Background()
	if _, err := svc.Send(ctx, danmaku.Actor{}, sendReq("v", "bad", 1)); danmaku.ErrorCode(err) != danmaku.EREFUSED {
		t.Fatalf("refused text: %v", err)
	}
	shadow, err := svc.Send(ctx, danmaku.Actor{}, sendReq("v", "odd", 2))
	if err != nil || shadow.Shadow {
		t.Fatalf("shadowed text: %+v, %v; the sender must not see the mark", shadow, err)
	}
	if stored, err := st.Get(ctx, "v", shadow.ID); err != nil || !stored.Shadow {
		t.Fatalf("stored shadowed danmaku: %+v, %v", stored, err)
	}
	masked, err := svc.Send(ctx, danmaku.Actor{}, sendReq("v", "meh", 3))
	if err != nil || masked.Content.Text != "***" {
		t.Fatalf("masked text: %+v, %v", masked, err)
	}
	if len(pub.got) != 1 || pub.got[0].ID != masked.ID {
		t.Fatalf("published %d danmaku, want only the masked one", len(pub.got))
	}

	// The shadowed danmaku is stored, visible to its author and moderators only.
	// The author sees it without the mark, moderators with it.
	for _, tc := range []struct {
		actor  danmaku.Actor
		want   int
		marked bool
	}{
		{danmaku.Actor{UserID: "someone"}, 1, false},
		{danmaku.Actor{UserID: "u1"}, 2, false},
		{danmaku.Actor{UserID: "mod", Role: danmaku.RoleModerator, Rooms: []string{"v"}}, 2, true},
		{danmaku.Actor{UserID: "mod2", Role: danmaku.RoleModerator, Rooms: []string{"w"}}, 1, false},
	} {
		r, err := svc.QueryByTime(ctx, tc.actor, "v", 0, 20)
		if err != nil || len(r.Data) != tc.want {
			t.Errorf("%+v sees %d danmaku, want %d (%v)", tc.actor, len(r.Data), tc.want, err)
			continue
		}
		marked := false
		for _, d := range r.Data {
			marked = marked || d.Shadow
		}
		if marked != tc.marked {
			t.Errorf("%+v sees a shadow mark: %v, want %v", tc.actor, marked, tc.marked)
		}
	}
	// Someone who may not see it cannot learn that it exists by deleting
	// it; its author deletes it and is answered without the mark.
	if _, err := svc.Delete(ctx, danmaku.Actor{UserID: "someone"}, "v", shadow.ID); !errors.Is(err, danmaku.ErrNotFound) {
		t.Errorf("another user deletes the shadowed danmaku: %v, want ErrNotFound", err)
	}
	if d, err := svc.Delete(ctx, danmaku.Actor{UserID: "u1"}, "v", shadow.ID); err != nil || d.Shadow || d.ID != shadow.ID {
		t.Errorf("its author deletes the shadowed danmaku: %+v, %v; want it, unmarked", d, err)
	}
}

func TestSendNeedsASender(t *testing.T) {
	svc := service.New(service.Config{}, mustStore(t), service.Options{})
	req := sendReq("v", "hi", 0)
	req.UserID = ""
	_, err := svc.Send(context.Background(), danmaku.Actor{}, req)
	var e *danmaku.Error
	if !errors.As(err, &e) || e.Code != danmaku.EUNAUTHORIZED {
		t.Fatalf("anonymous send without userId: %v", err)
	}
}

func TestFeedRecordsEveryOutcome(t *testing.T) {
	svc := service.New(service.Config{}, mustStore(t), service.Options{Moderator: &refuser{}})
	ctx := context.Background()
	events, cancel := svc.Feed().Subscribe("v")
	defer cancel()
	for _, text := range []string{"fine", "bad", "odd", "meh"} {
		_, _ = svc.Send(ctx, danmaku.Actor{}, sendReq("v", text, 1))
	}
	_, _ = svc.Send(ctx, danmaku.Actor{}, sendReq("elsewhere", "fine", 1))
	recent := svc.Feed().Recent("v", 10)
	var got []string
	for _, e := range recent {
		got = append(got, e.Outcome)
	}
	want := []string{service.OutcomeMasked, service.OutcomeShadowed, service.OutcomeRejected, service.OutcomeAccepted}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("room feed newest first = %v, want %v", got, want)
	}
	if recent[2].Text != "bad" || recent[2].Code != danmaku.EREFUSED || recent[2].Reason == "" {
		t.Fatalf("rejected event = %+v", recent[2])
	}
	if n := len(svc.Feed().Recent("", 10)); n != 5 {
		t.Fatalf("global feed holds %d events, want 5", n)
	}
	for i := 0; i < 4; i++ {
		if e := <-events; e.ObjectID != "v" {
			t.Fatalf("room subscriber got an event of %q", e.ObjectID)
		}
	}
	select {
	case e := <-events:
		t.Fatalf("room subscriber got an extra event %+v", e)
	default:
	}
	counts := svc.SendCounts()
	if counts[service.OutcomeAccepted] != 2 || counts[danmaku.EREFUSED] != 1 || counts[service.OutcomeShadowed] != 1 {
		t.Fatalf("send counts = %v", counts)
	}
	public := svc.PublicSendCounts()
	if _, ok := public[service.OutcomeShadowed]; ok || public[service.OutcomeAccepted] != 3 || public[danmaku.EREFUSED] != 1 {
		t.Fatalf("public send counts = %v, want the shadowed send counted as accepted", public)
	}
}

func TestFeedKeepsTheLast500(t *testing.T) {
	var f service.Feed
	for i := 0; i < 1200; i++ {
		f.Record(service.Event{ObjectID: "r", At: int64(i)})
	}
	recent := f.Recent("r", 1000)
	if len(recent) != service.FeedSize || recent[0].At != 1199 || recent[499].At != 700 {
		t.Fatalf("feed kept %d, first %d, last %d", len(recent), recent[0].At, recent[len(recent)-1].At)
	}
}
