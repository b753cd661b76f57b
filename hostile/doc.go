// Package hostile attacks a running danmakud: its tests build the real
// binary, start it on loopback and send it malformed HTTP requests and
// WebSocket frames, forged and expired tokens, cross-origin upgrades,
// slowloris headers, connection floods and viewers that never read, while
// checking that the server stays up, answers every bad request with a
// clear 4xx JSON error, keeps its memory bounded, and stores and delivers
// every valid danmaku sent in between. docs/security.md names the test
// behind each of its claims.
package hostile
