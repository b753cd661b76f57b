// Package e2e holds the live package's end-to-end tests: they run the
// real danmakud binary (internal/testenv) and check the continuity of a
// room's batches across room eviction, SIGKILL restarts and viewers that
// reconnect and resume (docs/protocol.md, "Resume").
package e2e
