package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/auth"
	"github.com/danmakud/danmakud/live"
	"github.com/danmakud/danmakud/moderation"
	"github.com/danmakud/danmakud/service"
	"github.com/danmakud/danmakud/webapi"
)

// Admin holds what the admin API acts on. Admins act everywhere; room
// moderators act on their rooms only.
type Admin struct {
	Guard *moderation.Guard
	Hub   *live.Hub
	// Settings keeps room settings, bans and word lists durably; each
	// admin change is one write to it before it is applied to Guard and
	// Hub. Nil keeps them in memory (and Redis) only.
	Settings danmaku.SettingsStore
	// Rooms stores and applies a room's settings (pause, slow mode, tick
	// interval, cap); nil means service.NewRooms(Settings, Hub, Guard).
	Rooms *service.Rooms
	// Login exchanges the admin credential for an admin token.
	Login func(password string) (string, error)
	// LoginLimits throttles sign-in attempts per address; nil allows all.
	LoginLimits moderation.RateLimiter
	Now         func() time.Time
}

// MountAdmin registers the admin API under /admin/api/.
func (s *Server) MountAdmin(a Admin) {
	if a.Now == nil {
		a.Now = time.Now
	}
	if a.Rooms == nil {
		a.Rooms = service.NewRooms(a.Settings, a.Hub, a.Guard)
	}
	h := &adminHandlers{s: s, a: a}
	s.handleFunc("POST /admin/api/login", h.login)
	s.handleFunc("GET /admin/api/feed", h.feed)
	s.Handle("GET /admin/api/feed/stream", webapi.QueryToken(http.HandlerFunc(h.feedStream)))
	s.handleFunc("GET /admin/api/words", h.listWords)
	s.handleFunc("POST /admin/api/words", h.addWord)
	s.handleFunc("DELETE /admin/api/words", h.removeWord)
	s.handleFunc("GET /admin/api/bans", h.listBans)
	s.handleFunc("POST /admin/api/bans", h.ban)
	s.handleFunc("DELETE /admin/api/bans", h.unban)
	s.handleFunc("GET /admin/api/rooms/{objectId}", h.room)
	s.handleFunc("POST /admin/api/rooms/{objectId}", h.setRoom)
	s.handleFunc("POST /admin/api/rooms/{objectId}/live/start", h.startLive)
	s.handleFunc("POST /admin/api/rooms/{objectId}/live/end", h.endLive)
	s.handleFunc("POST /admin/api/rooms/{objectId}/sessions/{id}", h.setRecording)
	s.handleFunc("GET /admin/api/stats", h.stats)
}

type adminHandlers struct {
	s *Server
	a Admin
}

// actor returns the caller if it may moderate room ("" means every room,
// which only admins may), or writes the error and returns false.
func (h *adminHandlers) actor(w http.ResponseWriter, r *http.Request, room string) (danmaku.Actor, bool) {
	a, err := h.s.auth.Authenticate(r)
	if err != nil {
		webapi.WriteError(w, r, h.s.log, &danmaku.Error{Code: danmaku.EUNAUTHORIZED, Message: "sign in as an admin or a moderator"})
		return a, false
	}
	allowed := a.Role == danmaku.RoleAdmin || (room != "" && a.CanModerate(room))
	if !allowed {
		webapi.WriteError(w, r, h.s.log, danmaku.Errorf(danmaku.EFORBIDDEN, "this needs the admin role or a moderator of the room"))
		return a, false
	}
	return a, true
}

// moderatedRoom returns the route's objectId if it is valid and the caller may
// moderate it, or writes the error and returns false.
func (h *adminHandlers) moderatedRoom(w http.ResponseWriter, r *http.Request) (string, bool) {
	objectID := r.PathValue("objectId")
	if err := danmaku.ValidateObjectID(objectID); err != nil {
		webapi.WriteError(w, r, h.s.log, err)
		return "", false
	}
	_, ok := h.actor(w, r, objectID)
	return objectID, ok
}

// decode reads a small JSON body into v.
func (h *adminHandlers) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := h.s.readJSONBody(w, r)
	if err == nil {
		if e := json.Unmarshal(body, v); e != nil {
			err = danmaku.Errorf(danmaku.EINVALID, "body: %v", e)
		}
	}
	if err != nil {
		webapi.WriteError(w, r, h.s.log, err)
		return false
	}
	return true
}

func (h *adminHandlers) login(w http.ResponseWriter, r *http.Request) {
	if h.a.LoginLimits != nil {
		if err := h.a.LoginLimits.Allow(moderation.Attempt{IP: auth.RemoteIP(r)}); err != nil {
			webapi.WriteError(w, r, h.s.log, err)
			return
		}
	}
	var in struct {
		Password string `json:"password"`
	}
	if !h.decode(w, r, &in) {
		return
	}
	token, err := h.a.Login(in.Password)
	if err != nil {
		webapi.WriteError(w, r, h.s.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, map[string]string{"token": token})
}

func (h *adminHandlers) feed(w http.ResponseWriter, r *http.Request) {
	room := r.URL.Query().Get("room")
	if _, ok := h.actor(w, r, room); !ok {
		return
	}
	writeJSON(w, map[string]any{"events": h.s.svc.Feed().Recent(room, 500)})
}

// feedStream pushes new feed events as Server-Sent Events.
func (h *adminHandlers) feedStream(w http.ResponseWriter, r *http.Request) {
	room := r.URL.Query().Get("room")
	if _, ok := h.actor(w, r, room); !ok {
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		webapi.WriteError(w, r, h.s.log, fmt.Errorf("feed stream: response writer cannot flush"))
		return
	}
	events, cancel := h.s.svc.Feed().Subscribe(room)
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepAlive.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
				return
			}
		case e := <-events:
			b, _ := json.Marshal(e)
			if _, err := fmt.Fprintf(w, "event: feed\ndata: %s\n\n", b); err != nil {
				return
			}
		}
		flusher.Flush()
	}
}

func (h *adminHandlers) listWords(w http.ResponseWriter, r *http.Request) {
	room := r.URL.Query().Get("room")
	if _, ok := h.actor(w, r, room); !ok {
		return
	}
	writeJSON(w, map[string]any{"room": room, "rules": h.a.Guard.Words.List(room)})
}

func (h *adminHandlers) addWord(w http.ResponseWriter, r *http.Request) {
	var rule moderation.Rule
	if !h.decode(w, r, &rule) {
		return
	}
	if _, ok := h.actor(w, r, rule.Room); !ok {
		return
	}
	if h.a.Settings != nil {
		rec, err := moderation.WordRecord(rule)
		if err == nil {
			err = h.a.Settings.PutWord(r.Context(), rec)
		}
		if err != nil {
			webapi.WriteError(w, r, h.s.log, err)
			return
		}
	}
	if err := h.a.Guard.Words.Add(rule); err != nil {
		webapi.WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, map[string]any{"added": rule})
}

func (h *adminHandlers) removeWord(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	room := q.Get("room")
	if _, ok := h.actor(w, r, room); !ok {
		return
	}
	var stored bool
	if h.a.Settings != nil {
		var err error
		if stored, err = h.a.Settings.DeleteWord(r.Context(), room, moderation.WordKey(q.Get("word"))); err != nil {
			webapi.WriteError(w, r, h.s.log, err)
			return
		}
	}
	removed, err := h.a.Guard.Words.Remove(room, q.Get("word"))
	h.removed(w, r, removed || stored, err, "no such word in this list")
}

func (h *adminHandlers) listBans(w http.ResponseWriter, r *http.Request) {
	room := r.URL.Query().Get("room")
	scope := room
	if room == "" {
		scope = "*"
	}
	if _, ok := h.actor(w, r, room); !ok {
		return
	}
	writeJSON(w, map[string]any{"bans": h.a.Guard.Bans.List(scope, h.a.Now())})
}

func (h *adminHandlers) ban(w http.ResponseWriter, r *http.Request) {
	var in struct {
		UserID  string `json:"userId"`
		IP      string `json:"ip"`   // An address to ban instead of a user.
		CIDR    string `json:"cidr"` // A range to ban instead of a user.
		Room    string `json:"room"`
		Reason  string `json:"reason"`
		Seconds int64  `json:"seconds"` // 0 means permanent.
	}
	if !h.decode(w, r, &in) {
		return
	}
	a, ok := h.actor(w, r, in.Room)
	if !ok {
		return
	}
	if in.Seconds < 0 {
		webapi.WriteError(w, r, h.s.log, danmaku.FieldError("seconds", "must not be negative"))
		return
	}
	addr, err := banAddr(in.UserID, in.IP, in.CIDR)
	if err != nil {
		webapi.WriteError(w, r, h.s.log, err)
		return
	}
	now := h.a.Now()
	b := moderation.Ban{UserID: in.UserID, Addr: addr, Room: in.Room, Reason: in.Reason, By: a.UserID, Since: now}
	if in.Seconds > 0 {
		b.Until = now.Add(time.Duration(in.Seconds) * time.Second)
	}
	if h.a.Settings != nil {
		err := moderation.ValidateBan(b)
		if err == nil {
			err = h.a.Settings.PutBan(r.Context(), moderation.BanRecord(b))
		}
		if err != nil {
			webapi.WriteError(w, r, h.s.log, err)
			return
		}
	}
	followed, err := h.a.Guard.BanUser(r.Context(), b)
	if err != nil {
		webapi.WriteError(w, r, h.s.log, err)
		return
	}
	if followed != nil && h.a.Settings != nil {
		// The address ban that follows an anonymous id is stored too, so
		// that it holds after a restart.
		if err := h.a.Settings.PutBan(r.Context(), moderation.BanRecord(*followed)); err != nil {
			webapi.WriteError(w, r, h.s.log, err)
			return
		}
	}
	out := map[string]any{"ban": b}
	if followed != nil {
		out["addressBan"] = followed
	}
	writeJSON(w, out)
}

// banAddr returns the canonical range of an address ban given as "ip" or
// "cidr" (at most one of userId, ip and cidr), or "" for a user ban.
func banAddr(user, ip, cidr string) (string, error) {
	n := 0
	for _, s := range []string{user, ip, cidr} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return "", danmaku.FieldError("userId", "give one of userId, ip and cidr")
	}
	switch {
	case ip != "":
		if strings.Contains(ip, "/") {
			return "", danmaku.FieldError("ip", "must be one address; use cidr for a range")
		}
		return moderation.ParseAddrBan("ip", ip)
	case cidr != "":
		return moderation.ParseAddrBan("cidr", cidr)
	}
	return "", nil
}

func (h *adminHandlers) unban(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	room := q.Get("room")
	if _, ok := h.actor(w, r, room); !ok {
		return
	}
	addr, err := banAddr(q.Get("userId"), q.Get("ip"), q.Get("cidr"))
	if err != nil {
		webapi.WriteError(w, r, h.s.log, err)
		return
	}
	var stored bool
	if h.a.Settings != nil {
		if stored, err = h.a.Settings.DeleteBan(r.Context(), room, q.Get("userId"), addr); err != nil {
			webapi.WriteError(w, r, h.s.log, err)
			return
		}
		// The stored address bans that followed this user's ban go too.
		for _, b := range h.a.Guard.Bans.List(room, h.a.Now()) {
			if b.For != "" && b.For == q.Get("userId") && b.Room == room {
				if _, err := h.a.Settings.DeleteBan(r.Context(), room, "", b.Addr); err != nil {
					webapi.WriteError(w, r, h.s.log, err)
					return
				}
			}
		}
	}
	subject := moderation.Ban{UserID: q.Get("userId"), Addr: addr}.Subject()
	removed, err := h.a.Guard.UnbanUser(r.Context(), subject, room)
	h.removed(w, r, removed || stored, err, "no such ban")
}

// removed answers a removal: the error, a 404 saying notFound when there
// was nothing to remove, or {"removed":true}.
func (h *adminHandlers) removed(w http.ResponseWriter, r *http.Request, removed bool, err error, notFound string) {
	switch {
	case err != nil:
		webapi.WriteError(w, r, h.s.log, err)
	case !removed:
		webapi.WriteError(w, r, h.s.log, danmaku.Errorf(danmaku.ENOTFOUND, "%s", notFound))
	default:
		writeJSON(w, map[string]bool{"removed": true})
	}
}

// roomState is what the admin page shows and sets of one room.
type roomState struct {
	ObjectID        string        `json:"objectId"`
	Paused          bool          `json:"paused"`
	SlowModeSeconds float64       `json:"slowModeSeconds"`
	TickMs          int64         `json:"tickMs"`
	MaxPerTick      int           `json:"maxPerTick"`
	Live            *live.Session `json:"live,omitempty"`
}

func (h *adminHandlers) state(objectID string) roomState {
	c := h.a.Hub.RoomConfig(objectID)
	st := roomState{
		ObjectID:        objectID,
		Paused:          h.a.Guard.Pauses.Paused(objectID),
		SlowModeSeconds: h.a.Guard.Limits.SlowMode(objectID).Seconds(),
		TickMs:          c.TickInterval.Milliseconds(),
		MaxPerTick:      c.MaxPerTick,
	}
	if s, ok := h.a.Hub.Session(objectID); ok {
		st.Live = &s
	}
	return st
}

// settings returns the stored settings of objectID or, when none are
// stored (or no store keeps them), the ones in force: the room's own, so
// that a tick interval or cap it takes from the server's defaults stays
// zero (and follows the defaults).
func (h *adminHandlers) settings(r *http.Request, objectID string) (danmaku.RoomSettings, error) {
	if h.a.Settings != nil {
		s, err := h.a.Settings.Room(r.Context(), objectID)
		if !errors.Is(err, danmaku.ErrNotFound) {
			return s, err
		}
	}
	s := h.a.Hub.RoomSettings(objectID)
	s.Paused = h.a.Guard.Paused(objectID)
	s.SlowMode = h.a.Guard.Limits.SlowMode(objectID)
	return s, nil
}

func (h *adminHandlers) room(w http.ResponseWriter, r *http.Request) {
	objectID, ok := h.moderatedRoom(w, r)
	if !ok {
		return
	}
	writeJSON(w, h.state(objectID))
}

func (h *adminHandlers) setRoom(w http.ResponseWriter, r *http.Request) {
	objectID, ok := h.moderatedRoom(w, r)
	if !ok {
		return
	}
	var in struct {
		Paused          *bool    `json:"paused"`
		SlowModeSeconds *float64 `json:"slowModeSeconds"`
		TickMs          *int64   `json:"tickMs"`
		MaxPerTick      *int     `json:"maxPerTick"`
	}
	if !h.decode(w, r, &in) {
		return
	}
	next, err := h.settings(r, objectID)
	if err != nil {
		webapi.WriteError(w, r, h.s.log, err)
		return
	}
	if in.TickMs != nil {
		next.TickInterval = time.Duration(*in.TickMs) * time.Millisecond
	}
	if in.MaxPerTick != nil {
		next.MaxPerTick = *in.MaxPerTick
	}
	if in.Paused != nil {
		next.Paused = *in.Paused
	}
	if in.SlowModeSeconds != nil {
		if *in.SlowModeSeconds < 0 || *in.SlowModeSeconds > danmaku.MaxSlowMode.Seconds() {
			webapi.WriteError(w, r, h.s.log, danmaku.FieldError("slowModeSeconds", "must be from 0 to %v", danmaku.MaxSlowMode.Seconds()))
			return
		}
		next.SlowMode = time.Duration(*in.SlowModeSeconds * float64(time.Second))
	}
	// The room's whole settings are checked, stored in one write and
	// then applied to the hub and the guard together.
	if err := h.a.Rooms.Set(r.Context(), next); err != nil {
		webapi.WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, h.state(objectID))
}

func (h *adminHandlers) startLive(w http.ResponseWriter, r *http.Request) {
	h.live(w, r, h.a.Hub.StartLive)
}

func (h *adminHandlers) endLive(w http.ResponseWriter, r *http.Request) {
	h.live(w, r, h.a.Hub.EndLive)
}

func (h *adminHandlers) live(w http.ResponseWriter, r *http.Request, act func(string, time.Time) (live.Session, error)) {
	objectID, ok := h.moderatedRoom(w, r)
	if !ok {
		return
	}
	s, err := act(objectID, h.a.Now())
	if err == nil {
		// The session's record: what GET /danmu/sessions lists and what
		// replays (session=) read.
		err = h.s.svc.RecordSession(r.Context(), danmaku.Session{ObjectID: objectID, ID: s.ID(),
			StartedAt: s.StartedAt, EndedAt: s.EndedAt})
	}
	if err == nil && h.a.Settings != nil {
		// The session runs (or has ended) on the hub; the room's stored
		// settings now record it, so that it outlives a restart. They
		// are written and applied like any room change (applying finds
		// the session running, or leaves the ended one ended).
		var st danmaku.RoomSettings
		if st, err = h.settings(r, objectID); err == nil {
			st.Live = nil
			if s.EndedAt.IsZero() {
				st.Live = &danmaku.LiveSession{StartedAt: s.StartedAt}
			}
			err = h.a.Rooms.Set(r.Context(), st)
		}
	}
	if err != nil {
		webapi.WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, map[string]any{"session": s})
}

func (h *adminHandlers) stats(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.actor(w, r, ""); !ok {
		return
	}
	hs := h.a.Hub.Stats()
	writeJSON(w, map[string]any{
		"viewers":           hs.Viewers,
		"rooms":             hs.Rooms,
		"sends":             h.s.svc.SendCounts(),
		"broadcast":         hs.Broadcast,
		"folded":            hs.Folded,
		"droppedByCap":      hs.DroppedByCap,
		"droppedPending":    hs.DroppedPending,
		"droppedBatches":    hs.DroppedBatches,
		"slowDisconnects":   hs.SlowDisconnects,
		"silentDisconnects": hs.SilentDisconnects,
		"ticks":             hs.Ticks,
		"lateTicks":         hs.LateTicks,
		"maxTickLagMs":      hs.MaxTickLag.Milliseconds(),
		"at":                h.a.Now().UnixMilli(),
	})
}
