package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testAddr returns the Redis of the test run (testenv.RedisAddr).
func testAddr(t *testing.T) string {
	t.Helper()
	return testenv.RedisAddr(t)
}

// newClient returns a client of its own, as a separate node would have,
// closed at the end of the test.
func newClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:         addr,
		DialTimeout:  300 * time.Millisecond,
		ReadTimeout:  300 * time.Millisecond,
		WriteTimeout: 300 * time.Millisecond,
		MaxRetries:   -1,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// testOptions returns options with a key prefix unique to this test.
func testOptions(t *testing.T) Options {
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "test:" + strings.ReplaceAll(t.Name(), "/", ".") + ":" + hex.EncodeToString(b[:]) + ":"
	addr := testAddr(t)
	t.Cleanup(func() { dropKeys(t, addr, prefix) })
	return Options{
		Prefix:      prefix,
		ReloadEvery: 10 * time.Second,
		Timeout:     time.Second,
	}
}

// eventually waits for cond, failing the test after a generous deadline
// that only a broken implementation reaches.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantCode fails unless err is a *danmaku.Error with code.
func wantCode(t *testing.T, err error, code string) *danmaku.Error {
	t.Helper()
	var e *danmaku.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("err = %v; want a *danmaku.Error with code %s", err, code)
	}
	return e
}

func syncAll(t *testing.T, syncs ...func(context.Context) error) {
	t.Helper()
	for _, s := range syncs {
		mustOK(t, s(context.Background()))
	}
}

// dropKeys deletes the keys a test left in the shared Redis.
func dropKeys(t *testing.T, addr, prefix string) {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		c.Del(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Logf("drop test keys: %v", err)
	}
}
