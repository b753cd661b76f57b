// Package testenv is the harness that danmakud's process-level tests and
// tools share: build the danmakud binary (once per test process: Main and
// Binary), start it on a loopback port, wait for /healthz, kill it,
// restart it on the same address and stop it (Server); run a private
// redis-server (StartRedis) or dynalite (StartDynalite) that a test may
// stop and start again; and find the services of the test run
// (RedisAddr, DynamoEndpoint).
//
// A test that needs a service it cannot find fails with a message naming
// the service, as the full run (scripts/test) requires, except in -short
// mode, where it is skipped with the same message (Need); slow suites skip
// in -short mode too (SkipShort). So "go test -short ./..." is a fast
// loop on a machine without Redis, dynalite or Chromium.
//
// It is internal: tests and the commands of this module (danmaku-chaos,
// danmaku-bench, danmaku-apibench) use it; it is not an API.
package testenv
