package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// axeViolation is one rule that axe-core found broken, with up to five of
// the elements that break it.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeSerious runs axe-core (the npm package, loaded into the page) on the
// tab and returns its serious and critical violations.
func axeSerious(t *testing.T, p *tab, script string) []axeViolation {
	t.Helper()
	eval[bool](p, script+"\n;true")
	return eval[[]axeViolation](p, `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations
		.filter((v) => v.impact === 'serious' || v.impact === 'critical')
		.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) })))`)
}

// TestAccessibility checks the player (with each of its panels open) and
// the admin page, at 1280×720 and on a 390×844 phone, with axe-core: no
// serious or critical violations.
func TestAccessibility(t *testing.T) {
	setup(t)
	b, err := os.ReadFile(filepath.Join(shared.repoRoot, "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is missing (%v): run npm ci at the module root", err)
	}
	script := string(b)
	obj := uniqueObject("a11y")
	postDanmaku(t, obj, "a11y-user", "accessible danmaku", 1, 10)
	for _, size := range []struct {
		name          string
		width, height int64
		phone         bool
	}{{"desktop", 1280, 720, false}, {"phone", 390, 844, true}} {
		t.Run("player/"+size.name, func(t *testing.T) {
			p := openSized(t, "/watch/"+obj, size.width, size.height, size.phone)
			p.seek(9.5)
			p.waitText("accessible danmaku", 5*time.Second)
			for _, panel := range []string{"", "#settings-button", "#list-button", "#style-button"} {
				if panel != "" {
					p.do("open "+panel, chromedp.Click(chromedp.CSS(panel)))
				}
				if v := axeSerious(t, p, script); len(v) > 0 {
					t.Errorf("with %q open: %+v", panel, v)
				}
				if panel != "" {
					p.do("close "+panel, chromedp.Click(chromedp.CSS(panel)))
				}
			}
		})
		t.Run("admin/"+size.name, func(t *testing.T) {
			p := openSized(t, "/admin", size.width, size.height, size.phone)
			if v := axeSerious(t, p, script); len(v) > 0 {
				t.Errorf("sign-in page: %+v", v)
			}
			eval[bool](p, fmt.Sprintf(`(sessionStorage.setItem('danmakud.adminToken', %s), true)`, jsString(shared.adminToken)))
			p.do("reload", chromedp.Reload())
			p.waitFor(`window.__admin !== undefined && window.__admin.signedIn() && window.__admin.feedState().startsWith('live')`,
				10*time.Second, "the admin page did not accept the token")
			p.watchRoom(obj)
			postDanmaku(t, obj, "a11y-user", "seen by the admin", 1, 12)
			p.waitFor(`window.__admin.feed().length >= 1`, 5*time.Second, "the feed is empty")
			if v := axeSerious(t, p, script); len(v) > 0 {
				t.Errorf("signed in: %+v", v)
			}
		})
	}
}
