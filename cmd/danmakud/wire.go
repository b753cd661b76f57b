package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/auth"
	"github.com/danmakud/danmakud/compat/dplayer"
	"github.com/danmakud/danmakud/compat/socketio"
	"github.com/danmakud/danmakud/httpapi"
	"github.com/danmakud/danmakud/live"
	"github.com/danmakud/danmakud/metrics"
	"github.com/danmakud/danmakud/moderation"
	redismod "github.com/danmakud/danmakud/moderation/redis"
	"github.com/danmakud/danmakud/sdk"
	"github.com/danmakud/danmakud/service"
	"github.com/danmakud/danmakud/store/pebble"
	"github.com/danmakud/danmakud/web"
	"github.com/danmakud/danmakud/webapi"
)

// wire builds everything above the store: authentication, the Redis
// client of a cluster, moderation, the live hub and the cluster broker,
// the service and the routes. The order breaks the one cycle explicitly:
// the service publishes to the broker (the hub, or the cluster node that
// feeds the hub), and the hub stores viewers' sends through the service,
// which it is given once the service exists.
func (m *Main) wire() error {
	c := m.Config
	if err := m.openAuth(); err != nil {
		return err
	}
	m.openRedis()
	if err := m.openGuard(); err != nil {
		return err
	}
	origins := splitList(c.Origins)
	// The embedded store keeps the live rooms' recent batches on a single
	// node; a cluster's rooms follow their leaders' batches instead.
	var batchLog danmaku.BatchLog
	if bl, ok := m.Store.(danmaku.BatchLog); ok && c.Redis == "" {
		batchLog = bl
	}
	hub, err := live.New(live.Config{
		Auth:        m.Auth,
		CheckOrigin: func(r *http.Request) bool { return auth.OriginAllowed(r, origins) },
		Limits:      danmaku.Limits{MaxTextRunes: c.MaxText},
		DefaultRoom: live.RoomConfig{TickInterval: c.Tick, MaxPerTick: c.MaxPerTick},
		ConnHook:    handOverConn,
		Log:         m.Log,
		MaxRooms:    c.MaxRooms,

		MaxRoomsPerAddr: c.MaxRoomsPerAddr, // -max-rooms-per-ip

		SocketSendBuffer: c.SendBuffer, // -live-send-buffer
		BatchLog:         batchLog,
		History:          c.History,   // -live-history
		IdleRoomTicks:    c.IdleTicks, // -live-idle-ticks
	})
	if err != nil {
		return fmt.Errorf("live hub: %w", err)
	}
	m.Hub = hub
	m.closers = append(m.closers, hub.Close)
	broker, err := m.openCluster(hub)
	if err != nil {
		return err
	}
	storeLatency := metrics.NewStoreLatency()
	m.Svc = service.New(service.Config{
		Limits:      danmaku.Limits{MaxTextRunes: c.MaxText},
		PageSize:    c.PageSize,
		MaxPageSize: c.MaxPageSize,
	}, m.Store, service.Options{Broker: broker, Live: hub, Moderator: m.Guard, Log: m.Log, ObserveStore: storeLatency.Observe})
	hub.SetSender(m.Svc)
	src := metrics.Sources{Hub: hub.Stats, SendCounts: m.Svc.PublicSendCounts, Health: m.health, Store: storeLatency}
	if m.Node != nil {
		src.Cluster = m.Node.Stats
	}
	if ps, ok := m.Store.(*pebble.Store); ok {
		src.StoreMemory = func() metrics.StoreMemory {
			s := ps.Memory()
			return metrics.StoreMemory{BlockCache: s.BlockCache, BlockCacheLimit: s.BlockCacheLimit, MemTables: s.MemTables, MemTablesLimit: s.MemTablesLimit, OnGoHeap: s.OnGoHeap}
		}
	}
	m.Metrics = metrics.New(src)

	m.API = httpapi.New(httpapi.Config{MaxBodyBytes: c.MaxBodyBytes, CORSOrigins: splitList(c.CORSOrigins), Health: m.health, Log: m.Log}, m.Svc, m.Auth)
	// Only the live routes take ?token= (browsers cannot set headers there).
	m.API.Handle("GET /danmu/ws/{objectId}", webapi.QueryToken(http.HandlerFunc(hub.ServeWS)))
	m.API.Handle("GET /danmu/stream/{objectId}", webapi.QueryToken(http.HandlerFunc(hub.ServeSSE)))
	sio, err := socketio.New(hub, socketio.Config{CheckOrigin: func(r *http.Request) bool { return auth.OriginAllowed(r, origins) }}, m.Log)
	if err != nil {
		return fmt.Errorf("socket.io: %w", err)
	}
	m.closers = append(m.closers, sio.Close) // Closed before the hub.
	m.API.Handle("GET /socket.io/", sio)
	m.API.Handle("POST /socket.io/", sio)
	settings, _ := m.Store.(danmaku.SettingsStore) // Both stores keep them.
	m.Rooms = service.NewRooms(settings, hub, m.Guard)
	m.API.MountAdmin(httpapi.Admin{
		Guard:       m.Guard,
		Hub:         hub,
		Settings:    settings,
		Rooms:       m.Rooms,
		Login:       m.Auth.AdminLogin,
		LoginLimits: moderation.NewLoginLimiter(moderation.LoginLimitConfig{}),
	})
	if c.MetricsAddr == "" {
		m.API.Handle("GET /metrics", auth.RequireBearer(c.MetricsToken, m.Metrics.Handler()))
	}
	m.API.MountReports(service.NewReports(m.Svc, moderation.NewLimiter(m.reportLimits())))
	m.API.MountBrowse()
	m.API.MountFormats(m.Store)
	m.API.Handle("/dplayer/", http.StripPrefix("/dplayer", dplayer.NewHandler(m.Svc, dplayer.Config{Auth: m.dplayerActor, Limits: m.Svc.Limits(), Log: m.Log})))
	site, err := web.NewWith(web.Options{FrameAncestors: splitList(c.FrameAncestors)})
	if err != nil {
		return fmt.Errorf("-frame-ancestors: %w", err)
	}
	site.Mount(m.API.Handle)
	sdk.New().Mount(m.API.Handle)
	if c.BenchNoop {
		m.API.Handle("POST /bench/noop", httpapi.NoopHandler(c.MaxBodyBytes))
	}
	return nil
}

// reportLimits are the rate limits of viewers' reports; -rate-limits=false
// turns them off with the others.
func (m *Main) reportLimits() moderation.LimitConfig {
	c := service.DefaultReportLimits()
	c.Disabled = !m.Config.RateLimits
	return c
}

// dplayerActor identifies a DPlayer request. DPlayer's requests carry a
// token when the page configures one and no cookie when the page is on
// another origin; in anonymous mode such a sender gets a fresh anonymous id
// (per-IP limits still apply).
func (m *Main) dplayerActor(r *http.Request) (danmaku.Actor, error) {
	a, err := m.Auth.Authenticate(r)
	if errors.Is(err, auth.ErrNoCredentials) && m.Config.Anonymous {
		id, _ := m.Auth.NewAnonymousID()
		return danmaku.Actor{UserID: id, Anonymous: true, Fresh: true, IP: auth.RemoteIP(r)}, nil
	}
	if errors.Is(err, auth.ErrNoCredentials) {
		return danmaku.Actor{IP: auth.RemoteIP(r)}, nil
	}
	return a, err
}

func (m *Main) openAuth() error {
	secret, err := m.secret()
	if err != nil {
		return err
	}
	secure, err := auth.ParseCookieSecure(m.Config.SecureCookie)
	if err != nil {
		return fmt.Errorf("-secure-cookie: %w", err)
	}
	a, err := auth.New(auth.Config{Secret: secret, Anonymous: m.Config.Anonymous, AdminPassword: m.Config.AdminPassword,
		Issuer: m.Config.TokenIssuer, Audience: m.Config.TokenAudience, SecureCookie: secure})
	if err != nil {
		return fmt.Errorf("-secret: %w", err)
	}
	m.Auth = a
	return nil
}

// secret returns the configured secret, or the one kept in the data
// directory, made on first start.
func (m *Main) secret() ([]byte, error) {
	if m.Config.Secret != "" {
		return []byte(m.Config.Secret), nil
	}
	path := filepath.Join(m.Config.DataDir, "secret")
	b, err := os.ReadFile(path)
	if err == nil {
		return []byte(strings.TrimSpace(string(b))), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // Since Go 1.24, crypto/rand.Read never returns an error.
	secret := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(m.Config.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("make data directory: %w", err)
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write secret: %w", err)
	}
	m.Log.Info("generated a token secret", "file", path)
	return []byte(secret), nil
}

func (m *Main) openGuard() error {
	c := m.Config
	dup := c.DuplicateWindow
	if dup == 0 {
		dup = -1 // The limiter reads 0 as its default and a negative window as off.
	}
	limitCfg := moderation.LimitConfig{
		UserRate: c.UserRate, UserBurst: c.UserBurst, IPRate: c.IPRate, IPBurst: c.IPBurst,
		DuplicateWindow: dup, Disabled: !c.RateLimits,
	}
	mode, _ := moderation.ParseBanMode(c.BanMode) // Checked by validate.
	var rules []moderation.Rule
	if c.WordsFile != "" {
		f, err := os.Open(c.WordsFile)
		if err != nil {
			return fmt.Errorf("-words: %w", err)
		}
		rules, err = moderation.ParseWords(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("-words: %w", err)
		}
	}
	leet, err := moderation.ParseLeet(c.WordLeet)
	if err != nil {
		return fmt.Errorf("-word-leet: %w", err)
	}
	norm, err := moderation.NewNormalizer(leet)
	if err != nil {
		return fmt.Errorf("-word-leet: %w", err)
	}
	if c.Redis == "" {
		words := moderation.NewFilterWith(norm)
		if err := words.Add(rules...); err != nil {
			return fmt.Errorf("-words: %w", err)
		}
		m.Guard = moderation.NewGuard(words, moderation.NewLimiter(limitCfg), moderation.NewBanList(), mode, nil)
		m.Guard.Addrs = moderation.AddrGroups{IPv4Prefix: c.BanIPv4Prefix, IPv6Prefix: c.BanIPv6Prefix}
		return nil
	}
	// In a cluster, bans, word lists, pauses, slow mode and rate limits
	// live in Redis; each node checks sends against its local copies.
	rc := m.Redis
	opts := redismod.Options{Log: m.Log, Normalizer: norm}
	bans, words, rooms := redismod.NewBans(rc, opts), redismod.NewWords(rc, opts), redismod.NewRooms(rc, opts)
	limits := redismod.NewLimiter(rc, rooms, limitCfg, opts)
	m.closers = append(m.closers, bans.Close, words.Close, rooms.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for name, sync := range map[string]func(context.Context) error{"bans": bans.Sync, "words": words.Sync, "rooms": rooms.Sync} {
		if err := sync(ctx); err != nil {
			m.Log.Warn("Redis unreachable at start; moderation state will sync when it returns", "part", name, "err", err)
		}
	}
	m.fileWords = rules
	if len(rules) > 0 {
		if err := words.Add(rules...); err != nil {
			m.Log.Warn("could not store the word file's words in Redis", "err", err)
		}
	}
	m.Guard = moderation.NewGuard(words, limits, bans, mode, nil)
	m.Guard.Pauses = rooms
	m.Guard.Addrs = moderation.AddrGroups{IPv4Prefix: c.BanIPv4Prefix, IPv6Prefix: c.BanIPv6Prefix}
	return nil
}

// splitList splits a comma-separated setting, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
