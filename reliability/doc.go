// Package reliability measures how danmakud behaves when things go wrong:
// a server killed with SIGKILL in the middle of a stream of sends, and a
// DynamoDB store (dynalite) that goes away and comes back. It starts real
// processes (danmakud, node running dynalite) on loopback addresses, drives
// them over HTTP and checks the stored result through the public API.
//
// cmd/danmaku-chaos runs the long versions and prints the figures; the tests
// in this package run short versions and assert on them (go test -short
// skips them: they are slow). The processes are started and stopped with
// internal/testenv.
package reliability

import "io"

// orDiscard returns w, or io.Discard when w is nil.
func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
