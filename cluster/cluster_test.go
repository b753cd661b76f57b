package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
	"github.com/danmakud/danmakud/reliability"
	goredis "github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m))
}

// sender posts distinct danmaku to one node and remembers every answer.
type sender struct {
	client *http.Client
	base   string
	room   string

	mu      sync.Mutex
	n       int
	results map[string][]sendResult // By phase.
}

// run sends about 40 danmaku a second for d, tagging them with phase.
func (s *sender) run(phase string, d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		s.mu.Lock()
		s.n++
		n := s.n
		s.mu.Unlock()
		r := send(s.client, s.base, s.room, fmt.Sprintf("u%d", n%5), fmt.Sprintf("%s-%04d", phase, n))
		s.mu.Lock()
		s.results[phase] = append(s.results[phase], r)
		s.mu.Unlock()
		time.Sleep(25 * time.Millisecond)
	}
}

// acked returns the texts of the phases' acknowledged sends.
func (s *sender) acked(phases ...string) []sendResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sendResult
	for _, p := range phases {
		for _, r := range s.results[p] {
			if r.Status == http.StatusOK {
				out = append(out, r)
			}
		}
	}
	return out
}

// TestCluster runs three danmakud nodes on one private redis-server and a
// private dynalite: senders on node a, viewers on nodes b and c. It kills the
// room's leader with SIGKILL mid-stream, then stops and restarts Redis, and
// checks identical batches, contiguous seq, and that every acknowledged
// danmaku was broadcast and stored exactly once.
func TestCluster(t *testing.T) {
	testenv.SkipShort(t, "cluster: the three-node run is slow")
	script := testenv.DynaliteScript(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	bin := testenv.Binary(t)
	// A private dynalite that keeps its data on disk, so that the test can
	// stop and restart it without touching the shared one.
	dyn, err := testenv.StartDynalite(ctx, testenv.DynaliteConfig{Script: script, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dyn.Close)
	dynamo := dyn.Endpoint()
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	table := "cluster-" + hex.EncodeToString(rnd[:])
	if err := dyn.CreateTable(ctx, bin, table); err != nil {
		t.Fatal(err)
	}
	rs := testenv.StartRedis(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: rs.Addr()})
	defer rdb.Close()

	nodes := startNodes(ctx, t, bin, rs.Addr(), strings.Repeat("k", 40), []string{"a", "b", "c"},
		"-store", "dynamodb", "-dynamodb-endpoint", dynamo, "-dynamodb-table", table)

	const room = "live-1"
	lease := "danmakud:{" + room + "}:lease"
	viewers := map[string][]*watcher{}
	for _, name := range []string{"b", "c"} {
		for i := range 2 {
			viewers[name] = append(viewers[name], watch(t, fmt.Sprintf("%s%d", name, i), nodes[name].URL(), room))
		}
	}
	waitFor(t, 10*time.Second, "a leader", func() bool { return rdb.Get(ctx, lease).Val() != "" })
	leader := rdb.Get(ctx, lease).Val()
	if leader != "b" && leader != "c" {
		t.Fatalf("leader %q: want b or c, the nodes that watch the room", leader)
	}
	survivor := map[string]string{"b": "c", "c": "b"}[leader]
	t.Logf("leader %s, survivor %s", leader, survivor)

	client := &http.Client{Timeout: 10 * time.Second}
	s := &sender{client: client, base: nodes["a"].URL(), room: room, results: map[string][]sendResult{}}
	s.run("steady", 2*time.Second)

	// Kill the leader mid-stream and time the takeover.
	var takeover time.Duration
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(time.Second)
		nodes[leader].Kill()
		killed := time.Now()
		for time.Since(killed) < 10*time.Second {
			if v := rdb.Get(ctx, lease).Val(); v != "" && v != leader {
				takeover = time.Since(killed)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	s.run("kill", 4*time.Second)
	wg.Wait()
	t.Logf("takeover after %v (new leader %s)", takeover, rdb.Get(ctx, lease).Val())
	if takeover == 0 || takeover > 3*time.Second {
		t.Fatalf("takeover took %v, want at most 3 s", takeover)
	}

	alive := viewers[survivor]
	deliveredOnce := func(phases ...string) {
		t.Helper()
		want := s.acked(phases...)
		for _, v := range alive {
			waitFor(t, 15*time.Second, "viewer "+v.name+" to receive phases "+strings.Join(phases, ","), func() bool {
				c := counts(v.snapshot())
				for _, r := range want {
					if c[r.Text] == 0 {
						return false
					}
				}
				return true
			})
			c := counts(v.snapshot())
			for _, r := range want {
				if c[r.Text] != 1 {
					t.Fatalf("viewer %s received %q %d times", v.name, r.Text, c[r.Text])
				}
			}
		}
	}
	deliveredOnce("steady", "kill")
	checkStream(t, alive, viewers[leader])

	// Redis goes away: sends are still acknowledged and stored, and the
	// nodes say so in /healthz.
	rs.Stop()
	s.run("outage", 3*time.Second)
	if up, err := redisHealth(client, nodes["a"].URL()); err != nil || up {
		t.Fatalf("node a during the outage: redis up=%v err=%v, want down", up, err)
	}
	for _, r := range s.results["outage"] {
		if r.Status != http.StatusOK {
			t.Fatalf("send %q during the Redis outage: status %d", r.Text, r.Status)
		}
	}
	rs.Start()
	for _, name := range []string{"a", survivor} {
		waitFor(t, 15*time.Second, "node "+name+" to rejoin", func() bool {
			up, err := redisHealth(client, nodes[name].URL())
			return err == nil && up
		})
	}
	s.run("after", 2*time.Second)
	deliveredOnce("steady", "kill", "after")
	checkStream(t, alive, nil)
	for _, v := range alive {
		c := counts(v.snapshot())
		for _, r := range s.acked("outage") {
			if c[r.Text] > 1 {
				t.Fatalf("viewer %s received %q %d times", v.name, r.Text, c[r.Text])
			}
		}
	}

	// DynamoDB goes away: each send is stored (200) or refused clearly
	// (503 with Retry-After), viewers keep their connections, and sends
	// succeed again soon after it returns.
	dyn.Kill()
	s.run("dynamo", 3*time.Second)
	refused := 0
	for _, r := range s.results["dynamo"] {
		switch {
		case r.Status == http.StatusOK:
		case r.Status == http.StatusServiceUnavailable && r.RetryAfter != "":
			refused++
		default:
			t.Fatalf("send %q during the DynamoDB outage: status %d, Retry-After %q", r.Text, r.Status, r.RetryAfter)
		}
	}
	if refused == 0 {
		t.Fatal("no send was refused while DynamoDB was down")
	}
	if err := dyn.Start(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	waitFor(t, 15*time.Second, "a send to succeed after DynamoDB returned", func() bool {
		r := send(client, nodes["a"].URL(), room, "u0", fmt.Sprintf("probe-%d", time.Now().UnixNano()))
		return r.Status == http.StatusOK
	})
	t.Logf("DynamoDB outage: %d of %d sends refused with 503; recovered %v after the restart",
		refused, len(s.results["dynamo"]), time.Since(restarted).Round(time.Millisecond))
	s.run("healed", 2*time.Second)
	for _, r := range s.results["healed"] {
		if r.Status != http.StatusOK {
			t.Fatalf("send %q after DynamoDB returned: status %d", r.Text, r.Status)
		}
	}
	deliveredOnce("steady", "kill", "after", "dynamo", "healed")
	checkStream(t, alive, nil)

	// Every acknowledged danmaku is stored exactly once.
	var acks []reliability.Ack
	for _, r := range s.acked("steady", "kill", "outage", "after", "dynamo", "healed") {
		acks = append(acks, reliability.Ack{Video: room, ID: r.ID, Text: r.Text})
	}
	check, err := reliability.Verify(ctx, nodes["a"].URL(), []string{room}, acks, 1000, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("store: %s", check)
	if !check.OK() || check.Checked != len(acks) {
		t.Fatalf("store check failed: %s\n%s", check, strings.Join(check.Examples, "\n"))
	}
	for _, v := range alive {
		bs := v.snapshot()
		t.Logf("viewer %s: %d batches, seq %d..%d", v.name, len(bs), bs[0].Seq, bs[len(bs)-1].Seq)
	}
}

// checkStream checks that the surviving viewers received the same batches
// with seq 1, 2, 3… and that the dead node's viewers received, before they
// were cut off, exactly the same batches.
func checkStream(t *testing.T, alive, dead []*watcher) {
	t.Helper()
	ref := alive[0].snapshot()
	for i, b := range ref {
		if b.Seq != uint64(i+1) {
			t.Fatalf("viewer %s: batch %d has seq %d, want %d", alive[0].name, i, b.Seq, i+1)
		}
	}
	for _, v := range append(alive[1:], dead...) {
		bs := v.snapshot()
		if !slices.Contains(dead, v) && len(bs) != len(ref) {
			t.Fatalf("viewer %s has %d batches, viewer %s %d", v.name, len(bs), alive[0].name, len(ref))
		}
		if len(bs) > len(ref) {
			t.Fatalf("viewer %s of the dead node has %d batches, more than viewer %s's %d", v.name, len(bs), alive[0].name, len(ref))
		}
		for i, b := range bs {
			if b.raw != ref[i].raw {
				t.Fatalf("viewer %s batch %d differs from viewer %s's:\n%s\n%s", v.name, i, alive[0].name, b.raw, ref[i].raw)
			}
		}
	}
	if len(dead) > 0 && len(dead[0].snapshot()) == 0 {
		t.Fatal("the leader's viewers received nothing before the kill")
	}
}
