package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The environment variables that name the services of a test run
// (scripts/services.sh start prints them).
const (
	RedisEnv  = "DANMAKUD_TEST_REDIS"    // Redis address, such as 127.0.0.1:6390.
	DynamoEnv = "DANMAKUD_TEST_DYNAMODB" // DynamoDB API endpoint (dynalite), such as http://127.0.0.1:8001.
)

// RedisAddr returns the address of the Redis of this test run
// (DANMAKUD_TEST_REDIS). Without it the test fails, or is skipped in
// -short mode, with a message naming Redis.
func RedisAddr(tb testing.TB) string {
	tb.Helper()
	return fromEnv(tb, "Redis", RedisEnv)
}

// DynamoEndpoint returns the DynamoDB API endpoint of this test run
// (DANMAKUD_TEST_DYNAMODB, dynalite). Without it the test fails, or is
// skipped in -short mode, with a message naming dynalite.
func DynamoEndpoint(tb testing.TB) string {
	tb.Helper()
	return fromEnv(tb, "dynalite", DynamoEnv)
}

// fromEnv returns the value of the environment variable that names
// service, or reports the service missing (Need).
func fromEnv(tb testing.TB, service, name string) string {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		Need(tb, service, `set `+name+` (eval "$(scripts/services.sh start)")`)
	}
	return v
}

// DynaliteScript returns the path of dynalite's cli.js in the repository's
// node_modules, for a test that runs a private dynalite (StartDynalite).
// Without node or dynalite the test fails, or is skipped in -short mode.
func DynaliteScript(tb testing.TB) string {
	tb.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		Need(tb, "dynalite", "install node (scripts/services.sh start does)")
	}
	script := filepath.Join(RepoRoot(tb), "node_modules", "dynalite", "cli.js")
	if _, err := os.Stat(script); err != nil {
		Need(tb, "dynalite", "run npm ci (scripts/services.sh start does): "+err.Error())
	}
	return script
}

// SkipShort skips a slow test in -short mode, saying what it is.
func SkipShort(tb testing.TB, what string) {
	tb.Helper()
	if testing.Short() {
		tb.Skipf("%s (skipped in -short mode)", what)
	}
}

// Need reports a missing service: in -short mode it skips the test with a
// message naming the service; otherwise it fails the test with the same
// message, since the full run (scripts/test) must test everything.
func Need(tb testing.TB, service, hint string) {
	tb.Helper()
	if testing.Short() {
		tb.Skipf("%s: %s (skipped in -short mode)", service, hint)
	}
	tb.Fatalf("%s: %s (go test -short skips this test)", service, hint)
}
