// Package e2e holds danmakud's browser tests: they build and start the real
// server binary (anonymous identities, an admin password, rate limits off),
// drive Debian's Chromium with chromedp, and check the player as a viewer
// sees it and the admin page as a moderator uses it. TestSignInToSend starts
// a second server with anonymous mode off to check the player's sign-in.
// session_test.go replays live sessions through the API and the player,
// and TestSessionSurvivesACrash kills and restarts a server of its own
// in the middle of a session.
// The harness is internal/testenv (the server, built once) and
// internal/browsertest (Chromium). Run scripts/browser.sh first to install
// Chromium; without it the tests fail. go test -short skips the suite,
// saying so: it is slow.
//
// Set DANMAKUD_UPDATE_SCREENSHOT=1 to refresh docs/screenshot-player.png
// and docs/screenshot-admin.png; artifacts/ always gets fresh copies.
package e2e
