package moderation

import (
	"context"
	"fmt"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// WordRecord validates r and returns it as the record a
// danmaku.SettingsStore keeps, keyed by its canonical word.
func WordRecord(r Rule) (danmaku.WordRecord, error) {
	key, err := canonicalRule(r)
	if err != nil {
		return danmaku.WordRecord{}, err
	}
	return danmaku.WordRecord{Room: r.Room, Key: key, Word: r.Word, Action: r.Action.String(), Inside: r.Inside}, nil
}

// WordKey returns the key under which a danmaku.SettingsStore keeps word,
// its canonical form.
func WordKey(word string) string { return NormalizeString(word) }

// RuleOf returns the rule that a stored word record holds.
func RuleOf(w danmaku.WordRecord) (Rule, error) {
	a, err := ParseAction(w.Action)
	if err != nil {
		return Rule{}, fmt.Errorf("stored word %q: %w", w.Word, err)
	}
	return Rule{Room: w.Room, Word: w.Word, Action: a, Inside: w.Inside}, nil
}

// BanRecord returns b as the record a danmaku.SettingsStore keeps.
func BanRecord(b Ban) danmaku.BanRecord {
	return danmaku.BanRecord{UserID: b.UserID, Address: b.Addr, For: b.For, Room: b.Room, Reason: b.Reason, By: b.By, Since: b.Since, Until: b.Until}
}

// BanOf returns the ban, of a user or of an address range, that a stored
// ban record holds, and false for a record that names neither.
func BanOf(r danmaku.BanRecord) (Ban, bool) {
	if r.UserID == "" && r.Address == "" {
		return Ban{}, false
	}
	return Ban{UserID: r.UserID, Addr: r.Address, For: r.For, Room: r.Room, Reason: r.Reason, By: r.By, Since: r.Since, Until: r.Until}, true
}

// Restore puts the word lists and bans of all into g (and, in a cluster,
// into Redis through g's shared parts), skipping bans that ended before
// now. It returns the first error after trying every record. The rooms of
// all (pause, slow mode) are applied through ApplyRoom, with the other
// parts that keep room settings (service.Rooms).
func (g *Guard) Restore(ctx context.Context, all danmaku.Settings, now time.Time) error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	rules := make([]Rule, 0, len(all.Words))
	for _, w := range all.Words {
		r, err := RuleOf(w)
		keep(err)
		if err == nil {
			rules = append(rules, r)
		}
	}
	if len(rules) > 0 {
		keep(g.Words.Add(rules...))
	}
	for _, r := range all.Bans {
		if b, ok := BanOf(r); ok && r.Active(now) {
			keep(g.Bans.Ban(ctx, b))
		}
	}
	return first
}
