package httpapi_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/httpapi"
	"github.com/danmakud/danmakud/service"
	"github.com/danmakud/danmakud/store/pebble"
	"github.com/danmakud/danmakud/webapi"
)

// TestExportLeavesShadowedOut exports a video holding a shadowed danmaku as
// Bilibili XML and as ASS, asked by an admin and by an anonymous reader:
// an export is public, so the shadowed danmaku is in neither.
func TestExportLeavesShadowedOut(t *testing.T) {
	st, err := pebble.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	gen := danmaku.NewIDGenNode(2, nil)
	for _, d := range []*danmaku.Danmaku{
		{ObjectID: "ev", UserID: "u1", Content: danmaku.Content{Text: "visible one", Size: 25, Position: 1, Time: 1000}},
		{ObjectID: "ev", UserID: "u2", Shadow: true, Content: danmaku.Content{Text: "hidden one", Size: 25, Position: 1, Time: 2000}},
		{ObjectID: "ev", UserID: "u1", Content: danmaku.Content{Text: "visible two", Size: 25, Position: 1, Time: 3000}},
	} {
		d.ID = gen.Next(d.Content.Time)
		if err := st.Put(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	api := httpapi.New(httpapi.Config{}, service.New(service.Config{}, st, service.Options{}), webapi.AuthFunc(testAuth))
	api.MountFormats(st)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)

	for _, user := range []string{"", "root:admin", "u2"} {
		c := client{t: t, base: srv.URL, user: user}
		for _, file := range []string{"ev.xml", "ev.ass"} {
			status, _, b := c.do("GET", "/danmu/export/"+file, "", "")
			body := string(b)
			if status != 200 || !strings.Contains(body, "visible one") || !strings.Contains(body, "visible two") {
				t.Fatalf("%q exports %s: %d %s", user, file, status, body)
			}
			if strings.Contains(body, "hidden one") {
				t.Fatalf("%q exports %s with the shadowed danmaku in it", user, file)
			}
		}
	}
	c := client{t: t, base: srv.URL}
	if status, _, b := c.do("GET", "/danmu/export/ev.srt", "", ""); status != 404 {
		t.Fatalf("unknown format: %d %s", status, b)
	}
}
