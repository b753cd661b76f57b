package storetest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// testSettings checks danmaku.SettingsStore: room settings, bans and words
// are stored, replaced, deleted and loaded, and are kept apart from the
// danmaku and from each other.
func testSettings(t *testing.T, s danmaku.Store) {
	ss, ok := s.(danmaku.SettingsStore)
	if !ok {
		t.Fatalf("%T does not implement danmaku.SettingsStore", s)
	}
	ctx := context.Background()
	since := time.UnixMilli(1_700_000_000_000).UTC()

	if _, err := ss.Room(ctx, "v1"); !errors.Is(err, danmaku.ErrNotFound) {
		t.Fatalf("Room of a room never set: %v, want ErrNotFound", err)
	}
	all, err := ss.LoadSettings(ctx)
	if err != nil || len(all.Rooms)+len(all.Bans)+len(all.Words) != 0 {
		t.Fatalf("LoadSettings of an empty store = %+v, %v", all, err)
	}

	room := danmaku.RoomSettings{ObjectID: "v1", Paused: true, SlowMode: 5 * time.Second,
		TickInterval: 250 * time.Millisecond, MaxPerTick: 7, Live: &danmaku.LiveSession{StartedAt: since}}
	if err := ss.PutRoom(ctx, room); err != nil {
		t.Fatal(err)
	}
	if got, err := ss.Room(ctx, "v1"); err != nil || !reflect.DeepEqual(got, room) {
		t.Fatalf("Room = %+v, %v; want %+v", got, err, room)
	}
	room.Paused, room.Live = false, nil
	if err := ss.PutRoom(ctx, room); err != nil {
		t.Fatal(err)
	}
	if got, err := ss.Room(ctx, "v1"); err != nil || !reflect.DeepEqual(got, room) {
		t.Fatalf("Room after replacing = %+v, %v; want %+v", got, err, room)
	}
	other := danmaku.RoomSettings{ObjectID: "v10", MaxPerTick: 3}
	if err := ss.PutRoom(ctx, other); err != nil {
		t.Fatal(err)
	}

	bans := []danmaku.BanRecord{
		{UserID: "u1", Reason: "spam", By: "admin", Since: since},
		{UserID: "u1", Room: "v1", Since: since, Until: since.Add(time.Hour)},
		{Address: "192.0.2.0/24", Since: since},
		{UserID: "u2", Room: "v1", Since: since},
	}
	for _, b := range bans {
		if err := ss.PutBan(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	bans[0].Reason = "flood" // The same user everywhere: replaces.
	if err := ss.PutBan(ctx, bans[0]); err != nil {
		t.Fatal(err)
	}
	if ok, err := ss.DeleteBan(ctx, "v1", "u2", ""); err != nil || !ok {
		t.Fatalf("DeleteBan of a ban = %v, %v", ok, err)
	}
	if ok, err := ss.DeleteBan(ctx, "v1", "u2", ""); err != nil || ok {
		t.Fatalf("DeleteBan again = %v, %v; want false", ok, err)
	}
	if ok, err := ss.DeleteBan(ctx, "", "u9", ""); err != nil || ok {
		t.Fatalf("DeleteBan of no ban = %v, %v; want false", ok, err)
	}

	words := []danmaku.WordRecord{
		{Key: "spam", Word: "SPAM", Action: "reject"},
		{Room: "v1", Key: "spam", Word: "spam", Action: "mask", Inside: true},
		{Room: "v1", Key: "广告", Word: "广告", Action: "shadow"},
	}
	for _, w := range words {
		if err := ss.PutWord(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := ss.DeleteWord(ctx, "v1", "广告"); err != nil || !ok {
		t.Fatalf("DeleteWord = %v, %v", ok, err)
	}
	if ok, err := ss.DeleteWord(ctx, "v2", "spam"); err != nil || ok {
		t.Fatalf("DeleteWord in another room = %v, %v; want false", ok, err)
	}

	// Settings are not danmaku.
	if page, err := s.List(ctx, danmaku.Query{ObjectID: "v1", Limit: 10}); err != nil || len(page.Items) != 0 {
		t.Fatalf("List of a room with settings only = %d items, %v", len(page.Items), err)
	}

	all, err = ss.LoadSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(all.Rooms, func(a, b danmaku.RoomSettings) int { return strings.Compare(a.ObjectID, b.ObjectID) })
	if want := []danmaku.RoomSettings{room, other}; !reflect.DeepEqual(all.Rooms, want) {
		t.Errorf("loaded rooms = %+v, want %+v", all.Rooms, want)
	}
	banKey := func(b danmaku.BanRecord) string { return b.Room + "/" + b.UserID + "/" + b.Address }
	slices.SortFunc(all.Bans, func(a, b danmaku.BanRecord) int { return strings.Compare(banKey(a), banKey(b)) })
	wantBans := slices.Clone(bans[:3])
	slices.SortFunc(wantBans, func(a, b danmaku.BanRecord) int { return strings.Compare(banKey(a), banKey(b)) })
	if !reflect.DeepEqual(all.Bans, wantBans) {
		t.Errorf("loaded bans = %+v, want %+v", all.Bans, wantBans)
	}
	slices.SortFunc(all.Words, func(a, b danmaku.WordRecord) int { return strings.Compare(a.Room+"/"+a.Key, b.Room+"/"+b.Key) })
	if want := words[:2]; !reflect.DeepEqual(all.Words, want) {
		t.Errorf("loaded words = %+v, want %+v", all.Words, want)
	}
}
