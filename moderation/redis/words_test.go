package redis

import (
	"testing"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/moderation"
)

func twoWords(t *testing.T) (a, b *Words) {
	addr := testAddr(t)
	opts := testOptions(t)
	a = NewWords(newClient(t, addr), opts)
	t.Cleanup(func() { a.Close() })
	b = NewWords(newClient(t, addr), opts)
	t.Cleanup(func() { b.Close() })
	syncAll(t, a.Sync, b.Sync)
	return a, b
}

func TestWordsAcrossNodes(t *testing.T) {
	a, b := twoWords(t)
	mustOK(t, a.Add(
		moderation.Rule{Word: "badword", Action: moderation.Mask},
		moderation.Rule{Word: " spoiler ", Room: "r1", Action: moderation.Reject},
	))
	if v := a.Check("r1", "a badword here"); v.Action != moderation.Mask {
		t.Fatalf("node A's own edit: %+v", v)
	}
	eventually(t, "node B to get both lists", func() bool {
		return b.Check("r1", "spoiler!").Action == moderation.Reject && b.Check("", "badword").Action == moderation.Mask
	})

	tests := []struct {
		room, text string
		action     moderation.Action
		out        string
	}{
		{"", "a badword here", moderation.Mask, "a ******* here"},
		{"r1", "ＢＡＤ word", moderation.Mask, "*** ****"},
		{"r1", "s p o i l e r", moderation.Reject, "s p o i l e r"},
		{"r2", "spoiler", moderation.Allow, "spoiler"},
		{"r2", "fine", moderation.Allow, "fine"},
	}
	for _, tt := range tests {
		v := b.Check(tt.room, tt.text)
		if v.Action != tt.action || v.Text != tt.out {
			t.Errorf("B.Check(%q, %q) = %v %q; want %v %q", tt.room, tt.text, v.Action, v.Text, tt.action, tt.out)
		}
	}
	if l := b.List("r1"); len(l) != 1 || l[0].Word != "spoiler" || l[0].Action != moderation.Reject {
		t.Fatalf("B.List(r1) = %+v", l)
	}

	// Changing an action and removing a word reach the other node.
	mustOK(t, b.Add(moderation.Rule{Word: "BADWORD", Action: moderation.Shadow}))
	eventually(t, "node A to see the new action", func() bool { return a.Check("", "badword").Action == moderation.Shadow })
	ok, err := a.Remove("r1", "Spoiler")
	mustOK(t, err)
	if !ok {
		t.Fatal("Remove reported no word")
	}
	eventually(t, "node B to see the removal", func() bool { return b.Check("r1", "spoiler").Action == moderation.Allow })
	if l := b.List("r1"); len(l) != 0 {
		t.Fatalf("B.List(r1) after removal = %+v", l)
	}
	ok, err = a.Remove("r1", "spoiler")
	mustOK(t, err)
	if ok {
		t.Fatal("second Remove reported a word")
	}
}

func TestWordsInvalid(t *testing.T) {
	a, b := twoWords(t)
	err := a.Add(moderation.Rule{Word: "good"}, moderation.Rule{Word: "!!!", Action: moderation.Mask})
	wantCode(t, err, danmaku.EINVALID)
	syncAll(t, b.Sync)
	if l := b.List(""); len(l) != 0 {
		t.Fatalf("an invalid batch added %+v", l)
	}
}

// TestWordsSyncLoadsExisting checks that a node started later loads the
// lists already in Redis.
func TestWordsSyncLoadsExisting(t *testing.T) {
	addr := testAddr(t)
	opts := testOptions(t)
	a := NewWords(newClient(t, addr), opts)
	defer a.Close()
	mustOK(t, a.Add(moderation.Rule{Word: "alpha", Action: moderation.Reject}, moderation.Rule{Room: "r7", Word: "beta", Action: moderation.Shadow}))
	late := NewWords(newClient(t, addr), opts)
	defer late.Close()
	syncAll(t, late.Sync)
	if late.Check("r7", "alpha beta").Action != moderation.Reject || late.Check("r7", "beta").Action != moderation.Shadow {
		t.Fatalf("the late node has global %+v and room %+v", late.List(""), late.List("r7"))
	}
}
