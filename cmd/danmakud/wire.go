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

	"github.com/redis/go-redis/v9"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/auth"
	"github.com/danmakud/danmakud/compat/dplayer"
	"github.com/danmakud/danmakud/httpapi"
	"github.com/danmakud/danmakud/live"
	"github.com/danmakud/danmakud/metrics"
	"github.com/danmakud/danmakud/moderation"
	redismod "github.com/danmakud/danmakud/moderation/redis"
	"github.com/danmakud/danmakud/sdk"
	"github.com/danmakud/danmakud/service"
	"github.com/danmakud/danmakud/web"
)

// wire builds everything above the store: authentication, moderation, the
// live hub, the service and the routes.
func (m *Main) wire() error {
	c := m.Config
	if err := m.openAuth(); err != nil {
		return err
	}
	if err := m.openGuard(); err != nil {
		return err
	}
	// The hub sends through the service, and the service publishes to the
	// hub: the hub gets a reference that is filled in once both exist.
	sender := &senderRef{}
	origins := splitList(c.Origins)
	hub, err := live.New(live.Config{
		Sender:       sender,
		Authenticate: m.viewer,
		CheckOrigin:  func(r *http.Request) bool { return auth.OriginAllowed(r, origins) },
		Limits:       danmaku.Limits{MaxTextRunes: c.MaxText},
		DefaultRoom:  live.RoomConfig{TickInterval: c.Tick, MaxPerTick: c.MaxPerTick},
		ConnHook:     handOverConn,
		WriteError:   m.writeError,
	}, m.Log)
	if err != nil {
		return fmt.Errorf("live hub: %w", err)
	}
	m.Hub = hub
	m.closers = append(m.closers, hub.Close)
	pub, clock, err := m.openCluster(hub)
	if err != nil {
		return err
	}
	m.Svc = service.New(service.Config{
		Limits:      danmaku.Limits{MaxTextRunes: c.MaxText},
		PageSize:    c.PageSize,
		MaxPageSize: c.MaxPageSize,
	}, m.Store, service.Options{Publisher: pub, Live: clock, Moderator: m.Guard, Log: m.Log, ObserveStore: m.observeStore})
	sender.svc = m.Svc
	m.Metrics = metrics.New(metrics.Sources{Hub: hub.Stats, SendCounts: m.Svc.PublicSendCounts, Health: m.health, Cluster: m.clusterStats()})

	m.API = httpapi.New(httpapi.Config{MaxBodyBytes: c.MaxBodyBytes, CORSOrigins: splitList(c.CORSOrigins), Health: m.health}, m.Svc, m.Auth, m.Log)
	m.API.Handle("GET /danmu/ws/{objectId}", http.HandlerFunc(hub.ServeWS))
	m.API.Handle("GET /danmu/stream/{objectId}", http.HandlerFunc(hub.ServeSSE))
	m.API.MountAdmin(httpapi.Admin{
		Guard:       m.Guard,
		Hub:         hub,
		Login:       m.Auth.AdminLogin,
		LoginLimits: moderation.NewLimiter(moderation.LimitConfig{IPRate: 0.2, IPBurst: 5, DuplicateWindow: -1}),
	})
	m.API.Handle("GET /metrics", m.Metrics.Handler())
	m.API.MountFormats(m.Store)
	m.API.Handle("/dplayer/", http.StripPrefix("/dplayer", dplayer.NewHandler(m.Svc, dplayer.Config{Auth: m.dplayerActor, Limits: m.Svc.Limits(), Log: m.Log})))
	web.New().Mount(m.API.Handle)
	sdk.New().Mount(m.API.Handle)
	if c.BenchNoop {
		m.API.Handle("POST /bench/noop", httpapi.NoopHandler(c.MaxBodyBytes))
	}
	return nil
}

// observeStore forwards store latencies to the metrics, which are made
// after the service.
func (m *Main) observeStore(op string, d time.Duration, err error) {
	if m.Metrics != nil {
		m.Metrics.ObserveStore(op, d, err)
	}
}

// writeError answers a refused live connection with the API's JSON error;
// the API is built after the hub.
func (m *Main) writeError(w http.ResponseWriter, r *http.Request, err error) {
	m.API.WriteError(w, r, err)
}

// viewer is the actor of a live connection: unidentified viewers may watch.
func (m *Main) viewer(r *http.Request) (danmaku.Actor, error) { return m.API.Viewer(r) }

// dplayerActor identifies a DPlayer request. DPlayer's requests carry a
// token when the page configures one and no cookie when the page is on
// another origin; in anonymous mode such a sender gets a fresh anonymous id
// (per-IP limits still apply).
func (m *Main) dplayerActor(r *http.Request) (danmaku.Actor, error) {
	a, err := m.Auth.Authenticate(r)
	if errors.Is(err, auth.ErrNoCredentials) && m.Config.Anonymous {
		id, _ := m.Auth.NewAnonymousID()
		return danmaku.Actor{UserID: id, Anonymous: true, IP: httpapi.RemoteIP(r)}, nil
	}
	if errors.Is(err, auth.ErrNoCredentials) {
		return danmaku.Actor{IP: httpapi.RemoteIP(r)}, nil
	}
	return a, err
}

// senderRef forwards sends from the hub to the service built after it.
type senderRef struct{ svc *service.Service }

func (s *senderRef) Send(ctx context.Context, a danmaku.Actor, req danmaku.SendRequest) (*danmaku.Danmaku, error) {
	return s.svc.Send(ctx, a, req)
}

func (m *Main) openAuth() error {
	secret, err := m.secret()
	if err != nil {
		return err
	}
	a, err := auth.New(auth.Config{Secret: secret, Anonymous: m.Config.Anonymous, AdminPassword: m.Config.AdminPassword})
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
	if c.Redis == "" {
		words := moderation.NewFilter()
		if err := words.Add(rules...); err != nil {
			return fmt.Errorf("-words: %w", err)
		}
		m.Guard = moderation.NewGuard(words, moderation.NewLimiter(limitCfg), moderation.NewBanList(), mode, nil)
		return nil
	}
	// In a cluster, bans, word lists, pauses, slow mode and rate limits
	// live in Redis; each node checks sends against its local copies.
	rc := redis.NewClient(&redis.Options{Addr: c.Redis, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
	opts := redismod.Options{Log: m.Log}
	bans, words, rooms := redismod.NewBans(rc, opts), redismod.NewWords(rc, opts), redismod.NewRooms(rc, opts)
	limits := redismod.NewLimiter(rc, rooms, limitCfg, opts)
	m.closers = append(m.closers, rc.Close, bans.Close, words.Close, rooms.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for name, sync := range map[string]func(context.Context) error{"bans": bans.Sync, "words": words.Sync, "rooms": rooms.Sync} {
		if err := sync(ctx); err != nil {
			m.Log.Warn("Redis unreachable at start; moderation state will sync when it returns", "part", name, "err", err)
		}
	}
	if len(rules) > 0 {
		if err := words.Add(rules...); err != nil {
			m.Log.Warn("could not store the word file's words in Redis", "err", err)
		}
	}
	m.Guard = moderation.NewGuard(words, limits, bans, mode, nil)
	m.Guard.Pauses = rooms
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
