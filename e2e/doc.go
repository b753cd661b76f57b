// Package e2e holds danmakud's browser tests: they build and start the real
// server binary, drive Debian's Chromium with chromedp, and check the
// player as a viewer sees it. Run scripts/browser.sh first to install
// Chromium; without it the tests fail.
package e2e
