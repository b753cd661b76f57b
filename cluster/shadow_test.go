package cluster

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/reliability"
	goredis "github.com/redis/go-redis/v9"
)

// TestClusterShadowIsNeverPublished runs two danmakud nodes on a private
// redis-server with a shadow word, viewers on both, and sends to node a a
// shadowed danmaku between two normal ones: the viewers on both nodes
// receive the normal ones through Redis and never the shadowed one.
func TestClusterShadowIsNeverPublished(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, err := reliability.BuildServer(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base, err := reliability.BaseArgs(bin)
	if err != nil {
		t.Fatal(err)
	}
	words := filepath.Join(t.TempDir(), "words.txt")
	if err := os.WriteFile(words, []byte("spamword,shadow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rs := startRedis(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: rs.addr})
	defer rdb.Close()
	nodes := map[string]*reliability.Server{}
	for _, name := range []string{"a", "b"} {
		args := append(append([]string(nil), base...),
			"-redis", rs.addr, "-node-id", name, "-secret", strings.Repeat("s", 40), "-words", words,
			"-data", filepath.Join(t.TempDir(), name), "-tick", "250ms", "-max-per-tick", "1000")
		s, err := reliability.StartServer(ctx, reliability.ServerConfig{Bin: bin, Args: args, Log: logWriter{t, name}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		nodes[name] = s
	}
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
