package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/internal/testenv"
	"github.com/danmakud/danmakud/internal/wsclient"
	"github.com/danmakud/danmakud/live"
	goredis "github.com/redis/go-redis/v9"
)

// testAddr returns the Redis of the test run (testenv.RedisAddr).
func testAddr(t testing.TB) string {
	t.Helper()
	return testenv.RedisAddr(t)
}

// testPrefix returns a key prefix of its own for a test and removes its
// keys when the test ends.
func testPrefix(t testing.TB, rdb *goredis.Client) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	p := "dmtest-" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, p+":*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return p
}

// cluster is one test's Redis namespace and the nodes on it.
type cluster struct {
	t      testing.TB
	addr   string
	rdb    *goredis.Client
	prefix string
	// Settings of the members started next; zero means the fast test ones
	// (and the default history window).
	tick, poll, ttl, history time.Duration
}

func newCluster(t testing.TB) *cluster {
	return newClusterAt(t, testAddr(t))
}

// newClusterAt is newCluster on the Redis at addr.
func newClusterAt(t testing.TB, addr string) *cluster {
	rdb := NewClient(addr)
	t.Cleanup(func() { _ = rdb.Close() })
	return &cluster{t: t, addr: addr, rdb: rdb, prefix: testPrefix(t, rdb)}
}

// member is one node: a real hub behind an HTTP server, and its Node.
type member struct {
	hub  *live.Hub
	node *Node
	rdb  *goredis.Client
	srv  *httptest.Server
}

// start runs a node named id against addr (the cluster's Redis unless
// given).
func (c *cluster) start(id, addr string) *member {
	t := c.t
	if addr == "" {
		addr = c.addr
	}
	tick, poll, ttl := c.tick, c.poll, c.ttl
	if tick == 0 {
		tick, poll, ttl = 100*time.Millisecond, 50*time.Millisecond, 600*time.Millisecond
	}
	hub, err := live.New(live.Config{DefaultRoom: live.RoomConfig{TickInterval: tick}})
	if err != nil {
		t.Fatal(err)
	}
	rdb := NewClient(addr)
	node, err := New(Config{Client: rdb, Hub: hub, NodeID: id, Prefix: c.prefix, LeaseTTL: ttl, Poll: poll, History: c.history})
	if err != nil {
		t.Fatal(err)
	}
	hub.SetRemote(node)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /danmu/ws/{objectId}", hub.ServeWS)
	m := &member{hub: hub, node: node, rdb: rdb, srv: httptest.NewServer(mux)}
	t.Cleanup(m.stop)
	return m
}

// stop closes the member; it is safe to call twice.
func (m *member) stop() {
	_ = m.node.Close()
	_ = m.hub.Close()
	m.srv.Close()
	_ = m.rdb.Close()
}

// kill stops a member the way a crash does: its Redis connection goes
// first, so it cannot release its leases.
func (m *member) kill() {
	_ = m.rdb.Close()
	m.stop()
}

var testIDs = danmaku.NewIDGenNode(3, time.Now)

func newDanmaku(room, user, text string) *danmaku.Danmaku {
	return &danmaku.Danmaku{
		ID: testIDs.Next(0), ObjectID: room, UserID: user, CreatedAt: time.Now().UnixMilli(),
		Content: danmaku.Content{Text: text, Color: danmaku.White, Size: danmaku.SizeMedium, Position: danmaku.ModeScroll},
	}
}

// outBatch is a batch read back from an output stream.
type outBatch struct {
	Type  string             `json:"type"`
	Seq   uint64             `json:"seq"`
	Items []*danmaku.Danmaku `json:"items"`
}

// batches returns the batches of room's output stream, oldest first.
func (c *cluster) batches(room string) []outBatch {
	c.t.Helper()
	msgs, err := c.rdb.XRange(context.Background(), c.prefix+":{"+room+"}:out", "-", "+").Result()
	if err != nil {
		c.t.Fatal(err)
	}
	var out []outBatch
	for _, m := range msgs {
		b, ok := batchOf(m)
		if !ok {
			continue
		}
		var ob outBatch
		if err := json.Unmarshal(b.Payload, &ob); err != nil {
			c.t.Fatal(err)
		}
		if ob.Seq != b.Seq {
			c.t.Fatalf("entry seq %d, payload seq %d", b.Seq, ob.Seq)
		}
		out = append(out, ob)
	}
	return out
}

// waitTexts waits until room's output holds every text in want, then
// checks that seq runs 1, 2, 3… and that each text came exactly once.
func (c *cluster) waitTexts(room string, want []string) []outBatch {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		bs := c.batches(room)
		seen := make(map[string]int)
		for i, b := range bs {
			if b.Seq != uint64(i+1) {
				c.t.Fatalf("batch %d has seq %d: seq is not contiguous", i, b.Seq)
			}
			for _, d := range b.Items {
				seen[d.Content.Text] += max(d.Count, 1)
			}
		}
		missing := 0
		for _, w := range want {
			switch seen[w] {
			case 0:
				missing++
			case 1:
			default:
				c.t.Fatalf("%q broadcast %d times", w, seen[w])
			}
		}
		if missing == 0 {
			if len(seen) != len(want) {
				c.t.Fatalf("broadcast %d texts, want %d", len(seen), len(want))
			}
			return bs
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%d of %d danmaku never broadcast", missing, len(want))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lease returns the holder of room's lease, or "".
func (c *cluster) lease(room string) string {
	v, _ := c.rdb.Get(context.Background(), c.prefix+":{"+room+"}:lease").Result()
	return v
}

// waitLeader waits until some node holds room's lease and returns it.
func (c *cluster) waitLeader(room string) string {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if v := c.lease(room); v != "" {
			return v
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no node took the lease")
	return ""
}

func TestOneLeaderPerRoom(t *testing.T) {
	c := newCluster(t)
	a, b := c.start("a", ""), c.start("b", "")
	ctx := context.Background()
	var want []string
	for i := range 20 {
		text := "x" + strconv.Itoa(i)
		want = append(want, text)
		m := a
		if i%2 == 1 {
			m = b
		}
		if err := m.node.Publish(ctx, newDanmaku("r1", "u"+strconv.Itoa(i%3), text), false); err != nil {
			t.Fatal(err)
		}
	}
	leader := c.waitLeader("r1")
	c.waitTexts("r1", want)
	// Both nodes stay candidates; the holder keeps the lease.
	for range 10 {
		time.Sleep(60 * time.Millisecond)
		if got := c.lease("r1"); got != leader {
			t.Fatalf("lease moved from %q to %q while its holder lives", leader, got)
		}
	}
	sa, sb := a.node.Stats(), b.node.Stats()
	if got := sa.Takeovers + sb.Takeovers; got != 1 {
		t.Fatalf("takeovers = %d, want 1", got)
	}
	if sa.LedRooms+sb.LedRooms != 1 || sa.CandidateRooms != 1 || sb.CandidateRooms != 1 {
		t.Fatalf("led rooms %d and %d, candidates %d and %d: want one leader of the one room both compete for",
			sa.LedRooms, sb.LedRooms, sa.CandidateRooms, sb.CandidateRooms)
	}
	if got, want := sa.Batches+sb.Batches, uint64(len(c.batches("r1"))); got != want {
		t.Fatalf("leader batches counted %d, output stream holds %d", got, want)
	}
	if sa.Published+sb.Published != 20 {
		t.Fatalf("published %d and %d, want 20 in all", sa.Published, sb.Published)
	}
}

func TestLostLeaseCannotAppend(t *testing.T) {
	c := newCluster(t)
	hub, err := live.New(live.Config{DefaultRoom: live.RoomConfig{TickInterval: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	rdb := NewClient(c.addr)
	defer rdb.Close()
	// No loops run for this room: the test drives step itself.
	n, err := New(Config{Client: rdb, Hub: hub, NodeID: "old", Prefix: c.prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	var st leaderState
	if _, err := n.step("r2", &st); err != nil || !st.leader {
		t.Fatalf("step: leader=%v err=%v", st.leader, err)
	}
	if s := n.Stats(); s.LedRooms != 1 || s.Takeovers != 1 {
		t.Fatalf("after taking the lease: %d led rooms, %d takeovers; want 1 and 1", s.LedRooms, s.Takeovers)
	}
	if err := n.appendInput(newDanmaku("r2", "u", "one"), false); err != nil {
		t.Fatal(err)
	}
	// Another node takes the lease (as after a pause longer than the TTL).
	if err := c.rdb.Set(context.Background(), c.prefix+":{r2}:lease", "new", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond) // Let the danmaku's tick interval end.
	if _, err := n.step("r2", &st); err != nil {
		t.Fatal(err)
	}
	if st.leader {
		t.Fatal("node still thinks it leads")
	}
	if s := n.Stats(); s.LedRooms != 0 || s.LostLease != 1 {
		t.Fatalf("after losing the lease: %d led rooms, %d leases lost; want 0 and 1", s.LedRooms, s.LostLease)
	}
	if bs := c.batches("r2"); len(bs) != 0 {
		t.Fatalf("a node without the lease appended %d batches", len(bs))
	}
	state, _ := c.rdb.HGetAll(context.Background(), c.prefix+":{r2}:state").Result()
	if state["pos"] != "" || state["seq"] != "" || state["epoch"] == "" {
		t.Fatalf("a node without the lease moved the state: %v (want only the epoch its takeover named)", state)
	}
	// A stale leader with an outdated state cannot append either.
	c.rdb.Set(context.Background(), c.prefix+":{r2}:lease", "old", time.Minute)
	c.rdb.HSet(context.Background(), c.prefix+":{r2}:state", "pos", "0-0", "seq", "7")
	st = leaderState{pos: "0-0", seq: 3, epoch: state["epoch"]}
	n.setLeader(&st, true)
	if _, err := n.step("r2", &st); err != nil {
		t.Fatal(err)
	}
	if st.leader || len(c.batches("r2")) != 0 {
		t.Fatalf("a leader with a stale state appended (leader=%v)", st.leader)
	}
	if s := n.Stats(); s.LedRooms != 0 || s.LostState != 1 || s.Batches != 0 {
		t.Fatalf("after a stale state: %d led rooms, %d lost to the state, %d batches; want 0, 1, 0", s.LedRooms, s.LostState, s.Batches)
	}
}

func TestTakeoverContinuesSeq(t *testing.T) {
	c := newCluster(t)
	a, b := c.start("a", ""), c.start("b", "")
	ctx := context.Background()
	var want []string
	send := func(m *member, from, to int) {
		for i := from; i < to; i++ {
			text := fmt.Sprintf("t%03d", i)
			want = append(want, text)
			if err := m.node.Publish(ctx, newDanmaku("r3", "u"+strconv.Itoa(i%5), text), false); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	send(a, 0, 40)
	leader := c.waitLeader("r3")
	c.waitTexts("r3", want)
	lead, other := a, b
	if leader == "b" {
		lead, other = b, a
	}
	send(other, 40, 60)
	lead.kill()
	send(other, 60, 100)
	bs := c.waitTexts("r3", want)
	if got := c.lease("r3"); got != other.node.NodeID() {
		t.Fatalf("lease held by %q after the leader died", got)
	}
	t.Logf("%d batches, last seq %d", len(bs), bs[len(bs)-1].Seq)
}

func TestBackfillWithoutDuplicates(t *testing.T) {
	c := newCluster(t)
	hub, err := live.New(live.Config{DefaultRoom: live.RoomConfig{TickInterval: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	rdb := NewClient(c.addr)
	defer rdb.Close()
	n, err := New(Config{Client: rdb, Hub: hub, NodeID: "late", Prefix: c.prefix, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	// Danmaku accepted while no node leads the room, over several ticks.
	var want []string
	for i := range 30 {
		text := fmt.Sprintf("b%02d", i)
		want = append(want, text)
		if err := n.appendInput(newDanmaku("r4", "u"+strconv.Itoa(i%4), text), i%7 == 0); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			time.Sleep(120 * time.Millisecond)
		}
	}
	n.touch("r4")
	bs := c.waitTexts("r4", want)
	if len(bs) < 3 {
		t.Fatalf("%d batches for 3 tick intervals: late ticks were merged into one", len(bs))
	}
	// A second leader after this one continues, never repeating.
	_ = n.Close()
	if err := c.rdb.Del(context.Background(), c.prefix+":{r4}:lease").Err(); err != nil {
		t.Fatal(err)
	}
	m := c.start("next", "")
	want = append(want, "after")
	if err := m.node.Publish(context.Background(), newDanmaku("r4", "u", "after"), false); err != nil {
		t.Fatal(err)
	}
	c.waitTexts("r4", want)
}

// viewer is a WebSocket viewer of a member's hub.
type viewer struct {
	t    testing.TB
	conn *wsclient.Conn
}

func (m *member) view(t testing.TB, room string) *viewer {
	t.Helper()
	conn, err := wsclient.Dial(context.Background(), "ws"+strings.TrimPrefix(m.srv.URL, "http")+"/danmu/ws/"+room, wsclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	v := &viewer{t: t, conn: conn}
	if typ, _ := v.next(); typ != "welcome" {
		t.Fatalf("first message %q, want welcome", typ)
	}
	return v
}

// next returns the type and payload of the next text message.
func (v *viewer) next() (string, []byte) {
	v.t.Helper()
	_ = v.conn.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		op, p, err := v.conn.ReadMessage()
		if err != nil {
			v.t.Fatal(err)
		}
		if op != wsclient.OpText {
			continue
		}
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(p, &head); err != nil {
			v.t.Fatal(err)
		}
		return head.Type, p
	}
}

func TestViewersOnEveryNode(t *testing.T) {
	c := newCluster(t)
	a, b := c.start("a", ""), c.start("b", "")
	va, vb := a.view(t, "r5"), b.view(t, "r5")
	d := newDanmaku("r5", "u", "hello")
	if err := a.node.Publish(context.Background(), d, false); err != nil {
		t.Fatal(err)
	}
	var payloads [2]string
	for i, v := range []*viewer{va, vb} {
		typ, p := v.next()
		if typ != "batch" {
			t.Fatalf("viewer %d got %q, want batch", i, typ)
		}
		payloads[i] = string(p)
	}
	if payloads[0] != payloads[1] || !strings.Contains(payloads[0], `"hello"`) || !strings.Contains(payloads[0], `"seq":1`) {
		t.Fatalf("batches differ or miss the danmaku:\n%s\n%s", payloads[0], payloads[1])
	}
	b.node.Delete("r5", d.ID)
	for i, v := range []*viewer{va, vb} {
		if typ, p := v.next(); typ != "delete" || !strings.Contains(string(p), d.ID.String()) {
			t.Fatalf("viewer %d got %s, want the delete", i, p)
		}
	}
	// A joiner gets the batch in its welcome, minus the deleted danmaku.
	conn, err := wsclient.Dial(context.Background(), "ws"+strings.TrimPrefix(b.srv.URL, "http")+"/danmu/ws/r5", wsclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, p, err := conn.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(p), `"seq":1`) || strings.Contains(string(p), `"hello"`) {
		t.Fatalf("welcome %s: want seq 1 without the deleted danmaku", p)
	}
}

func TestFallbackWhenRedisIsDown(t *testing.T) {
	c := newCluster(t)
	m := c.start("lonely", "127.0.0.1:1") // Nothing listens there.
	if m.node.Healthy() {
		t.Fatal("healthy without Redis")
	}
	v := m.view(t, "r6")
	if err := m.node.Publish(context.Background(), newDanmaku("r6", "u", "local"), false); err != nil {
		t.Fatal(err)
	}
	typ, p := v.next()
	if typ != "batch" || !strings.Contains(string(p), `"local"`) {
		t.Fatalf("got %s, want the local batch", p)
	}
	st := m.node.Stats()
	if st.Fallback != 1 || st.Published != 0 || st.Outages != 1 || st.RedisErrors["ping"] < 1 || st.LedRooms != 0 {
		t.Fatalf("stats %+v, want one fallback, one outage and a failed ping", st)
	}
}

func TestSharedSettingsAndSessions(t *testing.T) {
	c := newCluster(t)
	a, b := c.start("a", ""), c.start("b", "")
	start := time.Now()
	if _, err := a.hub.StartLive("r7", start); err != nil {
		t.Fatal(err)
	}
	if off, ok := b.hub.LiveOffset("r7", start.Add(1500*time.Millisecond)); !ok || off != 1500 {
		t.Fatalf("node b: offset %v, live %v; want 1500 ms of node a's session", off, ok)
	}
	if _, err := b.hub.StartLive("r7", start); danmaku.ErrorCode(err) != danmaku.ECONFLICT {
		t.Fatalf("second start on node b: %v, want a conflict", err)
	}
	if s, err := b.hub.EndLive("r7", start.Add(time.Minute)); err != nil || !s.StartedAt.Equal(time.UnixMilli(start.UnixMilli())) {
		t.Fatalf("end on node b: %+v, %v", s, err)
	}
	if _, ok := a.hub.LiveOffset("r7", time.Now()); ok {
		t.Fatal("node a still sees the session node b ended")
	}

	// A cap set on node a holds for the leader, whichever node it is.
	if err := a.hub.SetRoomConfig("r7", live.RoomConfig{TickInterval: 200 * time.Millisecond, MaxPerTick: 2}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := b.node.Publish(context.Background(), newDanmaku("r7", "u"+strconv.Itoa(i), "c"+strconv.Itoa(i)), false); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(c.batches("r7")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no batch")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, bt := range c.batches("r7") {
		if len(bt.Items) > 2 {
			t.Fatalf("batch %d has %d items over the shared cap of 2", bt.Seq, len(bt.Items))
		}
	}
	// The leader counts what the cap left out: the five distinct danmaku
	// are either in a batch or counted.
	accounted := func() uint64 {
		n := a.node.Stats().DroppedByCap + b.node.Stats().DroppedByCap
		for _, bt := range c.batches("r7") {
			n += uint64(len(bt.Items))
		}
		return n
	}
	for accounted() < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 5 danmaku broadcast or counted as left out by the cap", accounted())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if got := accounted(); got != 5 {
		t.Fatalf("%d danmaku broadcast or counted as left out by the cap, want 5", got)
	}
}
