package dynamodb

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/internal/testenv"
	"github.com/danmakud/danmakud/store/storetest"
)

// endpoint returns the dynalite of the test run (testenv.DynamoEndpoint).
func endpoint(t *testing.T) string {
	t.Helper()
	return testenv.DynamoEndpoint(t)
}

// uniqueTable returns a table name that no other test uses.
func uniqueTable() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "danmu_test_" + hex.EncodeToString(b[:])
}

// mustOpen opens a store on a new table at the given endpoint, creates the
// table and deletes it when the test ends.
func mustOpen(t *testing.T, endpoint string, deadline time.Duration) *Store {
	t.Helper()
	table := uniqueTable()
	s, err := Open(context.Background(), Config{Endpoint: endpoint, Table: table, RetryDeadline: deadline})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.DeleteTable(context.Background()); err != nil {
			t.Errorf("DeleteTable: %v", err)
		}
		_ = s.Close()
	})
	return s
}

// reopen returns a second store on s's table through another endpoint.
func reopen(t *testing.T, s *Store, endpoint string, deadline time.Duration) *Store {
	t.Helper()
	o, err := Open(context.Background(), Config{Endpoint: endpoint, Table: s.Table(), RetryDeadline: deadline})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close() })
	return o
}

func TestConformance(t *testing.T) {
	e := endpoint(t)
	storetest.Run(t, func(t *testing.T) danmaku.Store { return mustOpen(t, e, 0) })
}

func testDanmaku(gen *danmaku.IDGen, objectID, text string) *danmaku.Danmaku {
	id := gen.Next(14_250)
	return &danmaku.Danmaku{
		ID: id, ObjectID: objectID, UserID: "u1", OwnerID: "o1", CreatedAt: id.UnixMs,
		Content: danmaku.Content{Text: text, Color: 0xff0000, Size: 25, Position: danmaku.ModeTop, Time: 14_250},
	}
}

func TestCreateTableIsIdempotent(t *testing.T) {
	s := mustOpen(t, endpoint(t), 0)
	ctx := context.Background()
	d := testDanmaku(danmaku.NewIDGen(nil), "v", "before")
	if err := s.Put(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTable(ctx); err != nil {
		t.Fatalf("second CreateTable: %v", err)
	}
	if _, err := s.Get(ctx, "v", d.ID); err != nil {
		t.Fatalf("after second CreateTable: %v", err)
	}
	out, err := s.client.DescribeTable(ctx, &ddb.DescribeTableInput{TableName: aws.String(s.Table())})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range out.Table.GlobalSecondaryIndexes {
		names = append(names, aws.ToString(g.IndexName))
	}
	if len(names) != 2 || !strings.Contains(strings.Join(names, ","), IndexUserID) ||
		!strings.Contains(strings.Join(names, ","), IndexUserArrival) {
		t.Fatalf("indexes = %v, want %s and %s", names, IndexUserID, IndexUserArrival)
	}
}

// TestSeedItem reads an item written the way the seed writes it: content
// as a JSON string with its own spellings, no arrival, no shadow.
func TestSeedItem(t *testing.T) {
	s := mustOpen(t, endpoint(t), 0)
	ctx := context.Background()
	id := danmaku.ID{PlayMs: 14_000, UnixMs: 1_584_268_892_123, Seq: 1, Node: 7}
	_, err := s.client.PutItem(ctx, &ddb.PutItemInput{
		TableName: aws.String(s.Table()),
		Item: map[string]types.AttributeValue{
			"objectId":  &types.AttributeValueMemberS{Value: "seed-video"},
			"id":        &types.AttributeValueMemberN{Value: id.String()},
			"userId":    &types.AttributeValueMemberS{Value: "seed-user"},
			"ownerId":   &types.AttributeValueMemberS{Value: "seed-owner"},
			"content":   &types.AttributeValueMemberS{Value: `{"text":"老弹幕","color":"#fff","size":"40px","position":5,"time":14}`},
			"createdAt": &types.AttributeValueMemberN{Value: "1584268892123"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "seed-video", id)
	if err != nil {
		t.Fatal(err)
	}
	want := danmaku.Danmaku{
		ID: id, ObjectID: "seed-video", UserID: "seed-user", OwnerID: "seed-owner", CreatedAt: 1_584_268_892_123,
		Content: danmaku.Content{Text: "老弹幕", Color: 0xffffff, Size: 40, Position: danmaku.ModeTop, Time: 14_000},
	}
	if !sameDanmaku(got, &want) {
		t.Fatalf("seed item = %+v, want %+v", got, want)
	}
	page, err := s.List(ctx, danmaku.Query{ObjectID: "seed-video", Limit: 10})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("List of the seed video = %d items, %v", len(page.Items), err)
	}
}

// faultProxy stands between a store and dynalite and breaks the requests
// of one operation (such as "PutItem") as told.
type faultProxy struct {
	target string // dynalite's URL
	op     string

	mu   sync.Mutex
	plan []fault // Faults for the next requests of op, in order; then forward.
	seen int     // Requests of op received.
}

type fault int

const (
	throttle     fault = iota + 1 // Answer ProvisionedThroughputExceededException.
	serverError                   // Answer 500 InternalServerError.
	forwardDrop                   // Forward to dynalite, then drop the connection unanswered.
	alwaysThrott                  // Answer throttling to every request from now on.
)

func startFaultProxy(t *testing.T, target, op string, plan ...fault) (*faultProxy, string) {
	t.Helper()
	p := &faultProxy{target: target, op: op, plan: plan}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func (p *faultProxy) setPlan(plan ...fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.plan = plan
}

func (p *faultProxy) requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var f fault
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), "."+p.op) {
		p.mu.Lock()
		p.seen++
		if len(p.plan) > 0 {
			f = p.plan[0]
			if f != alwaysThrott {
				p.plan = p.plan[1:]
			}
		}
		p.mu.Unlock()
	}
	switch f {
	case throttle, alwaysThrott:
		writeAWSError(w, http.StatusBadRequest, "ProvisionedThroughputExceededException")
		return
	case serverError:
		writeAWSError(w, http.StatusInternalServerError, "InternalServerError")
		return
	}
	resp, err := forward(r, p.target, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if f == forwardDrop {
		// DynamoDB carried the request out; the client never hears so.
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func forward(r *http.Request, target string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = r.Header.Clone()
	return http.DefaultClient.Do(req)
}

func writeAWSError(w http.ResponseWriter, status int, code string) {
	body := `{"__type":"com.amazonaws.dynamodb.v20120810#` + code + `","message":"injected by the test"}`
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// TestRetriesTransientErrors checks that throttling and 5xx answers are
// retried and the write then lands once.
func TestRetriesTransientErrors(t *testing.T) {
	e := endpoint(t)
	direct := mustOpen(t, e, 0)
	proxy, url := startFaultProxy(t, e, "PutItem", throttle, serverError, throttle)
	s := reopen(t, direct, url, 10*time.Second)
	ctx := context.Background()
	d := testDanmaku(danmaku.NewIDGen(nil), "v", "after three failures")
	if err := s.Put(ctx, d); err != nil {
		t.Fatalf("Put through three transient failures: %v", err)
	}
	if n := proxy.requests(); n != 4 {
		t.Fatalf("PutItem sent %d times, want 4", n)
	}
	got, err := direct.Get(ctx, "v", d.ID)
	if err != nil || !sameDanmaku(got, d) {
		t.Fatalf("stored = %+v, %v; want %+v", got, err, d)
	}
}

// TestLostAnswerIsNotAConflict checks that a Put whose first attempt was
// written but whose answer was lost succeeds on retry rather than
// reporting a conflict with itself, while a real conflict still fails.
func TestLostAnswerIsNotAConflict(t *testing.T) {
	e := endpoint(t)
	direct := mustOpen(t, e, 0)
	proxy, url := startFaultProxy(t, e, "PutItem", forwardDrop, forwardDrop)
	s := reopen(t, direct, url, 10*time.Second)
	ctx := context.Background()
	gen := danmaku.NewIDGen(nil)
	d := testDanmaku(gen, "v", "answer lost")
	if err := s.Put(ctx, d); err != nil {
		t.Fatalf("Put whose answer was lost: %v", err)
	}
	if n := proxy.requests(); n != 3 {
		t.Fatalf("PutItem sent %d times, want 3", n)
	}
	if got, err := direct.Get(ctx, "v", d.ID); err != nil || !sameDanmaku(got, d) {
		t.Fatalf("stored = %+v, %v", got, err)
	}

	// The same id with other content, after a lost answer: still a
	// conflict, and the first danmaku is kept.
	other := testDanmaku(gen, "v", "first")
	if err := direct.Put(ctx, other); err != nil {
		t.Fatal(err)
	}
	clash := *other
	clash.Content.Text = "second"
	proxy.setPlan(forwardDrop)
	if err := s.Put(ctx, &clash); !errors.Is(err, danmaku.ErrConflict) {
		t.Fatalf("Put over another danmaku after a lost answer: %v, want ErrConflict", err)
	}
	if got, _ := direct.Get(ctx, "v", other.ID); got == nil || got.Content.Text != "first" {
		t.Fatalf("stored = %+v, want the first text kept", got)
	}
}

// TestThrottledUntilDeadline checks that a DynamoDB that keeps throttling
// ends in EUNAVAILABLE with RetryAfter, and nothing is written.
func TestThrottledUntilDeadline(t *testing.T) {
	e := endpoint(t)
	direct := mustOpen(t, e, 0)
	proxy, url := startFaultProxy(t, e, "PutItem", alwaysThrott)
	s := reopen(t, direct, url, 300*time.Millisecond)
	ctx := context.Background()
	d := testDanmaku(danmaku.NewIDGen(nil), "v", "never written")
	err := s.Put(ctx, d)
	assertUnavailable(t, err)
	if proxy.requests() < 2 {
		t.Fatalf("PutItem sent %d times, want retries", proxy.requests())
	}
	if _, err := direct.Get(ctx, "v", d.ID); !errors.Is(err, danmaku.ErrNotFound) {
		t.Fatalf("Get after the failed Put: %v, want ErrNotFound", err)
	}
}

// TestUnreachable points a store at a closed port: every call ends in
// EUNAVAILABLE with RetryAfter once the deadline passes.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	const deadline = 300 * time.Millisecond
	s, err := Open(context.Background(), Config{Endpoint: url, Table: "danmu", RetryDeadline: deadline})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	d := testDanmaku(danmaku.NewIDGen(nil), "v", "nowhere")
	calls := []struct {
		name string
		call func() error
	}{
		{"Put", func() error { return s.Put(ctx, d) }},
		{"Get", func() error { _, err := s.Get(ctx, "v", d.ID); return err }},
		{"Delete", func() error { _, err := s.Delete(ctx, "v", d.ID); return err }},
		{"List", func() error { _, err := s.List(ctx, danmaku.Query{ObjectID: "v", Limit: 5}); return err }},
		{"ListByUser", func() error {
			_, err := s.ListByUser(ctx, danmaku.UserQuery{UserID: "u1", Limit: 5})
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			err := c.call()
			assertUnavailable(t, err)
			// Generous bound: the call must end, not hang on a dead server.
			if el := time.Since(start); el > deadline+20*time.Second {
				t.Fatalf("%s took %v with a %v deadline", c.name, el, deadline)
			}
		})
	}
}

func assertUnavailable(t *testing.T, err error) {
	t.Helper()
	if danmaku.ErrorCode(err) != danmaku.EUNAVAILABLE {
		t.Fatalf("err = %v, want code %s", err, danmaku.EUNAVAILABLE)
	}
	if danmaku.ErrorRetryAfter(err) <= 0 {
		t.Fatalf("err %v has no RetryAfter", err)
	}
	if msg := danmaku.ErrorMessage(err); strings.Contains(msg, "127.0.0.1") {
		t.Fatalf("client message %q leaks internals", msg)
	}
}

// TestCanceledContext checks that a caller's cancellation is reported as
// such, not as EUNAVAILABLE.
func TestCanceledContext(t *testing.T) {
	s := mustOpen(t, endpoint(t), 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Put(ctx, testDanmaku(danmaku.NewIDGen(nil), "v", "canceled"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a canceled context: %v", err)
	}
}

func TestPutRequiresObjectID(t *testing.T) {
	s := mustOpen(t, endpoint(t), 0)
	d := testDanmaku(danmaku.NewIDGen(nil), "", "no video")
	if err := s.Put(context.Background(), d); danmaku.ErrorCode(err) != danmaku.EINVALID {
		t.Fatalf("Put without objectId: %v, want %s", err, danmaku.EINVALID)
	}
}

// TestCreateTableOnSeedTable checks that CreateTable reports a table made
// by the seed, which lacks the userId_arrival index, instead of using it.
func TestCreateTableOnSeedTable(t *testing.T) {
	s, err := Open(context.Background(), Config{Endpoint: endpoint(t), Table: uniqueTable()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	seed := createTableInput(s.Table())
	seed.GlobalSecondaryIndexes = seed.GlobalSecondaryIndexes[:1] // userId_id only.
	seed.AttributeDefinitions = seed.AttributeDefinitions[:3]     // No arrival.
	if _, err := s.client.CreateTable(ctx, seed); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.DeleteTable(context.Background()) })
	err = s.CreateTable(ctx)
	if err == nil || !strings.Contains(err.Error(), IndexUserArrival) {
		t.Fatalf("CreateTable on the seed's table: %v, want an error naming %s", err, IndexUserArrival)
	}
}
