package live

import (
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/webapi"
)

// Defaults and bounds of a room's settings.
const (
	DefaultTickInterval = time.Second
	MinTickInterval     = danmaku.MinTickInterval
	MaxTickInterval     = danmaku.MaxTickInterval
	DefaultMaxPerTick   = 100
	MaxMaxPerTick       = danmaku.MaxMaxPerTick

	// RingSize is how many recent batches a joiner receives in its welcome.
	RingSize = 10
)

// Close codes sent in the WebSocket close frame (see docs/protocol.md).
const (
	CloseNormal        = 1000 // The answer to a client's close frame that had no code.
	CloseGoingAway     = 1001 // The server is shutting down.
	CloseProtocolError = 1002 // An unmasked client frame, or invalid UTF-8 text.
	CloseTooSlow       = 4008 // The viewer fell too far behind and was dropped.
	ClosePolicy        = 1008 // The client had too many messages waiting.
)

// RoomConfig holds one room's settings. Zero fields take the defaults.
type RoomConfig struct {
	// TickInterval is how often pending danmaku are merged and pushed:
	// 100 ms to 5 s, default 1 s.
	TickInterval time.Duration
	// MaxPerTick caps the items broadcast per tick: 1 to 1000, default 100.
	// Every accepted danmaku is stored whether it is broadcast or not.
	MaxPerTick int
}

// withDefaults returns c with zero fields set to their defaults.
func (c RoomConfig) withDefaults() RoomConfig {
	if c.TickInterval == 0 {
		c.TickInterval = DefaultTickInterval
	}
	if c.MaxPerTick == 0 {
		c.MaxPerTick = DefaultMaxPerTick
	}
	return c
}

// Validate returns an EINVALID *danmaku.Error naming the first field out of
// range, or nil. Zero fields are valid and mean the default.
func (c RoomConfig) Validate() error {
	if c.TickInterval != 0 && (c.TickInterval < MinTickInterval || c.TickInterval > MaxTickInterval) {
		return danmaku.FieldError("tickInterval", "must be from %v to %v", MinTickInterval, MaxTickInterval)
	}
	if c.MaxPerTick < 0 || c.MaxPerTick > MaxMaxPerTick {
		return danmaku.FieldError("maxPerTick", "must be from 1 to %d", MaxMaxPerTick)
	}
	return nil
}

// Sender stores a danmaku sent over a live connection, with the same
// validation, moderation and storage as POST /danmu/send.
type Sender interface {
	Send(ctx context.Context, a danmaku.Actor, req danmaku.SendRequest) (*danmaku.Danmaku, error)
}

// Ticker is the tick source of a room; Config.NewTicker makes one, whose
// first tick comes after the duration it is given. After each tick the
// room calls Reset with the time left to its next tick boundary, so that
// ticks stay on the room's grid (its epoch plus whole intervals) however
// late one ran, and a room that wakes from parking ticks on the grid at
// once. It lets tests stall and drive the ticker.
type Ticker interface {
	C() <-chan time.Time
	// Reset makes the next tick come after d.
	Reset(d time.Duration)
	Stop()
}

// realTicker is a Ticker on a time.Timer.
type realTicker struct{ t *time.Timer }

func (r realTicker) C() <-chan time.Time   { return r.t.C }
func (r realTicker) Reset(d time.Duration) { r.t.Reset(d) }
func (r realTicker) Stop()                 { r.t.Stop() }

// Config configures a Hub. The zero Config is usable: real clock, no
// sending over WebSocket (until SetSender), same-origin check, default
// limits.
type Config struct {
	// Log receives the hub's errors; nil discards them.
	Log *slog.Logger
	// Auth establishes who opens a connection, as webapi.Viewer reads it:
	// nil identifies nobody (every connection is an unidentified viewer),
	// and an invalid credential refuses the connection.
	Auth webapi.Authenticator
	// CheckOrigin allows or refuses a WebSocket upgrade by its Origin; nil
	// allows requests without Origin and same-origin requests.
	CheckOrigin func(*http.Request) bool
	// DisableCompression declines permessage-deflate. Otherwise a client
	// that offers it receives batches compressed once per batch and shared.
	DisableCompression bool
	// Limits bounds the danmaku sent over WebSocket.
	Limits danmaku.Limits

	// DefaultRoom holds the settings of rooms that SetRoomConfig has not
	// configured; its zero fields mean the package defaults.
	DefaultRoom RoomConfig

	// Now and NewTicker are the clock and tick source; nil means real time.
	Now       func() time.Time
	NewTicker func(time.Duration) Ticker

	// QueueLen is the number of messages a viewer may have waiting while
	// its connection is backed up; older batches are dropped first and the
	// viewer is told how many (default 16).
	QueueLen int
	// MaxStalledTicks is how many consecutive ticks a viewer may stay
	// backed up before it is disconnected with CloseTooSlow (default 30).
	MaxStalledTicks int
	// MaxMessageBytes limits a client message (default 4096).
	MaxMessageBytes int
	// PingInterval is how often the server pings idle connections
	// (default 30 s); a connection that sends nothing for three intervals
	// is closed.
	PingInterval time.Duration
	// IdleRoomTicks is how many tick intervals a room with no viewers and
	// nothing pending lives on, keeping its recent batches for joiners
	// (default 60). Such a room is parked meanwhile: it does not tick, and
	// the hub's sweep evicts it when the time is over (see rooms.go).
	IdleRoomTicks int
	// BatchLog, when not nil, keeps the rooms' batches for History, so
	// that a room's seq goes on after an eviction or a restart and a
	// viewer that reconnects can resume (docs/protocol.md, "Resume").
	// Without it a room's history lives as long as the room in memory.
	BatchLog danmaku.BatchLog
	// History is how long batches stay in the BatchLog (default
	// DefaultHistory); the last RingSize batches of a room stay longer.
	History time.Duration
	// MaxRooms bounds the rooms held in memory (default DefaultMaxRooms).
	// A full hub evicts an idle room to make space (see rooms.go).
	MaxRooms int
	// MaxRoomsPerAddr bounds the idle rooms that viewers from one address
	// have created and the hub still holds (default DefaultMaxRoomsPerAddr).
	MaxRoomsPerAddr int
	// FanoutWorkers is how many goroutines write one tick to a large
	// room's viewers (default GOMAXPROCS).
	FanoutWorkers int
	// SocketSendBuffer, if positive, sets SO_SNDBUF on viewer sockets.
	SocketSendBuffer int
	// ConnHook, when not nil, is called by ServeWS just before the upgrade
	// takes the connection over; the function it returns is called once
	// when the connection ends, or at once if the upgrade fails. The
	// server's per-address connection cap uses it to count WebSocket
	// connections that live on the hub's poller.
	ConnHook func(*http.Request) (release func())
}

func (c Config) withDefaults() Config {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewTicker == nil {
		c.NewTicker = func(d time.Duration) Ticker { return realTicker{time.NewTimer(d)} }
	}
	if c.QueueLen <= 0 {
		c.QueueLen = 16
	}
	if c.MaxStalledTicks <= 0 {
		c.MaxStalledTicks = 30
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 4096
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.IdleRoomTicks <= 0 {
		c.IdleRoomTicks = 60
	}
	if c.FanoutWorkers <= 0 {
		c.FanoutWorkers = runtime.GOMAXPROCS(0)
	}
	if c.History <= 0 {
		c.History = DefaultHistory
	}
	if c.MaxRooms <= 0 {
		c.MaxRooms = DefaultMaxRooms
	}
	if c.MaxRoomsPerAddr <= 0 {
		c.MaxRoomsPerAddr = DefaultMaxRoomsPerAddr
	}
	if c.Limits.MaxTextRunes <= 0 {
		c.Limits = danmaku.DefaultLimits()
	}
	return c
}
