package hostile

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// badRequest is one malformed request and the statuses it may get.
type badRequest struct {
	name   string
	method string
	path   string
	ctype  string // Content-Type; "" sends none.
	body   []byte
	want   []int
}

// malformed returns the malformed requests for room; round varies the
// generated ones (truncations and garbage) between rounds.
func malformed(room string, round int, rng *rand.Rand) []badRequest {
	const js = "application/json"
	valid := string(sendBody(room, "valid text"))
	deep := func(n int) []byte { return bytes.Repeat([]byte("["), n) }
	r := []badRequest{
		// Bad JSON.
		{"empty body", "POST", "/danmu/send", js, nil, []int{400}},
		{"open brace", "POST", "/danmu/send", js, []byte("{"), []int{400}},
		{"array", "POST", "/danmu/send", js, []byte("[]"), []int{400}},
		{"string", "POST", "/danmu/send", js, []byte(`"send"`), []int{400}},
		{"number", "POST", "/danmu/send", js, []byte(`12345`), []int{400}},
		{"null", "POST", "/danmu/send", js, []byte(`null`), []int{400}},
		{"empty object", "POST", "/danmu/send", js, []byte(`{}`), []int{400}},
		{"trailing garbage", "POST", "/danmu/send", js, []byte(valid + "garbage"), []int{400}},
		{"two objects", "POST", "/danmu/send", js, []byte(valid + valid), []int{400}},
		{"single quotes", "POST", "/danmu/send", js, []byte(`{'objectId':'r'}`), []int{400}},
		{"content array", "POST", "/danmu/send", js, []byte(`{"objectId":"` + room + `","content":[1]}`), []int{400}},
		{"text number", "POST", "/danmu/send", js, []byte(`{"objectId":"` + room + `","content":{"text":1}}`), []int{400}},
		{"text object", "POST", "/danmu/send", js, []byte(`{"objectId":"` + room + `","content":{"text":{"a":1}}}`), []int{400}},
		{"huge number", "POST", "/danmu/send", js, []byte(`{"objectId":"` + room + `","content":{"text":"x","time":1e999}}`), []int{400}},
		{"NaN time", "POST", "/danmu/send", js, []byte(`{"objectId":"` + room + `","content":{"text":"x","time":"NaN"}}`), []int{400}},
		{"negative time", "POST", "/danmu/send", js, []byte(`{"objectId":"` + room + `","content":{"text":"x","time":-1}}`), []int{400}},
		{"bad color", "POST", "/danmu/send", js, []byte(`{"objectId":"` + room + `","content":{"text":"x","color":"#zzzzzz"}}`), []int{400}},
		{"bad size", "POST", "/danmu/send", js, []byte(`{"objectId":"` + room + `","content":{"text":"x","size":"9999px"}}`), []int{400}},
		{"bad position", "POST", "/danmu/send", js, []byte(`{"objectId":"` + room + `","content":{"text":"x","position":99}}`), []int{400}},
		// Deep nesting: within the body limit, and far over it.
		{"nested 2000", "POST", "/danmu/send", js, deep(2000), []int{400}},
		{"nested in content", "POST", "/danmu/send", js, append([]byte(`{"objectId":"`+room+`","content":{"text":`), deep(3000)...), []int{400}},
		{"nested 100k", "POST", "/danmu/send", js, deep(100_000), []int{413}},
		{"nested objects", "POST", "/danmu/send", js, bytes.Repeat([]byte(`{"a":`), 800), []int{400}},
		// Over the body limit.
		{"64 KiB body", "POST", "/danmu/send", js, bytes.Repeat([]byte(" "), 64<<10), []int{413}},
		// Wrong content types.
		{"no content type", "POST", "/danmu/send", "", []byte(valid), []int{415}},
		{"text/plain", "POST", "/danmu/send", "text/plain", []byte(valid), []int{415}},
		{"form", "POST", "/danmu/send", "application/x-www-form-urlencoded", []byte("objectId=r&text=x"), []int{415}},
		{"multipart", "POST", "/danmu/send", "multipart/form-data; boundary=x", []byte(valid), []int{415}},
		{"bad media type", "POST", "/danmu/send", "application/json; ===", []byte(valid), []int{415}},
		{"jsonx", "POST", "/danmu/send", "application/jsonx", []byte(valid), []int{415}},
		// Invalid UTF-8, NUL bytes and control characters.
		{"invalid utf-8 text", "POST", "/danmu/send", js, []byte("{\"objectId\":\"" + room + "\",\"content\":{\"text\":\"\xff\xfe\xfd\"}}"), []int{400}},
		{"invalid utf-8 object id", "POST", "/danmu/send", js, []byte("{\"objectId\":\"\xc3\x28\",\"content\":{\"text\":\"x\"}}"), []int{400}},
		{"raw NUL", "POST", "/danmu/send", js, []byte("{\"objectId\":\"" + room + "\"\x00,\"content\":{\"text\":\"x\"}}"), []int{400}},
		{"escaped NUL text", "POST", "/danmu/send", js, []byte(`{"objectId":"` + room + `","content":{"text":"a\u0000b"}}`), []int{400}},
		{"escaped NUL object", "POST", "/danmu/send", js, []byte(`{"objectId":"r\u0000","content":{"text":"x"}}`), []int{400}},
		{"control chars", "POST", "/danmu/send", js, []byte(`{"objectId":"` + room + `","content":{"text":"a\u001bb"}}`), []int{400}},
		{"blank text", "POST", "/danmu/send", js, []byte(`{"objectId":"` + room + `","content":{"text":"   "}}`), []int{400}},
		// Overlong fields.
		{"long object id", "POST", "/danmu/send", js, []byte(`{"objectId":"` + strings.Repeat("a", 129) + `","content":{"text":"x"}}`), []int{400}},
		{"long text", "POST", "/danmu/send", js, []byte(`{"objectId":"` + room + `","content":{"text":"` + strings.Repeat("弹", 101) + `"}}`), []int{400}},
		{"long user id", "POST", "/danmu/send", js, []byte(`{"objectId":"` + room + `","userId":"` + strings.Repeat("u", 200) + `","content":{"text":"x"}}`), []int{400}},
		{"object id chars", "POST", "/danmu/send", js, []byte(`{"objectId":"a/b<script>","content":{"text":"x"}}`), []int{400}},
		// Bad ids, cursors and parameters.
		{"bad id", "DELETE", "/danmu/item/" + room + "/abc", "", nil, []int{400}},
		{"negative id", "DELETE", "/danmu/item/" + room + "/-1", "", nil, []int{400}},
		{"long id", "DELETE", "/danmu/item/" + room + "/" + strings.Repeat("9", 40), "", nil, []int{400}},
		{"leading zero id", "DELETE", "/danmu/item/" + room + "/0001", "", nil, []int{400}},
		{"missing id", "DELETE", "/danmu/item/" + room + "/1", "", nil, []int{404}},
		{"bad delete room", "DELETE", "/danmu/item/a%20b/1", "", nil, []int{400}},
		{"bad cursor", "GET", "/danmu/pull/" + room + "?cursor=abc", "", nil, []int{400}},
		{"negative cursor", "GET", "/danmu/pull/" + room + "?cursor=-2", "", nil, []int{400}},
		{"float cursor", "GET", "/danmu/pull/" + room + "?cursor=1e10", "", nil, []int{400}},
		{"long cursor", "GET", "/danmu/pull/" + room + "?cursor=" + strings.Repeat("1", 500), "", nil, []int{400}},
		{"bad size", "GET", "/danmu/pull/" + room + "?size=abc", "", nil, []int{400}},
		{"negative size", "GET", "/danmu/pull/" + room + "?size=-1", "", nil, []int{400}},
		{"huge size", "GET", "/danmu/pull/" + room + "?size=99999999999999999999", "", nil, []int{400}},
		{"NaN playingTime", "GET", "/danmu/queryByTime/" + room + "?playingTime=NaN", "", nil, []int{400}},
		{"Inf playingTime", "GET", "/danmu/queryByTime/" + room + "?playingTime=Inf", "", nil, []int{400}},
		{"huge playingTime", "GET", "/danmu/queryByTime/" + room + "?playingTime=1e300", "", nil, []int{400}},
		{"bad room in path", "GET", "/danmu/queryByTime/" + strings.Repeat("x", 300), "", nil, []int{400}},
		{"bad user cursor", "GET", "/danmu/user/u1?cursor=zz", "", nil, []int{400}},
		{"bad buckets", "GET", "/danmu/heatmap/" + room + "?buckets=-5", "", nil, []int{400}},
		{"huge buckets", "GET", "/danmu/heatmap/" + room + "?buckets=1000000", "", nil, []int{400}},
		{"bad ws room", "GET", "/danmu/ws/" + strings.Repeat("x", 200), "", nil, []int{400}},
		{"ws without upgrade", "GET", "/danmu/ws/" + room, "", nil, []int{400}},
		// Unknown routes and methods.
		{"unknown route", "GET", "/nope", "", nil, []int{404}},
		{"unknown api route", "GET", "/danmu/nope/x", "", nil, []int{404}},
		{"unknown admin route", "POST", "/admin/api/nope", js, []byte(`{}`), []int{404}},
		{"GET send", "GET", "/danmu/send", "", nil, []int{405}},
		{"PUT send", "PUT", "/danmu/send", js, []byte(valid), []int{405}},
		{"PATCH pull", "PATCH", "/danmu/pull/" + room, js, []byte(`{}`), []int{405}},
		{"DELETE send", "DELETE", "/danmu/send", "", nil, []int{405}},
		{"odd method", "BREW", "/danmu/send", "", nil, []int{405}},
	}
	// Every proper prefix of a valid body is invalid JSON.
	cut := rng.IntN(len(valid))
	r = append(r, badRequest{fmt.Sprintf("prefix %d", cut), "POST", "/danmu/send", js, []byte(valid[:cut]), []int{400}})
	// Garbage that cannot start a JSON value.
	g := make([]byte, 1+rng.IntN(3000))
	for i := range g {
		g[i] = byte(rng.UintN(256))
	}
	g[0] = 0x01
	r = append(r, badRequest{fmt.Sprintf("garbage %d", round), "POST", "/danmu/send", js, g, []int{400}})
	return r
}

// TestMalformedRequests sends thousands of malformed requests of many
// kinds, and valid danmaku in between. Each malformed request must get a
// 4xx JSON error that is not an internal error; the server must stay up
// with bounded memory; every valid danmaku must be stored exactly once and
// delivered to a watcher, and nothing else stored.
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-rate-limits=false", "-tick", "100ms")
	const room = "hostile-http"
	tok := s.token("good-sender", "viewer")
	w := s.watch(room)
	c := newClient()
	rss0 := s.rssKB()

	const rounds, workers = 40, 8
	var mu sync.Mutex
	var valid []string
	var bad atomic.Int64
	var wg sync.WaitGroup
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(wk), 42))
			for round := wk; round < rounds; round += workers {
				for i, br := range malformed(room, round, rng) {
					if t.Failed() {
						return
					}
					checkBad(t, c, s.url, tok, br)
					bad.Add(1)
					if i%10 == 0 {
						text := fmt.Sprintf("valid %d-%d", round, i)
						send(t, c, s.url, tok, room, text)
						mu.Lock()
						valid = append(valid, text)
						mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// A few bodies far over the limit.
	for _, n := range []int{1 << 20, 10 << 20} {
		checkBad(t, c, s.url, tok, badRequest{fmt.Sprintf("%d byte body", n), "POST", "/danmu/send", "application/json", bytes.Repeat([]byte("["), n), []int{413}})
	}
	s.alive()
	w.waitFor(t, valid, 30*time.Second)
	stored := storedTexts(t, c, s.url, room)
	for _, text := range valid {
		if stored[text] != 1 {
			t.Errorf("valid danmaku %q stored %d times", text, stored[text])
		}
	}
	if len(stored) != len(valid) {
		t.Errorf("%d distinct texts stored, %d valid sent: a malformed request was stored", len(stored), len(valid))
		for text := range stored {
			if !strings.HasPrefix(text, "valid ") {
				t.Errorf("stored from a malformed request: %q", text)
			}
		}
	}
	w.checkContiguous(t)
	rss1 := s.rssKB()
	t.Logf("%d malformed requests, %d valid danmaku; RSS %d KiB before, %d KiB after", bad.Load(), len(valid), rss0, rss1)
	if rss1 > 200<<10 {
		t.Errorf("RSS grew to %d KiB", rss1)
	}
}

// checkBad sends br with a valid token and checks the answer.
func checkBad(t *testing.T, c *http.Client, base, tok string, br badRequest) {
	t.Helper()
	req, err := http.NewRequest(br.method, base+br.path, bytes.NewReader(br.body))
	if err != nil {
		t.Fatalf("%s: %v", br.name, err)
	}
	if br.body == nil {
		req.Body = http.NoBody
	}
	if br.ctype != "" {
		req.Header.Set("Content-Type", br.ctype)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		t.Errorf("%s: %v", br.name, err)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	ok := false
	for _, st := range br.want {
		ok = ok || resp.StatusCode == st
	}
	if !ok {
		t.Errorf("%s: got %s %s, want %v", br.name, resp.Status, body, br.want)
		return
	}
	if !isJSONError(body) {
		t.Errorf("%s: %s answer is not a JSON error: %s", br.name, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q", br.name, ct)
	}
}
