package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// Heatmap is the density of a video's danmaku over its playback time: the
// "high-energy bar" that players draw over the progress bar.
type Heatmap struct {
	ObjectID string `json:"objectId"`
	BucketMs int64  `json:"bucketMs"`
	Counts   []int  `json:"counts"`
	Total    int    `json:"total"`
}

// Heatmap limits.
const (
	MaxHeatmapBuckets = 1000
	heatmapTTL        = 5 * time.Second
	heatmapCacheSize  = 1024
	// heatmapScanLimit bounds the fallback count for stores that cannot
	// count by key.
	heatmapScanLimit = 200_000
)

// heatmapCache keeps recent heatmaps for heatmapTTL, so that a page load
// storm on one video counts once.
type heatmapCache struct {
	mu      sync.Mutex
	entries map[heatmapKey]heatmapEntry
}

type heatmapKey struct {
	objectID string
	session  string
	duration danmaku.Time
	buckets  int
}

type heatmapEntry struct {
	h       Heatmap
	expires time.Time
}

// Heatmap counts a video's danmaku in buckets equal parts of duration (the
// video's length; 0 means up to its last danmaku).
func (s *Service) Heatmap(ctx context.Context, objectID string, duration danmaku.Time, buckets int) (Heatmap, error) {
	return s.HeatmapIn(ctx, objectID, Scope{}, duration, buckets)
}

// HeatmapIn is Heatmap within sc. For a session's scope it counts that
// session's danmaku, by reading them (at most heatmapScanLimit of the
// video), and a zero duration means the session's length.
func (s *Service) HeatmapIn(ctx context.Context, objectID string, sc Scope, duration danmaku.Time, buckets int) (Heatmap, error) {
	if err := danmaku.ValidateObjectID(objectID); err != nil {
		return Heatmap{}, err
	}
	if buckets == 0 {
		buckets = 100
	}
	if buckets < 1 || buckets > MaxHeatmapBuckets {
		return Heatmap{}, danmaku.FieldError("buckets", "must be between 1 and %d", MaxHeatmapBuckets)
	}
	if sc.session != "" && duration == 0 {
		duration = sc.length + 1
	}
	key := heatmapKey{objectID, sc.session, duration, buckets}
	now := s.now()
	s.heat.mu.Lock()
	if e, ok := s.heat.entries[key]; ok && now.Before(e.expires) {
		s.heat.mu.Unlock()
		return e.h, nil
	}
	s.heat.mu.Unlock()

	h, err := s.countHeatmap(ctx, objectID, sc, duration, buckets)
	if err != nil {
		return Heatmap{}, err
	}
	s.heat.mu.Lock()
	if s.heat.entries == nil || len(s.heat.entries) >= heatmapCacheSize {
		s.heat.entries = make(map[heatmapKey]heatmapEntry)
	}
	s.heat.entries[key] = heatmapEntry{h: h, expires: now.Add(heatmapTTL)}
	s.heat.mu.Unlock()
	return h, nil
}

func (s *Service) countHeatmap(ctx context.Context, objectID string, sc Scope, duration danmaku.Time, buckets int) (Heatmap, error) {
	h := Heatmap{ObjectID: objectID, Counts: make([]int, buckets)}
	tc, fast := s.store.(danmaku.TimeCounter)
	fast = fast && sc.session == "" // The stores count whole videos only.
	if duration == 0 {
		last, err := s.lastTime(ctx, objectID, tc, fast)
		if errors.Is(err, danmaku.ErrNotFound) {
			h.BucketMs = 1000
			return h, nil
		}
		if err != nil {
			return Heatmap{}, err
		}
		duration = last + 1
	}
	bucket := max(1, (duration+danmaku.Time(buckets)-1)/danmaku.Time(buckets))
	h.BucketMs = int64(bucket)
	if fast {
		if err := tc.CountByTime(ctx, objectID, bucket, h.Counts); err != nil {
			return Heatmap{}, fmt.Errorf("heatmap %s: %w", objectID, err)
		}
	} else if err := s.scanCount(ctx, objectID, sc, bucket, h.Counts); err != nil {
		return Heatmap{}, err
	}
	for _, c := range h.Counts {
		h.Total += c
	}
	return h, nil
}

func (s *Service) lastTime(ctx context.Context, objectID string, tc danmaku.TimeCounter, fast bool) (danmaku.Time, error) {
	if fast {
		return tc.LastTime(ctx, objectID)
	}
	var last danmaku.Time
	found := false
	err := s.scan(ctx, objectID, Scope{}, func(d *danmaku.Danmaku) { last, found = d.Content.Time, true })
	if err == nil && !found {
		return 0, danmaku.ErrNotFound
	}
	return last, err
}

func (s *Service) scanCount(ctx context.Context, objectID string, sc Scope, bucket danmaku.Time, counts []int) error {
	return s.scan(ctx, objectID, sc, func(d *danmaku.Danmaku) {
		counts[min(int(d.Content.Time/bucket), len(counts)-1)]++
	})
}

// scan visits up to heatmapScanLimit danmaku of a video in sc in order,
// those that everyone may see: a shadowed danmaku is not counted, as the
// stores that count by key (danmaku.TimeCounter) do not count it either.
func (s *Service) scan(ctx context.Context, objectID string, sc Scope, fn func(*danmaku.Danmaku)) error {
	seen := 0
	for d, err := range s.ReadAllIn(ctx, danmaku.Actor{}, objectID, sc) {
		if err != nil {
			return fmt.Errorf("heatmap %s: %w", objectID, err)
		}
		if seen == heatmapScanLimit {
			break
		}
		fn(d)
		seen++
	}
	return nil
}
