package dplayer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/compat/dplayer"
	"github.com/danmakud/danmakud/service"
	"github.com/danmakud/danmakud/store/pebble"
)

// storeSender is a small real send pipeline for these tests: it assigns an
// ID, refuses one word as moderation would, and stores the danmaku. Reads
// go through the real service.
type storeSender struct {
	*service.Service
	st  danmaku.Store
	gen *danmaku.IDGen
}

func (s *storeSender) Send(ctx context.Context, a danmaku.Actor, req danmaku.SendRequest) (*danmaku.Danmaku, error) {
	if strings.Contains(req.Content.Text, "badword") {
		return nil, &danmaku.Error{Code: danmaku.EREFUSED, Message: "this text is not allowed", RetryAfter: 1500 * time.Millisecond}
	}
	d := &danmaku.Danmaku{
		ID:        s.gen.Next(req.Content.Time),
		ObjectID:  req.ObjectID,
		UserID:    a.UserID,
		Content:   req.Content,
		CreatedAt: time.Now().UnixMilli(),
	}
	if err := s.st.Put(ctx, d); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return d, nil
}

// auth accepts the bearer token "good" as user u1, refuses any other token,
// and lets requests without one in as an anonymous viewer.
func auth(r *http.Request) (danmaku.Actor, error) {
	switch h := r.Header.Get("Authorization"); h {
	case "":
		return danmaku.Actor{UserID: "anon", Anonymous: true}, nil
	case "Bearer good":
		return danmaku.Actor{UserID: "u1"}, nil
	}
	return danmaku.Actor{}, danmaku.Errorf(danmaku.EUNAUTHORIZED, "invalid token")
}

type fixture struct {
	st  *pebble.Store
	srv *httptest.Server
}

func newFixture(t *testing.T) *fixture {
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
	svc := service.New(service.Config{}, st, service.Options{})
	h := dplayer.NewHandler(&storeSender{Service: svc, st: st, gen: danmaku.NewIDGenNode(1, nil)},
		dplayer.Config{Auth: auth, Limits: danmaku.DefaultLimits()})
	mux := http.NewServeMux()
	mux.Handle("/dplayer/", http.StripPrefix("/dplayer", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{st: st, srv: srv}
}

type answer struct {
	Code  int             `json:"code"`
	Msg   string          `json:"msg"`
	Error string          `json:"error"`
	Data  json.RawMessage `json:"data"`
	raw   string
	hdr   http.Header
}

func (f *fixture) do(t *testing.T, method, path, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d, want 200 always (%s)", method, path, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type %q", ct)
	}
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s %s: %v in %s", method, path, err, b)
	}
	a.raw, a.hdr = string(b), resp.Header
	return a
}

func (f *fixture) put(t *testing.T, d *danmaku.Danmaku) {
	t.Helper()
	if err := f.st.Put(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

func rows(t *testing.T, a answer) [][]any {
	t.Helper()
	if a.Code != 0 {
		t.Fatalf("code %d msg %q", a.Code, a.Msg)
	}
	var r [][]any
	if err := json.Unmarshal(a.Data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReadRowsAndEscaping(t *testing.T) {
	f := newFixture(t)
	items := []struct {
		text  string
		pos   int
		color danmaku.Color
		ms    danmaku.Time
		user  string
	}{
		{`<img src=x onerror="alert(1)">&'`, danmaku.ModeScroll, 0xffffff, 1500, "<b>eve</b>"},
		{"top", danmaku.ModeTop, 0xb7daff, 2000, "u1"},
		{"bottom", danmaku.ModeBottom, 0, 3000, "u2"},
		{"reverse", danmaku.ModeReverse, 0xff0000, 4250, "u3"},
	}
	for i, it := range items {
		f.put(t, &danmaku.Danmaku{
			ID: danmaku.ID{PlayMs: int64(it.ms), UnixMs: 1_700_000_000_000 + int64(i)}, ObjectID: "vid", UserID: it.user,
			Content: danmaku.Content{Text: it.text, Color: it.color, Size: 25, Position: it.pos, Time: it.ms},
		})
	}
	a := f.do(t, "GET", "/dplayer/v3/?id=vid&max=10", "")
	if strings.Contains(a.raw, "<img") || strings.Contains(a.raw, "<b>") {
		t.Fatalf("unescaped HTML in %s", a.raw)
	}
	got := rows(t, a)
	want := [][]any{
		{1.5, 0.0, 16777215.0, "&lt;b&gt;eve&lt;/b&gt;", "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&amp;&#39;"},
		{2.0, 1.0, 12049151.0, "u1", "top"},
		{3.0, 2.0, 0.0, "u2", "bottom"},
		{4.25, 0.0, 16711680.0, "u3", "reverse"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows\n got  %v\n want %v", got, want)
	}
}

func TestReadMaxAndLimit(t *testing.T) {
	f := newFixture(t)
	const n = 1500 // More than one store page.
	var all []*danmaku.Danmaku
	for i := range n {
		all = append(all, &danmaku.Danmaku{
			ID: danmaku.ID{PlayMs: int64(i * 10), UnixMs: 1_700_000_000_000}, ObjectID: "v", UserID: "u",
			Content: danmaku.Content{Text: fmt.Sprint(i), Color: danmaku.White, Size: 25, Position: 1, Time: danmaku.Time(i * 10)},
		})
	}
	if stored, err := f.st.PutBatch(context.Background(), all); err != nil || stored != n {
		t.Fatalf("PutBatch stored %d: %v", stored, err)
	}
	f.put(t, &danmaku.Danmaku{ID: danmaku.ID{PlayMs: 1, UnixMs: 1}, ObjectID: "v", UserID: "x", Shadow: true,
		Content: danmaku.Content{Text: "shadow", Color: danmaku.White, Size: 25, Position: 1, Time: 1}})
	tests := []struct {
		query string
		want  int
	}{
		{"id=v&max=3", 3},
		{"id=v&limit=7", 7},
		{"id=v&max=2&limit=9", 2},
		{"id=v", dplayer.DefaultMax},
		{"id=v&max=1200", 1200},
		{"id=v&max=0", dplayer.DefaultMax},
		{"id=v&max=99999", n},
		{"id=other", 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := rows(t, f.do(t, "GET", "/dplayer/v3/?"+tt.query, ""))
			if len(r) != tt.want {
				t.Fatalf("%d rows, want %d", len(r), tt.want)
			}
			for i, row := range r {
				if row[4] != fmt.Sprint(i) {
					t.Fatalf("row %d is %v: wrong order or shadow danmaku shown", i, row)
				}
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		method, path, msg string
	}{
		{"GET", "/dplayer/v3/", "id: must not be empty"},
		{"GET", "/dplayer/v3/?id=a%20b", "id: may hold only"},
		{"GET", "/dplayer/v3/?id=v&max=ten", "max: must be a non-negative integer"},
		{"GET", "/dplayer/v3/?id=v&limit=-1", "limit: must be a non-negative integer"},
		{"GET", "/dplayer/v2/?id=v", "no such DPlayer endpoint"},
		{"DELETE", "/dplayer/v3/?id=v", "method DELETE is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			a := f.do(t, tt.method, tt.path, "")
			if a.Code != 1 || !strings.Contains(a.Msg, tt.msg) {
				t.Fatalf("got code %d msg %q, want code 1 and %q", a.Code, a.Msg, tt.msg)
			}
		})
	}
}

func TestPostForms(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		color danmaku.Color
		mode  int
		ms    danmaku.Time
	}{
		{"integer colour and type", `{"id":"v","text":"a","color":16777215,"type":0,"time":1.25}`, 0xffffff, danmaku.ModeScroll, 1250},
		{"hex colour, right", `{"id":"v","text":"a","color":"#b7daff","type":"right","time":2}`, 0xb7daff, danmaku.ModeScroll, 2000},
		{"short hex, top", `{"id":"v","text":"a","color":"#fff","type":"top"}`, 0xffffff, danmaku.ModeTop, 0},
		{"decimal string, bottom", `{"id":"v","text":"a","color":"16711680","type":"bottom","time":"3.5"}`, 0xff0000, danmaku.ModeBottom, 3500},
		{"type 1 and 2", `{"id":"v","text":"a","color":0,"type":2}`, 0, danmaku.ModeBottom, 0},
		{"numeric type string", `{"id":"v","text":"a","type":"1"}`, danmaku.White, danmaku.ModeTop, 0},
		{"defaults", `{"id":"v","text":"a"}`, danmaku.White, danmaku.ModeScroll, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			a := f.do(t, "POST", "/dplayer/v3/", tt.body)
			if a.Code != 0 {
				t.Fatalf("code %d msg %q", a.Code, a.Msg)
			}
			p, _ := f.st.List(context.Background(), danmaku.Query{ObjectID: "v", Limit: 10})
			if len(p.Items) != 1 {
				t.Fatalf("%d stored", len(p.Items))
			}
			c := p.Items[0].Content
			if c.Color != tt.color || c.Position != tt.mode || c.Time != tt.ms || c.Text != "a" {
				t.Fatalf("stored %+v, want colour %v mode %d time %d", c, tt.color, tt.mode, tt.ms)
			}
		})
	}
}

func TestPostIdentity(t *testing.T) {
	f := newFixture(t)
	a := f.do(t, "POST", "/dplayer/v3/", `{"token":"good","id":"v","author":"admin","text":"<hi>","time":1}`)
	if a.Code != 0 {
		t.Fatalf("code %d msg %q", a.Code, a.Msg)
	}
	var data map[string]any
	if err := json.Unmarshal(a.Data, &data); err != nil {
		t.Fatal(err)
	}
	if data["author"] != "u1" || data["text"] != "&lt;hi&gt;" || data["type"] != 0.0 || data["time"] != 1.0 {
		t.Fatalf("data %v", data)
	}
	p, _ := f.st.List(context.Background(), danmaku.Query{ObjectID: "v", Limit: 10})
	if len(p.Items) != 1 || p.Items[0].UserID != "u1" || p.Items[0].Content.Text != "<hi>" {
		t.Fatalf("stored %+v: the body's author must not decide the user", p.Items)
	}

	a = f.do(t, "POST", "/dplayer/v3/", `{"id":"v","author":"admin","text":"anon"}`)
	if a.Code != 0 {
		t.Fatalf("anonymous send: code %d msg %q", a.Code, a.Msg)
	}
	p, _ = f.st.List(context.Background(), danmaku.Query{ObjectID: "v", Limit: 10})
	if len(p.Items) != 2 || p.Items[0].UserID != "anon" || p.Items[0].Content.Text != "anon" {
		t.Fatalf("stored %+v, want the anonymous danmaku (time 0) first", p.Items)
	}
}

func TestPostErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, body, msg, code string
	}{
		{"not json", `{"id":`, "body must be a JSON object", danmaku.EINVALID},
		{"array", `[1]`, "body must be a JSON object", danmaku.EINVALID},
		{"no id", `{"text":"a"}`, "id: is required", danmaku.EINVALID},
		{"bad id", `{"id":"a/b","text":"a"}`, "id: may hold only", danmaku.EINVALID},
		{"no text", `{"id":"v"}`, "text: must be a string", danmaku.EINVALID},
		{"blank text", `{"id":"v","text":"  "}`, "text: must not be empty", danmaku.EINVALID},
		{"long text", `{"id":"v","text":"` + strings.Repeat("x", 101) + `"}`, "text: is 101 characters long", danmaku.EINVALID},
		{"control", `{"id":"v","text":"a\u0007"}`, "text: must not contain control", danmaku.EINVALID},
		{"bad colour", `{"id":"v","text":"a","color":"#zz"}`, "color: must be", danmaku.EINVALID},
		{"colour too big", `{"id":"v","text":"a","color":16777216}`, "color: must be an integer", danmaku.EINVALID},
		{"bad type", `{"id":"v","text":"a","type":"left"}`, "type: must be 0 (right)", danmaku.EINVALID},
		{"type 3", `{"id":"v","text":"a","type":3}`, "type: must be 0 (right)", danmaku.EINVALID},
		{"bad time", `{"id":"v","text":"a","time":-1}`, "time: must not be negative", danmaku.EINVALID},
		{"bad token", `{"id":"v","text":"a","token":"forged"}`, "invalid token", danmaku.EUNAUTHORIZED},
		{"refused", `{"id":"v","text":"a badword"}`, "this text is not allowed", danmaku.EREFUSED},
		{"too large", `{"id":"v","text":"` + strings.Repeat("x", dplayer.MaxBodyBytes) + `"}`, "larger than", danmaku.ETOOLARGE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := f.do(t, "POST", "/dplayer/v3/", tt.body)
			if a.Code != 1 || !strings.Contains(a.Msg, tt.msg) || a.Error != tt.code {
				t.Fatalf("got code %d msg %q error %q; want 1, %q, %q", a.Code, a.Msg, a.Error, tt.msg, tt.code)
			}
		})
	}
	if a := f.do(t, "POST", "/dplayer/v3/", `{"id":"v","text":"badword"}`); a.hdr.Get("Retry-After") != "2" {
		t.Errorf("Retry-After %q, want 2", a.hdr.Get("Retry-After"))
	}
	p, _ := f.st.List(context.Background(), danmaku.Query{ObjectID: "v", Limit: 10})
	if len(p.Items) != 0 {
		t.Fatalf("refused sends stored %d danmaku", len(p.Items))
	}
}
