package service_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/service"
)

// TestSessionScopeReadsPastManyOthers stores a session's danmaku behind
// more than a page's reading budget of the video's other danmaku at the
// same times, and checks that paging with session= returns each of them
// once, through the store's session index and, without it, by filtering
// (going on over short pages), and that the other reads (ReadAllIn,
// HeatmapIn) see them alone.
func TestSessionScopeReadsPastManyOthers(t *testing.T) {
	t.Run("index", func(t *testing.T) { testSessionScope(t, false) })
	t.Run("filter", func(t *testing.T) { testSessionScope(t, true) })
}

// filterOnly is a store without its session index (danmaku.SessionLister),
// as the DynamoDB store is, so that the service filters the video.
type filterOnly struct {
	danmaku.Store
	danmaku.SessionStore
}

func testSessionScope(t *testing.T, filter bool) {
	ctx := context.Background()
	st := mustStore(t)
	start := time.UnixMilli(1_800_000_000_000)
	now := start.Add(time.Hour)
	var read danmaku.Store = st
	if filter {
		read = filterOnly{st, st}
	}
	svc := service.New(service.Config{}, read, service.Options{Now: func() time.Time { return now }})
	id := danmaku.SessionID(start)
	if err := st.PutSession(ctx, danmaku.Session{ObjectID: "v", ID: id, StartedAt: start, EndedAt: start.Add(10 * time.Minute)}); err != nil {
		t.Fatal(err)
	}

	gen := danmaku.NewIDGen(func() time.Time { return start })
	var ds []*danmaku.Danmaku
	for i := range 10_050 { // Outside the session, at 0–1 s of the video.
		ds = append(ds, &danmaku.Danmaku{ID: gen.Next(danmaku.Time(i / 10_000)), ObjectID: "v", UserID: "u",
			Content: danmaku.Content{Text: "vod", Size: 25, Position: 1, Time: danmaku.Time(i / 10_000)}})
	}
	var want []string
	for i, at := range []danmaku.Time{0, 1, 1, 120_000} { // In it, interleaved and later.
		text := fmt.Sprintf("live %d", i)
		want = append(want, text)
		ds = append(ds, &danmaku.Danmaku{ID: gen.Next(at), ObjectID: "v", UserID: "u", Session: id,
			Content: danmaku.Content{Text: text, Size: 25, Position: 1, Time: at}})
	}
	// One danmaku of another session, which must not show.
	ds = append(ds, &danmaku.Danmaku{ID: gen.Next(5), ObjectID: "v", UserID: "u", Session: "other",
		Content: danmaku.Content{Text: "other", Size: 25, Position: 1, Time: 5}})
	if n, err := st.PutBatch(ctx, ds); err != nil || n != len(ds) {
		t.Fatalf("PutBatch = %d, %v", n, err)
	}

	sc, err := svc.SessionScope(ctx, "v", id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	short := false
	res, err := svc.QueryByTimeIn(ctx, danmaku.Actor{}, "v", sc, 0, 2)
	for pages := 0; ; pages++ {
		if err != nil {
			t.Fatal(err)
		}
		if pages > 20 {
			t.Fatalf("paging does not end: %q", got)
		}
		short = short || (len(res.Data) < 2 && res.Cursor != service.EndCursor)
		for _, d := range res.Data {
			got = append(got, d.Content.Text)
		}
		if res.Cursor == service.EndCursor {
			break
		}
		res, err = svc.PullIn(ctx, danmaku.Actor{}, "v", sc, res.Cursor, 2)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the session's pages = %q, want %q", got, want)
	}
	if filter && !short {
		t.Errorf("no page stopped at the reading budget; the test does not test it")
	}
	if !filter && short {
		t.Errorf("a page came back short with the session index")
	}

	got = got[:0]
	for d, err := range svc.ReadAllIn(ctx, danmaku.Actor{}, "v", sc) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d.Content.Text)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ReadAllIn = %q, want %q", got, want)
	}
	h, err := svc.HeatmapIn(ctx, "v", sc, 0, 10)
	if err != nil || h.Total != len(want) || h.BucketMs != 60_001 || h.Counts[0] != 3 || h.Counts[1] != 1 {
		t.Errorf("HeatmapIn = %+v, %v; want 4 danmaku over the session's 10 minutes", h, err)
	}
	if h, err := svc.Heatmap(ctx, "v", 0, 10); err != nil || h.Total != len(ds) {
		t.Errorf("Heatmap of the whole video = %d, %v; want %d", h.Total, err, len(ds))
	}

	for _, tc := range []struct{ objectID, id, code string }{
		{"v", danmaku.SessionID(start.Add(time.Millisecond)), danmaku.ENOTFOUND},
		{"w", id, danmaku.ENOTFOUND},
		{"v", "Not-An-Id", danmaku.EINVALID},
	} {
		if _, err := svc.SessionScope(ctx, tc.objectID, tc.id); danmaku.ErrorCode(err) != tc.code {
			t.Errorf("SessionScope(%s, %s) = %v, want %s", tc.objectID, tc.id, err, tc.code)
		}
	}
}

// TestRecordSessionKeepsRecording checks that a session's end, recorded
// after a moderator set its recording, keeps the recording.
func TestRecordSessionKeepsRecording(t *testing.T) {
	ctx := context.Background()
	st := mustStore(t)
	svc := service.New(service.Config{}, st, service.Options{})
	start := time.UnixMilli(1_800_000_000_000).UTC()
	ss := danmaku.Session{ObjectID: "v", ID: danmaku.SessionID(start), StartedAt: start}
	if err := svc.RecordSession(ctx, ss); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetRecording(ctx, "v", ss.ID, "https://example.com/v.mp4"); err != nil {
		t.Fatal(err)
	}
	ss.EndedAt = start.Add(time.Hour)
	if err := svc.RecordSession(ctx, ss); err != nil {
		t.Fatal(err)
	}
	list, err := svc.Sessions(ctx, "v", 0)
	if err != nil || len(list) != 1 || list[0].RecordingURL != "https://example.com/v.mp4" || !list[0].EndedAt.Equal(ss.EndedAt) {
		t.Fatalf("Sessions = %+v, %v", list, err)
	}
	if _, err := svc.SetRecording(ctx, "v", ss.ID, "ftp://example.com/v.mp4"); danmaku.ErrorCode(err) != danmaku.EINVALID {
		t.Errorf("SetRecording of an ftp URL = %v, want EINVALID", err)
	}
}
