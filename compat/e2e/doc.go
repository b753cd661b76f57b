// Package e2e holds the browser test of danmakud's compatibility layer:
// an unmodified DPlayer (from the npm registry) in Chromium, pointed at the
// real danmakud binary. The harness is internal/testenv (the server) and
// internal/browsertest (Chromium).
//
// The test needs Chromium (scripts/browser.sh installs it) and DPlayer in
// node_modules (scripts/services.sh start runs npm ci). Without them it
// fails with a message saying so, except under go test -short, where it
// is skipped with that message.
package e2e
