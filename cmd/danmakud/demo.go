package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// DemoRoom is the room of the home page's built-in demo timeline.
const DemoRoom = "demo"

// DemoUser is the sender of the seeded demo danmaku: no viewer's id
// (anonymous ids are random, host sites' ids are theirs), so that no
// viewer sees them as their own.
const DemoUser = "danmakud:demo"

// demoLength is the length of the demo timeline, in seconds (the player's
// demo clock).
const demoLength = 600

// demoMarker is the file in the data directory that records that the demo
// room was seeded, so that it is seeded once even if its danmaku are
// deleted later.
const demoMarker = "demo-seeded"

// demoTexts are the seeded danmaku's texts, as viewers write them.
var demoTexts = []string{
	"前方高能！", "来了来了", "第一次看到这么流畅的弹幕", "awsl", "哈哈哈哈哈哈", "这画面太美了",
	"hello from Berlin 👋", "this is so smooth", "打卡", "2333333", "妙啊", "画质真好",
	"who else is watching in 2026?", "前排围观", "太好看了吧", "泪目", "kawaii", "好耶！",
	"the colours!", "弹幕护体", "这里可以暂停截图当壁纸", "nice", "又来看了一遍", "名场面",
	"wow", "空降成功", "感谢up主", "love this part", "高能预警", "这一段循环播放",
	"好听", "relaxing", "第二次来了", "太治愈了", "牛啊", "so calm",
	"看完心情变好了", "guten Abend", "这个转场绝了", "再来亿遍",
}

// demoColors are Bilibili's palette, white most often.
var demoColors = []danmaku.Color{0xffffff, 0xffffff, 0xffffff, 0xffffff, 0xfe0302, 0xffff00, 0x00cd00, 0x66ccff, 0xff7204, 0xcc0273}

// demoDanmaku returns the demo room's danmaku: dense in the first minute
// and a half, so that the home page shows danmaku flying at once, then
// spread over the rest of the timeline. ids gives them their ids.
func demoDanmaku(ids *danmaku.IDGen, now time.Time) []*danmaku.Danmaku {
	var times []danmaku.Time
	for i := range 80 { // One every 1.1 s from 0.6 s.
		times = append(times, danmaku.Time(600+i*1100))
	}
	for i := range 60 { // Then one every 8.5 s to the end.
		times = append(times, danmaku.Time(90_000+i*8500))
	}
	out := make([]*danmaku.Danmaku, 0, len(times))
	for i, t := range times {
		mode, size := danmaku.ModeScroll, danmaku.Size(danmaku.SizeMedium)
		switch {
		case i%17 == 5:
			mode = danmaku.ModeTop
		case i%19 == 11:
			mode = danmaku.ModeBottom
		}
		switch i % 11 {
		case 3:
			size = danmaku.SizeSmall
		case 8:
			size = danmaku.SizeLarge
		}
		out = append(out, &danmaku.Danmaku{
			ID:        ids.Next(t),
			ObjectID:  DemoRoom,
			UserID:    DemoUser,
			CreatedAt: now.UnixMilli(),
			Content: danmaku.Content{
				Text:     demoTexts[(i*7)%len(demoTexts)],
				Color:    demoColors[(i*3)%len(demoColors)],
				Size:     size,
				Position: mode,
				Time:     t,
			},
		})
	}
	return out
}

// SeedDemo stores the demo room's danmaku on a server's first start: when
// -demo is on, the data directory has no record of an earlier seeding and
// the room is empty. The danmaku go straight to the store: no rate limit,
// no moderators' feed, no viewer as their sender. It reports how many it
// stored.
func (m *Main) SeedDemo(ctx context.Context) (int, error) {
	if !m.Config.Demo {
		return 0, nil
	}
	marker := filepath.Join(m.Config.DataDir, demoMarker)
	if _, err := os.Stat(marker); err == nil {
		return 0, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("seed demo: %w", err)
	}
	page, err := m.Store.List(ctx, danmaku.Query{ObjectID: DemoRoom, Limit: 1})
	if err != nil {
		return 0, fmt.Errorf("seed demo: %w", err)
	}
	n := 0
	if len(page.Items) == 0 {
		ds := demoDanmaku(danmaku.NewIDGen(nil), time.Now())
		if bp, ok := m.Store.(danmaku.BatchPutter); ok {
			n, err = bp.PutBatch(ctx, ds)
		} else {
			for _, d := range ds {
				if err = m.Store.Put(ctx, d); err != nil {
					break
				}
				n++
			}
		}
		if err != nil {
			return n, fmt.Errorf("seed demo: %w", err)
		}
	}
	if err := os.MkdirAll(m.Config.DataDir, 0o700); err != nil {
		return n, fmt.Errorf("seed demo: %w", err)
	}
	if err := os.WriteFile(marker, []byte("The demo room was seeded; delete this file to seed it again when it is empty.\n"), 0o600); err != nil {
		return n, fmt.Errorf("seed demo: %w", err)
	}
	return n, nil
}
