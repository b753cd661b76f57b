package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
	goredis "github.com/redis/go-redis/v9"
)

// TestClusterSettingsOutliveRedis makes bans, words, a pause, slow mode,
// tick settings and a live session through one node of a cluster on
// DynamoDB, flushes Redis (which loses every copy it held), and starts a
// new node: the new node finds every setting in force, because the store
// keeps them and nodes load them from it when they start. Then it flushes
// Redis under the running nodes, and the first node finds them all in
// force again once a node has noticed and restored them.
func TestClusterSettingsOutliveRedis(t *testing.T) {
	testenv.SkipShort(t, "cluster: the two-node run is slow")
	script := testenv.DynaliteScript(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := testenv.Binary(t)
	dyn, err := testenv.StartDynalite(ctx, testenv.DynaliteConfig{Script: script, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dyn.Close)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	table := "settings-" + hex.EncodeToString(rnd[:])
	if err := dyn.CreateTable(ctx, bin, table); err != nil {
		t.Fatal(err)
	}
	rs := testenv.StartRedis(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: rs.Addr()})
	defer rdb.Close()

	secret := strings.Repeat("s", 40)
	token := func(user, role string) string {
		t.Helper()
		out, err := exec.Command(bin, "-secret", secret, "token", "-user", user, "-role", role).Output()
		if err != nil {
			t.Fatalf("danmakud token: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	flags := []string{"-store", "dynamodb", "-dynamodb-endpoint", dyn.Endpoint(), "-dynamodb-table", table, "-rate-limits=true"}
	a := startNodes(ctx, t, bin, rs.Addr(), secret, []string{"a"}, flags...)["a"]
	testenv.SetModeration(t, a.URL(), "cl", token)

	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	b := startNodes(ctx, t, bin, rs.Addr(), secret, []string{"b"}, flags...)["b"]
	testenv.CheckModeration(t, b.URL(), "cl", token)

	// Redis flushed under running nodes: one of them notices and puts the
	// stored settings back, and every node has them again.
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	admin := token("boss", "admin")
	has := func(path, want string) bool {
		return strings.Contains(string(testenv.Call(t, "GET", a.URL()+path, admin, nil).Body), want)
	}
	// The live session is read from Redis, and it is restored after the
	// bans, words, pauses and slow modes: once it is back, so are they.
	waitFor(t, 30*time.Second, "node a to have the settings again", func() bool {
		return has("/admin/api/rooms/cl-live", "startedAt") && has("/admin/api/bans", `"perm"`) && has("/admin/api/words", "zorbleflux") &&
			has("/admin/api/words?room=cl-open", "durfoo") && has("/admin/api/rooms/cl-paused", `"paused":true`) &&
			has("/admin/api/rooms/cl-slow", `"slowModeSeconds":600`)
	})
	testenv.CheckModeration(t, a.URL(), "cl", token)
}
