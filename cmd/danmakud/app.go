package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/auth"
	redisbroker "github.com/danmakud/danmakud/broker/redis"
	"github.com/danmakud/danmakud/httpapi"
	"github.com/danmakud/danmakud/live"
	"github.com/danmakud/danmakud/metrics"
	"github.com/danmakud/danmakud/moderation"
	"github.com/danmakud/danmakud/service"
	dynamostore "github.com/danmakud/danmakud/store/dynamodb"
	"github.com/danmakud/danmakud/store/pebble"
	"github.com/danmakud/danmakud/web"
)

// Config is every setting of danmakud. Each is a flag and an environment
// variable: flag -max-text is DANMAKUD_MAX_TEXT; a flag given on the command
// line wins over the environment.
type Config struct {
	ConfigFile   string
	Addr         string
	Store        string // "pebble" or "dynamodb".
	DataDir      string
	Dynamo       dynamostore.Config
	MaxText      int
	MaxBodyBytes int64
	// MaxConnsPerIP caps concurrent connections per remote IP (0: none).
	MaxConnsPerIP int
	// BodyTimeout bounds the time to send a request body.
	BodyTimeout time.Duration
	PageSize    int
	MaxPageSize int
	LogFormat   string
	LogLevel    string
	// BenchNoop adds POST /bench/noop, a handler that reads the body and
	// answers {} — the baseline of the send benchmark.
	BenchNoop bool
	// DebugAddr, when set, serves Go's profiler on this separate address.
	DebugAddr string
	// Demo seeds the demo room with sample danmaku on first start.
	Demo bool
	// FrameAncestors lists the origins whose pages may frame the embed
	// page, besides the same origin ("*" for any).
	FrameAncestors string
	// GCPercent is the Go collector's target while serving (what GOGC
	// sets): the heap may grow this many percent past the live heap
	// before the next collection; -1 turns the collector off.
	GCPercent int

	Secret        string // HS256 key shared with the host site; generated and kept in -data when empty.
	Anonymous     bool   // Give browsers a signed anonymous id so that they can send without a token.
	AdminPassword string // The admin sign-in credential; empty means the key printed by "danmakud admin-key".
	TokenIssuer   string // Required "iss" of user tokens; empty: not checked.
	TokenAudience string // Required "aud" of user tokens; empty: not checked.
	SecureCookie  string // Secure attribute of the anonymous cookie: auto, true or false.
	MetricsToken  string // Bearer token that /metrics requires; empty: none.
	MetricsAddr   string // Separate address serving /metrics; empty: on the API's address.
	Origins       string // Comma-separated origins allowed to open WebSockets, besides the same origin; "*" for any.
	CORSOrigins   string // Comma-separated origins allowed to call the API from browsers; "*" for any.

	WordsFile       string
	WordLeet        string // Leetspeak table of the word filter, "5=s,4=a,…".
	BanMode         string
	RateLimits      bool
	UserRate        float64
	UserBurst       int
	IPRate          float64
	IPBurst         int
	DuplicateWindow time.Duration
	BanIPv4Prefix   int // Prefix length grouping IPv4 senders for bans and cookie-less limits.
	BanIPv6Prefix   int // The same for IPv6.

	MaxRooms        int // Live rooms held in memory.
	MaxRoomsPerAddr int // Live rooms one address may have created and still hold.

	Tick       time.Duration
	MaxPerTick int
	SendBuffer int // SO_SNDBUF of live WebSocket viewers' sockets, bytes; 0 keeps the kernel's.
	// History is how long live rooms' batches are kept for viewers that
	// resume; IdleTicks is how many ticks an empty room stays in memory.
	History   time.Duration
	IdleTicks int

	Redis  string // Redis address; set, the node joins the cluster of nodes using it.
	NodeID string // This node's name in the cluster; empty means a random one.
}

// Main is the program: its configuration and the parts it opened. Create it
// with NewMain, then ParseFlags, Open, Run and Close.
type Main struct {
	Config  Config
	Log     *slog.Logger
	Store   danmaku.Store
	Svc     *service.Service
	API     *httpapi.Server
	Hub     *live.Hub
	Auth    *auth.Authenticator
	Guard   *moderation.Guard
	Metrics *metrics.Metrics
	// Rooms stores room settings and applies them to Hub and Guard: the
	// admin API's changes and the stored settings at start both go
	// through it.
	Rooms *service.Rooms
	// Redis is the process's one Redis client and Node its cluster
	// broker, in cluster mode; both are nil on a single node.
	Redis *goredis.Client
	Node  *redisbroker.Node

	stderr  io.Writer
	closers []func() error
	// fileWords are the -words file's rules, which a cluster node adds to
	// Redis again when Redis has lost them (watchRedis).
	fileWords []moderation.Rule
}

// NewMain returns a Main that logs to stderr.
func NewMain(stderr io.Writer) *Main {
	return &Main{stderr: stderr, Log: slog.New(slog.NewTextHandler(stderr, nil))}
}

// ParseFlags reads the settings from args and the environment (getenv) and
// returns the arguments after the flags. An invalid setting is an error
// that names it.
func (m *Main) ParseFlags(args []string, getenv func(string) string) ([]string, error) {
	c := &m.Config
	fs := flag.NewFlagSet("danmakud", flag.ContinueOnError)
	fs.SetOutput(m.stderr)
	fs.StringVar(&c.ConfigFile, "config", "", "optional settings file of name = value lines; flags and the environment win over it")
	fs.StringVar(&c.Addr, "addr", ":5000", "address to listen on")
	fs.StringVar(&c.Store, "store", "pebble", "store: pebble (embedded, in -data) or dynamodb")
	fs.StringVar(&c.DataDir, "data", "./data", "directory of the embedded store")
	fs.StringVar(&c.Dynamo.Endpoint, "dynamodb-endpoint", "", "DynamoDB endpoint URL (dynalite: http://127.0.0.1:8001); empty for AWS")
	fs.StringVar(&c.Dynamo.Region, "dynamodb-region", "", "AWS region; empty for the standard AWS configuration")
	fs.StringVar(&c.Dynamo.Table, "dynamodb-table", dynamostore.DefaultTable, "DynamoDB table (create it with: danmakud create-table)")
	fs.DurationVar(&c.Dynamo.RetryDeadline, "dynamodb-retry", dynamostore.DefaultRetryDeadline, "how long to retry a throttled or failed DynamoDB call before answering 503")
	fs.IntVar(&c.MaxText, "max-text", 100, "longest danmaku text, in characters")
	fs.Int64Var(&c.MaxBodyBytes, "max-body", 4096, "largest request body, in bytes")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", DefaultMaxConnsPerIP, "concurrent connections allowed from one IP address, WebSockets included (0: no cap)")
	fs.DurationVar(&c.BodyTimeout, "body-timeout", DefaultBodyTimeout, "time a client may take to send a request body")
	fs.IntVar(&c.PageSize, "page-size", 20, "default page size of listings")
	fs.IntVar(&c.MaxPageSize, "max-page-size", 100, "largest page size a client may ask for")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&c.Secret, "secret", "", "HS256 secret (at least 32 bytes) that signs user tokens; empty: generated once and kept in -data")
	fs.BoolVar(&c.Anonymous, "anonymous", true, "give each browser a signed anonymous id so that it can send without a token")
	fs.StringVar(&c.AdminPassword, "admin-password", "", "admin sign-in password; empty: the key that \"danmakud admin-key\" prints")
	fs.StringVar(&c.TokenIssuer, "token-issuer", "", "required \"iss\" of user tokens, also put in issued ones; empty: not checked")
	fs.StringVar(&c.TokenAudience, "token-audience", "", "required \"aud\" of user tokens, also put in issued ones; empty: not checked")
	fs.StringVar(&c.SecureCookie, "secure-cookie", "auto", "Secure attribute of the anonymous cookie: auto (on requests that came over TLS), true (TLS ends at a proxy) or false")
	fs.StringVar(&c.MetricsToken, "metrics-token", "", "bearer token that /metrics requires; empty: /metrics is open (see -metrics-addr)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve /metrics on this separate address (e.g. 127.0.0.1:9100) instead of the API's; empty: on the API's address")
	fs.StringVar(&c.Origins, "origins", "", "comma-separated origins allowed to open WebSockets besides the same origin (\"*\" for any)")
	fs.StringVar(&c.CORSOrigins, "cors-origins", "", "comma-separated origins allowed to call the API from browsers (\"*\" for any)")
	fs.StringVar(&c.WordsFile, "words", "", "sensitive-word file loaded at start (see docs/operations.md)")
	fs.StringVar(&c.WordLeet, "word-leet", defaultLeetFlag(), "leetspeak table of the word filter: comma-separated digit-or-symbol=letter pairs; empty: none")
	fs.StringVar(&c.BanMode, "ban-mode", "reject", "what happens to a banned user's danmaku: reject or shadow")
	fs.BoolVar(&c.RateLimits, "rate-limits", true, "enforce rate limits (turn off for load tests)")
	fs.Float64Var(&c.UserRate, "user-rate", 0.5, "danmaku a second each user may send, sustained")
	fs.IntVar(&c.UserBurst, "user-burst", 3, "danmaku a user may send in a burst")
	fs.Float64Var(&c.IPRate, "ip-rate", 5, "danmaku a second each IP address may send, sustained")
	fs.IntVar(&c.IPBurst, "ip-burst", 20, "danmaku an IP address may send in a burst")
	fs.DurationVar(&c.DuplicateWindow, "duplicate-window", 30*time.Second, "refuse the same text from the same user within this window (0 turns it off)")
	fs.IntVar(&c.BanIPv4Prefix, "ban-ipv4-prefix", moderation.DefaultIPv4Prefix, "prefix length that groups IPv4 senders: a banned anonymous sender's ban holds for its group, and cookie-less senders are limited per group")
	fs.IntVar(&c.BanIPv6Prefix, "ban-ipv6-prefix", moderation.DefaultIPv6Prefix, "prefix length that groups IPv6 senders, as -ban-ipv4-prefix")
	fs.IntVar(&c.MaxRooms, "max-rooms", live.DefaultMaxRooms, "live rooms held in memory; when full, an idle room is evicted for a new one")
	fs.IntVar(&c.MaxRoomsPerAddr, "max-rooms-per-ip", live.DefaultMaxRoomsPerAddr, "live rooms that viewers from one IP address (IPv6: one /64) may have created and the server still holds; at the limit one of its idle rooms is evicted for a new one")
	fs.DurationVar(&c.Tick, "tick", live.DefaultTickInterval, "default tick of live rooms (100ms to 5s)")
	fs.IntVar(&c.MaxPerTick, "max-per-tick", live.DefaultMaxPerTick, "default cap of danmaku broadcast per tick")
	fs.IntVar(&c.SendBuffer, "live-send-buffer", 0, "SO_SNDBUF in bytes of live WebSocket viewers' sockets (0 keeps the kernel's autotuned size); small values make slow viewers fall behind sooner")
	fs.DurationVar(&c.History, "live-history", live.DefaultHistory, "how long live rooms' batches are kept for viewers that reconnect and resume, in the embedded store or, in a cluster, in Redis (the last 10 of a room are always kept)")
	fs.IntVar(&c.IdleTicks, "live-idle-ticks", 60, "ticks an empty live room stays in memory before it is evicted (its seq goes on from the store when it comes back)")
	fs.StringVar(&c.Redis, "redis", "", "Redis address (host:port) shared by the nodes of a cluster; empty runs one node alone")
	fs.StringVar(&c.NodeID, "node-id", "", "this node's name in a cluster; empty means a random one")
	fs.BoolVar(&c.BenchNoop, "bench-noop", false, "add POST /bench/noop, the baseline handler of cmd/danmaku-apibench")
	fs.StringVar(&c.DebugAddr, "debug-addr", "", "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; empty: off")
	fs.BoolVar(&c.Demo, "demo", true, "seed the demo room (the home page) with sample danmaku on first start")
	fs.IntVar(&c.GCPercent, "gc-percent", defaultGCPercent(getenv), "the Go collector's target while serving, as GOGC: the heap may grow this many percent past the live heap before a collection (-1: off); the default is 50, or GOGC when the environment sets it (see docs/operations.md)")
	fs.StringVar(&c.FrameAncestors, "frame-ancestors", "", "comma-separated origins whose pages may show the player in an iframe (/embed/{objectId}) besides the same origin (\"*\" for any)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: danmakud [flags] [serve | import ... | create-table ... | token ... | admin-key]\n\nEvery flag can also be set by the environment variable named after it\n(-max-text is DANMAKUD_MAX_TEXT). Flags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	set, err := applyEnv(fs, getenv)
	if err != nil {
		return nil, err
	}
	if c.ConfigFile != "" {
		if err := applyFile(fs, c.ConfigFile, set); err != nil {
			return nil, err
		}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	log, err := newLogger(m.stderr, c.LogFormat, c.LogLevel)
	if err != nil {
		return nil, err
	}
	m.Log = log
	return fs.Args(), nil
}

// applyEnv sets every flag that the command line did not set from its
// environment variable, if that is set, and returns the names of the flags
// set by either.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) (map[string]bool, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		name := "DANMAKUD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", name, e)
			}
			set[f.Name] = true
		}
	})
	return set, err
}

// applyFile reads "name = value" lines (flag names without the dash; "#"
// starts a comment) from path and sets the flags that neither the command
// line nor the environment set.
func applyFile(fs *flag.FlagSet, path string, set map[string]bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("-config: %w", err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.Trim(strings.TrimSpace(value), `"`)
		if !ok || name == "" {
			return fmt.Errorf("%s:%d: want name = value", path, i+1)
		}
		if fs.Lookup(name) == nil || name == "config" {
			return fmt.Errorf("%s:%d: unknown setting %q", path, i+1, name)
		}
		if set[name] {
			continue
		}
		if err := fs.Set(name, value); err != nil {
			return fmt.Errorf("%s:%d: %s: %w", path, i+1, name, err)
		}
	}
	return nil
}

func (c *Config) validate() error {
	switch {
	case c.MaxText < 1 || c.MaxText > 10000:
		return errors.New("-max-text: must be between 1 and 10000")
	case c.MaxBodyBytes < 256 || c.MaxBodyBytes > 1<<20:
		return errors.New("-max-body: must be between 256 and 1048576")
	case c.MaxPageSize < 1 || c.MaxPageSize > danmaku.MaxPageSize:
		return fmt.Errorf("-max-page-size: must be between 1 and %d", danmaku.MaxPageSize)
	case c.PageSize < 1 || c.PageSize > c.MaxPageSize:
		return errors.New("-page-size: must be between 1 and -max-page-size")
	case c.Store != "pebble" && c.Store != "dynamodb":
		return fmt.Errorf("-store: must be pebble or dynamodb, not %q", c.Store)
	case c.MaxConnsPerIP < 0:
		return errors.New("-max-conns-per-ip: must not be negative")
	case c.GCPercent < -1 || c.GCPercent == 0:
		return errors.New("-gc-percent: must be -1 (off) or at least 1")
	case c.BodyTimeout <= 0:
		return errors.New("-body-timeout: must be positive")
	case c.Store == "pebble" && c.DataDir == "":
		return errors.New("-data: must not be empty")
	case c.Store == "dynamodb" && c.Dynamo.Table == "":
		return errors.New("-dynamodb-table: must not be empty")
	case c.Dynamo.RetryDeadline < 0:
		return errors.New("-dynamodb-retry: must not be negative")
	case c.Secret != "" && len(c.Secret) < auth.MinSecretLen:
		return fmt.Errorf("-secret: must be at least %d bytes", auth.MinSecretLen)
	case c.AdminPassword != "" && len(c.AdminPassword) < auth.MinAdminPasswordLen:
		return fmt.Errorf("-admin-password: is %d characters; it must be at least %d (or leave it empty and sign in with the key that \"danmakud admin-key\" prints)", len(c.AdminPassword), auth.MinAdminPasswordLen)
	case c.UserRate <= 0 || c.IPRate <= 0:
		return errors.New("-user-rate, -ip-rate: must be positive")
	case c.UserBurst < 1 || c.IPBurst < 1:
		return errors.New("-user-burst, -ip-burst: must be at least 1")
	case c.DuplicateWindow < 0:
		return errors.New("-duplicate-window: must not be negative")
	case c.MaxPerTick < 1 || c.MaxPerTick > live.MaxMaxPerTick:
		return fmt.Errorf("-max-per-tick: must be from 1 to %d", live.MaxMaxPerTick)
	case c.Tick < live.MinTickInterval || c.Tick > live.MaxTickInterval:
		return fmt.Errorf("-tick: must be from %v to %v", live.MinTickInterval, live.MaxTickInterval)
	case c.SendBuffer < 0:
		return errors.New("-live-send-buffer: must not be negative")
	case c.History < time.Second:
		return errors.New("-live-history: must be at least 1s")
	case c.IdleTicks < 1:
		return errors.New("-live-idle-ticks: must be at least 1")
	}
	if _, err := moderation.ParseLeet(c.WordLeet); err != nil {
		return fmt.Errorf("-word-leet: %w", err)
	}
	if _, err := auth.ParseCookieSecure(c.SecureCookie); err != nil {
		return fmt.Errorf("-secure-cookie: %w", err)
	}
	if _, err := web.NewWith(web.Options{FrameAncestors: splitList(c.FrameAncestors)}); err != nil {
		return fmt.Errorf("-frame-ancestors: %w", err)
	}
	if _, err := moderation.ParseBanMode(c.BanMode); err != nil {
		return fmt.Errorf("-ban-mode: %w", err)
	}
	if c.BanIPv4Prefix < 1 || c.BanIPv4Prefix > 32 {
		return fmt.Errorf("-ban-ipv4-prefix %d: want 1 to 32", c.BanIPv4Prefix)
	}
	if c.BanIPv6Prefix < 1 || c.BanIPv6Prefix > 128 {
		return fmt.Errorf("-ban-ipv6-prefix %d: want 1 to 128", c.BanIPv6Prefix)
	}
	if c.MaxRooms < 1 || c.MaxRoomsPerAddr < 1 {
		return fmt.Errorf("-max-rooms and -max-rooms-per-ip must be positive")
	}
	return nil
}

// openStore opens the configured store.
func (m *Main) openStore(ctx context.Context) error {
	var st danmaku.Store
	var err error
	switch m.Config.Store {
	case "dynamodb":
		st, err = dynamostore.Open(ctx, m.Config.Dynamo)
	default:
		st, err = pebble.Open(m.Config.DataDir, &pebble.Options{Log: m.Log})
	}
	if err != nil {
		return err
	}
	m.Store = st
	m.closers = append(m.closers, st.Close)
	return nil
}

// Open opens the store and builds the service, the live hub and the HTTP
// API (see wire.go).
func (m *Main) Open(ctx context.Context) error {
	if err := m.openStore(ctx); err != nil {
		return err
	}
	if err := m.wire(); err != nil {
		return err
	}
	return m.restoreSettings(ctx)
}

// Run serves until ctx is cancelled.
func (m *Main) Run(ctx context.Context, ready func(net.Addr)) error {
	cfg := serveConfig{Addr: m.Config.Addr, MaxConnsPerIP: m.Config.MaxConnsPerIP, BodyTimeout: m.Config.BodyTimeout}
	if m.Config.MetricsAddr != "" {
		go func() {
			if err := serveMetrics(ctx, m.Config.MetricsAddr, auth.RequireBearer(m.Config.MetricsToken, m.Metrics.Handler()), m.Log); err != nil {
				m.Log.Error("metrics listener stopped", "err", err)
			}
		}()
	}
	if m.Redis != nil {
		go m.watchRedis(ctx)
	}
	if m.Config.DebugAddr != "" {
		go func() {
			if err := serveDebug(ctx, m.Config.DebugAddr, m.Log); err != nil {
				m.Log.Error("profiler stopped", "err", err)
			}
		}()
	}
	return serveWith(ctx, cfg, m.API, m.Log, func(a net.Addr) {
		m.Log.Info("danmakud listening", "addr", a.String(), "store", m.Config.Store)
		if ready != nil {
			ready(a)
		}
	})
}

// Close closes what Open opened, in reverse order.
func (m *Main) Close() error {
	var errs []error
	for i := len(m.closers) - 1; i >= 0; i-- {
		errs = append(errs, m.closers[i]())
	}
	m.closers = nil
	return errors.Join(errs...)
}

// defaultLeetFlag writes moderation.DefaultLeet in the -word-leet syntax.
func defaultLeetFlag() string {
	leet := moderation.DefaultLeet()
	pairs := make([]string, 0, len(leet))
	for from, to := range leet {
		pairs = append(pairs, string(from)+"="+string(to))
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ",")
}
