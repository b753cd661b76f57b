package cluster

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
	goredis "github.com/redis/go-redis/v9"
)

// TestClusterShadowIsNeverPublished runs two danmakud nodes on a private
// redis-server with a shadow word, viewers on both, and sends to node a a
// shadowed danmaku between two normal ones: the viewers on both nodes
// receive the normal ones through Redis and never the shadowed one.
func TestClusterShadowIsNeverPublished(t *testing.T) {
	testenv.SkipShort(t, "cluster: the two-node run is slow")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := testenv.Binary(t)
	words := filepath.Join(t.TempDir(), "words.txt")
	if err := os.WriteFile(words, []byte("spamword,shadow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rs := testenv.StartRedis(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: rs.Addr()})
	defer rdb.Close()
	nodes := startNodes(ctx, t, bin, rs.Addr(), strings.Repeat("s", 40), []string{"a", "b"}, "-words", words)
	const room = "quiet-1"
	viewers := []*watcher{watch(t, "a0", nodes["a"].URL(), room), watch(t, "b0", nodes["b"].URL(), room)}
	waitFor(t, 10*time.Second, "a leader", func() bool { return rdb.Get(ctx, "danmakud:{"+room+"}:lease").Val() != "" })
	client := &http.Client{Timeout: 10 * time.Second}
	for _, text := range []string{"before", "spamword here", "after"} {
		if r := send(client, nodes["a"].URL(), room, "u1", text); r.Status != http.StatusOK || r.ID == "" {
			t.Fatalf("send %q: status %d", text, r.Status)
		}
	}
	for _, v := range viewers {
		// "after" was sent last: once it is in, anything published before
		// it is in too.
		waitFor(t, 10*time.Second, "viewer "+v.name+" to receive the last danmaku", func() bool { return counts(v.snapshot())["after"] == 1 })
		got := counts(v.snapshot())
		if got["before"] != 1 || got["spamword here"] != 0 {
			t.Errorf("viewer %s received %v; want before and after, never the shadowed danmaku", v.name, got)
		}
		for _, b := range v.snapshot() {
			if strings.Contains(b.raw, "spamword") || strings.Contains(b.raw, "shadow") {
				t.Errorf("viewer %s received %s", v.name, b.raw)
			}
		}
	}
}
