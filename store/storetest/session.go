package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// testSessions checks danmaku.SessionStore: sessions are stored, replaced
// (an end, a recording URL), listed newest first per video and kept apart
// from the danmaku and from other videos; and a danmaku keeps the id of
// the session it was sent in.
func testSessions(t *testing.T, s danmaku.Store) {
	ss, ok := s.(danmaku.SessionStore)
	if !ok {
		t.Fatalf("%T does not implement danmaku.SessionStore", s)
	}
	ctx := context.Background()
	at := func(ms int64) time.Time { return time.UnixMilli(1_700_000_000_000 + ms).UTC() }
	session := func(objectID string, start int64) danmaku.Session {
		return danmaku.Session{ObjectID: objectID, ID: danmaku.SessionID(at(start)), StartedAt: at(start)}
	}

	if _, err := ss.Session(ctx, "v1", danmaku.SessionID(at(0))); !errors.Is(err, danmaku.ErrNotFound) {
		t.Fatalf("Session never stored: %v, want ErrNotFound", err)
	}
	if got, err := ss.Sessions(ctx, "v1", 10); err != nil || len(got) != 0 {
		t.Fatalf("Sessions of a video without any = %+v, %v", got, err)
	}

	first, second, third := session("v1", 0), session("v1", 3_600_000), session("v1", 7_200_000)
	other := session("v10", 3_600_000) // Same start, other video.
	for _, x := range []danmaku.Session{second, first, other, third} {
		if err := ss.PutSession(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	// Ending a session and setting its recording replace it.
	first.EndedAt = at(1_800_000)
	if err := ss.PutSession(ctx, first); err != nil {
		t.Fatal(err)
	}
	first.RecordingURL = "https://example.com/first.mp4"
	if err := ss.PutSession(ctx, first); err != nil {
		t.Fatal(err)
	}
	if got, err := ss.Session(ctx, "v1", first.ID); err != nil || !reflect.DeepEqual(got, first) {
		t.Fatalf("Session = %+v, %v; want %+v", got, err, first)
	}
	if _, err := ss.Session(ctx, "v2", first.ID); !errors.Is(err, danmaku.ErrNotFound) {
		t.Fatalf("Session of another video: %v, want ErrNotFound", err)
	}

	got, err := ss.Sessions(ctx, "v1", 10)
	if want := []danmaku.Session{third, second, first}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Sessions = %+v, %v; want newest first %+v", got, err, want)
	}
	if got, err := ss.Sessions(ctx, "v1", 2); err != nil || len(got) != 2 || got[0].ID != third.ID {
		t.Fatalf("Sessions limited to 2 = %+v, %v", got, err)
	}
	if got, err := ss.Sessions(ctx, "v10", 10); err != nil || !reflect.DeepEqual(got, []danmaku.Session{other}) {
		t.Fatalf("Sessions of v10 = %+v, %v", got, err)
	}

	// Sessions are not danmaku.
	if page, err := s.List(ctx, danmaku.Query{ObjectID: "v1", Limit: 10}); err != nil || len(page.Items) != 0 {
		t.Fatalf("List of a video with sessions only = %d items, %v", len(page.Items), err)
	}

	// A danmaku keeps its session, and one sent outside any has none.
	f := newFixture()
	in, out := f.make("v1", "u1", 1500), f.make("v1", "u1", 1500)
	in.Session = second.ID
	for _, d := range []*danmaku.Danmaku{in, out} {
		if err := s.Put(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []*danmaku.Danmaku{in, out} {
		back, err := s.Get(ctx, "v1", d.ID)
		if err != nil || back.Session != d.Session {
			t.Fatalf("Get = %+v, %v; want session %q", back, err, d.Session)
		}
	}
	page, err := s.List(ctx, danmaku.Query{ObjectID: "v1", Limit: 10})
	if err != nil || len(page.Items) != 2 || page.Items[0].Session != in.Session || page.Items[1].Session != "" {
		t.Fatalf("List = %+v, %v; want the session kept on the first only", page.Items, err)
	}
	if sl, ok := s.(danmaku.SessionLister); ok {
		testSessionIndex(t, s, sl, f)
	}
}

// testSessionIndex checks danmaku.SessionLister: a session's danmaku in
// order, paged, without those of other sessions, videos or none, and
// without deleted ones.
func testSessionIndex(t *testing.T, s danmaku.Store, sl danmaku.SessionLister, f *fixture) {
	ctx := context.Background()
	var want []*danmaku.Danmaku
	for i := range 7 {
		d := f.make("idx", "u1", danmaku.Time(i*100))
		others := []*danmaku.Danmaku{f.make("idx", "u1", danmaku.Time(i*100)), f.make("idx", "u1", danmaku.Time(i*100)), f.make("idx2", "u1", danmaku.Time(i*100))}
		d.Session, others[1].Session, others[2].Session = "aaa", "aab", "aaa"
		if bp, ok := s.(danmaku.BatchPutter); ok && i%2 == 0 {
			if n, err := bp.PutBatch(ctx, append([]*danmaku.Danmaku{d}, others...)); err != nil || n != 4 {
				t.Fatalf("PutBatch = %d, %v", n, err)
			}
		} else {
			for _, x := range append([]*danmaku.Danmaku{d}, others...) {
				if err := s.Put(ctx, x); err != nil {
					t.Fatal(err)
				}
			}
		}
		want = append(want, d)
	}
	if _, err := s.Delete(ctx, "idx", want[3].ID); err != nil {
		t.Fatal(err)
	}
	want = append(want[:3], want[4:]...)
	var got []*danmaku.Danmaku
	q := danmaku.Query{ObjectID: "idx", Limit: 4}
	for pages := 0; ; pages++ {
		page, err := sl.ListSession(ctx, q, "aaa")
		if err != nil || pages > 5 {
			t.Fatalf("ListSession: %v (page %d)", err, pages)
		}
		got = append(got, page.Items...)
		if !page.More {
			break
		}
		q.Start = page.Next.Successor()
	}
	if len(got) != len(want) {
		t.Fatalf("ListSession returned %d danmaku, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID || got[i].Session != "aaa" || got[i].Content.Text != want[i].Content.Text {
			t.Errorf("ListSession item %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if page, err := sl.ListSession(ctx, danmaku.Query{ObjectID: "idx", Limit: 10}, "aa"); err != nil || len(page.Items) != 0 {
		t.Errorf("ListSession of a session whose id prefixes another = %d items, %v", len(page.Items), err)
	}
}
