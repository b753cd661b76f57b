// This file tests the admin page's danmaku browser and reports panel and
// the player's report button against the server's report and browse API
// (POST /danmu/report, GET /admin/api/rooms/{objectId}/danmaku and GET
// /admin/api/reports)..

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browseRow is one row of the admin's danmaku browser.
type browseRow struct {
	ID     string  `json:"id"`
	UserID string  `json:"userId"`
	Text   string  `json:"text"`
	Time   float64 `json:"time"`
	Gone   bool    `json:"gone"`
}

// TestAdminBrowseRoom lists a room's stored danmaku in the admin page by
// time, user and text, deletes one after confirming, and prepares a ban.
func TestAdminBrowseRoom(t *testing.T) {
	setup(t)
	obj := uniqueObject("browse")
	importSample(t, obj, "bilibili-sample-2016.xml")
	keep := postDanmaku(t, obj, "browse-a", "stored and kept", 1, 5)
	gone := postDanmaku(t, obj, "browse-a", "stored then deleted", 1, 6)
	postDanmaku(t, obj, "browse-b", "another user's words", 1, 7)
	admin := openAdmin(t, true)
	search := func(from, user, q string) []browseRow {
		t.Helper()
		eval[bool](admin, fmt.Sprintf(`(() => {
			const set = (id, v) => { document.getElementById(id).value = v; };
			set('browse-room', %s); set('browse-from', %s); set('browse-user', %s); set('browse-q', %s);
			document.getElementById('browse-state').textContent = '';
			return true;
		})()`, jsString(obj), jsString(from), jsString(user), jsString(q)))
		admin.do("search", chromedp.Click(chromedp.CSS(`#browse-form button[type=submit]`)))
		admin.waitFor(`document.getElementById('browse-state').textContent !== ''`, 5*time.Second, "the search did not answer")
		return eval[[]browseRow](admin, `window.__admin.browse()`)
	}
	rows := search("", "browse-a", "")
	if len(rows) != 2 || rows[0].ID != keep || rows[1].ID != gone {
		t.Fatalf("browse-a's danmaku: %+v, want %s and %s by time", rows, keep, gone)
	}
	if rows := search("", "", "another user"); len(rows) != 1 || rows[0].UserID != "browse-b" {
		t.Errorf("text search: %+v", rows)
	}
	if rows := search("1:00", "", ""); len(rows) == 0 || rows[0].Time < 60 {
		t.Errorf("from 1:00: %+v", rows)
	}
	// The 499 imported danmaku page with More.
	all := search("", "", "")
	admin.do("load more", chromedp.Click(chromedp.CSS("#browse-more")))
	admin.waitFor(fmt.Sprintf(`window.__admin.browse().length > %d`, len(all)), 5*time.Second, "More loaded nothing")

	search("", "browse-a", "")
	admin.do("delete", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#browse-rows tr[data-id=%q] button.delete`, gone))))
	admin.answerConfirm(true)
	admin.waitFor(fmt.Sprintf(`window.__admin.browse().some((r) => r.id === %s && r.gone)`, jsString(gone)), 5*time.Second,
		"the deleted row is not struck out")
	status, body := call(t, "GET", "/danmu/queryByTime/"+obj+"?playingTime=0&size=100", "", nil)
	if status != 200 || strings.Contains(string(body), gone) || !strings.Contains(string(body), keep) {
		t.Errorf("stored history after the delete: %d %s", status, body)
	}
	admin.do("ban", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#browse-rows tr[data-id=%q] button.ban`, keep))))
	if got := eval[string](admin, `document.getElementById('ban-user').value + '|' + document.getElementById('ban-room').value`); got != "browse-a|"+obj {
		t.Errorf("ban form = %q, want browse-a|%s", got, obj)
	}
	if errs := admin.pageErrors(); len(errs) > 0 {
		t.Errorf("admin page errors: %q", errs)
	}
}

// TestPlayerReportReachesAdmin reports a danmaku from the player's list
// with a reason: the admin feed shows a report event and the reports
// panel lists it with its danmaku, reporter and reason.
func TestPlayerReportReachesAdmin(t *testing.T) {
	setup(t)
	obj := uniqueObject("report")
	id := postDanmaku(t, obj, "report-target", "report this one", 1, 30)
	admin := openAdmin(t, true)
	admin.watchRoom(obj)
	p := openSized(t, "/watch/"+obj, 1280, 720, false)
	p.seek(29.5)
	p.waitText("report this one", 5*time.Second)
	reporter := eval[string](p, `window.__danmaku.userId`)
	p.do("open the list", chromedp.Click(chromedp.CSS("#list-button")), chromedp.WaitVisible(chromedp.CSS("#list-panel")))
	p.waitFor(`window.__danmaku.list().some((r) => r.text === 'report this one')`, 3*time.Second, "the list lacks the danmaku")
	p.do("report", chromedp.Click(chromedp.CSS(`#list-items li[data-user="report-target"] button.report`)))
	p.waitFor(`document.querySelector('#list-items .report-form select') !== null`, 2*time.Second, "no reason picker")
	p.do("pick spam and send",
		chromedp.SetValue(chromedp.CSS(`#list-items .report-form select`), "spam"),
		chromedp.Click(chromedp.CSS(`#list-items .report-form button[type=submit]`)),
	)
	p.waitFor(`document.getElementById('status').textContent.startsWith('Reported')`, 5*time.Second, "the report was not confirmed")

	admin.waitFor(`window.__admin.feed().some((r) => r.outcome === 'report')`, 5*time.Second, "the feed shows no report")
	admin.waitFor(fmt.Sprintf(`window.__admin.reports().some((r) => r.id === %s && r.reason === 'spam' && r.reporter === %s && r.text === 'report this one')`,
		jsString(id), jsString(reporter)), 5*time.Second, "the reports panel does not list the report")
	if errs := append(p.pageErrors(), admin.pageErrors()...); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}
