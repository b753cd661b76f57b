// Package dplayer serves the backend API of DPlayer, a popular HTML5 danmaku
// player, so that an unmodified DPlayer configured with
// danmaku: {id: 'X', api: 'https://host/dplayer/'} reads and sends danmaku
// through danmakud:
//
//	GET  {api}v3/?id=X&max=N   → {"code":0,"data":[[time, type, color, "author", "text"], …]}
//	POST {api}v3/              ← {"token","id","author","time","text","color","type"}
//	                           → {"code":0,"data":{…}} or {"code":1,"msg":"…"}
//
// Every answer, errors included, has HTTP status 200: DPlayer shows the
// msg of a code 1 answer to the viewer, but for any other status it shows
// only a generic failure, so a refused danmaku would not say why.
package dplayer

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// Service is the pipeline the handler reads and sends through, the same
// as the rest of the API's (service.Service implements it).
type Service interface {
	// Send accepts one danmaku through the same pipeline as POST
	// /danmu/send (moderation, rate limits, storage, live push) and
	// returns it as stored. Errors meant for the client are
	// *danmaku.Error values.
	Send(ctx context.Context, a danmaku.Actor, req danmaku.SendRequest) (*danmaku.Danmaku, error)
	// ReadAll yields the danmaku of a video that a may see, in playback
	// order.
	ReadAll(ctx context.Context, a danmaku.Actor, objectID string) iter.Seq2[*danmaku.Danmaku, error]
}

// Authenticator establishes who makes a request. The handler calls it for
// every POST, after copying the body's token into an
// "Authorization: Bearer" header when the request carries none, and for
// every GET, where an error just means an anonymous reader.
type Authenticator func(*http.Request) (danmaku.Actor, error)

// Limits of the API.
const (
	DefaultMax   = 1000     // Danmaku a GET returns when it names no max.
	MaxMax       = 10000    // The most danmaku a GET returns.
	MaxBodyBytes = 16 << 10 // The largest POST body accepted.
)

// DPlayer's danmaku types.
const (
	TypeScroll = 0 // "right" in DPlayer's own words.
	TypeTop    = 1
	TypeBottom = 2
)

// Config holds the handler's settings.
type Config struct {
	// Auth establishes who makes a request; nil treats everyone as an
	// anonymous viewer known by remote address.
	Auth   Authenticator
	Limits danmaku.Limits // Content limits of a send.
	Log    *slog.Logger   // Receives internal errors; nil discards them.
}

// handler serves the v3 API; see NewHandler.
type handler struct {
	svc  Service
	auth Authenticator
	lim  danmaku.Limits
	log  *slog.Logger
}

// NewHandler returns a handler for GET /v3/ and POST /v3/, relative to where
// it is mounted (mount it with http.StripPrefix("/dplayer", h) to serve
// /dplayer/v3/). Reads and sends go through s, as the actor that cfg.Auth
// returns.
func NewHandler(s Service, cfg Config) http.Handler {
	if cfg.Auth == nil {
		cfg.Auth = func(r *http.Request) (danmaku.Actor, error) {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				host = r.RemoteAddr
			}
			return danmaku.Actor{Anonymous: true, IP: host}, nil
		}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &handler{svc: s, auth: cfg.Auth, lim: cfg.Limits, log: cfg.Log}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v3/" && r.URL.Path != "/v3" {
		h.writeError(w, r, danmaku.Errorf(danmaku.ENOTFOUND, "no such DPlayer endpoint; use v3/"))
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.read(w, r)
	case http.MethodPost:
		h.post(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		h.writeError(w, r, danmaku.Errorf(danmaku.EMETHOD, "method %s is not allowed; use GET or POST", r.Method))
	}
}

// read answers GET ?id=&max= (or limit=) with the first max danmaku of the
// video in playback order.
func (h *handler) read(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := q.Get("id")
	if err := danmaku.ValidateObjectID(id); err != nil {
		h.writeError(w, r, renameField(err, "id"))
		return
	}
	limit, err := maxParam(q.Get("max"), q.Get("limit"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	actor, err := h.auth(r)
	if err != nil {
		actor = danmaku.Actor{}
	}
	items, err := h.list(r.Context(), id, limit, actor)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	rows := make([][]any, 0, len(items))
	for _, d := range items {
		rows = append(rows, row(d))
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, map[string]any{"code": 0, "data": rows})
}

// maxParam reads the row limit from max, or from limit when max is absent.
func maxParam(maxS, limitS string) (int, error) {
	name, s := "max", maxS
	if s == "" {
		name, s = "limit", limitS
	}
	if s == "" || s == "undefined" {
		return DefaultMax, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, danmaku.FieldError(name, "must be a non-negative integer")
	}
	if n == 0 {
		return DefaultMax, nil
	}
	return min(n, MaxMax), nil
}

// list reads the first limit danmaku of the video that a may see.
func (h *handler) list(ctx context.Context, objectID string, limit int, a danmaku.Actor) ([]*danmaku.Danmaku, error) {
	out := make([]*danmaku.Danmaku, 0, min(limit, danmaku.MaxPageSize))
	for d, err := range h.svc.ReadAll(ctx, a, objectID) {
		if err != nil {
			return nil, err
		}
		if out = append(out, d); len(out) == limit {
			break
		}
	}
	return out, nil
}

// row is a danmaku in DPlayer's form. The text and author are HTML-escaped
// because DPlayer puts them into innerHTML.
func row(d *danmaku.Danmaku) []any {
	return []any{
		d.Content.Time.Seconds(),
		dplayerType(d.Content.Position),
		int(uint32(d.Content.Color) & 0xffffff),
		html.EscapeString(d.UserID),
		html.EscapeString(d.Content.Text),
	}
}

// dplayerType maps a danmakud mode to DPlayer's type; DPlayer has no
// reverse scrolling, so mode 6 scrolls the usual way.
func dplayerType(mode int) int {
	switch mode {
	case danmaku.ModeTop:
		return TypeTop
	case danmaku.ModeBottom:
		return TypeBottom
	}
	return TypeScroll
}

// postBody is DPlayer's send body with loose types: clients send colour and
// type as numbers or strings, and time as a number.
type postBody struct {
	Token  any `json:"token"`
	ID     any `json:"id"`
	Author any `json:"author"`
	Time   any `json:"time"`
	Text   any `json:"text"`
	Color  any `json:"color"`
	Type   any `json:"type"`
}

// post sends one danmaku. The body's author is ignored: who sends is what
// authentication says, never what the body claims.
func (h *handler) post(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.writeError(w, r, danmaku.Errorf(danmaku.ETOOLARGE, "body is larger than %d bytes", MaxBodyBytes))
			return
		}
		h.writeError(w, r, danmaku.Errorf(danmaku.EINVALID, "could not read the body"))
		return
	}
	var pb postBody
	if err := json.Unmarshal(body, &pb); err != nil {
		h.writeError(w, r, danmaku.Errorf(danmaku.EINVALID, "body must be a JSON object"))
		return
	}
	req, err := h.parsePost(pb)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ar := r
	if tok, ok := pb.Token.(string); ok && tok != "" && r.Header.Get("Authorization") == "" {
		ar = r.Clone(r.Context())
		ar.Header.Set("Authorization", "Bearer "+tok)
	}
	actor, err := h.auth(ar)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	d, err := h.svc.Send(r.Context(), actor, req)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, map[string]any{"code": 0, "data": map[string]any{
		"id":     d.ID.String(),
		"author": html.EscapeString(d.UserID),
		"time":   d.Content.Time.Seconds(),
		"text":   html.EscapeString(d.Content.Text),
		"color":  int(uint32(d.Content.Color) & 0xffffff),
		"type":   dplayerType(d.Content.Position),
	}})
}

// parsePost validates a send body into a SendRequest; every error is an
// EINVALID *danmaku.Error naming DPlayer's field.
func (h *handler) parsePost(pb postBody) (danmaku.SendRequest, error) {
	var req danmaku.SendRequest
	switch id := pb.ID.(type) {
	case string:
		req.ObjectID = id
	case float64:
		req.ObjectID = strconv.FormatFloat(id, 'f', -1, 64)
	case nil:
		return req, danmaku.FieldError("id", "is required")
	default:
		return req, danmaku.FieldError("id", "must be a string")
	}
	if err := danmaku.ValidateObjectID(req.ObjectID); err != nil {
		return req, renameField(err, "id")
	}
	text, ok := pb.Text.(string)
	if !ok {
		return req, danmaku.FieldError("text", "must be a string")
	}
	text, err := danmaku.ValidateText(text, h.lim)
	if err != nil {
		return req, renameField(err, "text")
	}
	c := danmaku.Content{Text: text, Color: danmaku.White, Size: danmaku.SizeMedium, Position: danmaku.ModeScroll}
	if pb.Color != nil {
		if c.Color, err = danmaku.ParseColor(pb.Color); err != nil {
			return req, danmaku.FieldError("color", "%v", err)
		}
	}
	if c.Position, err = parseType(pb.Type); err != nil {
		return req, err
	}
	if c.Time, err = parseTime(pb.Time); err != nil {
		return req, err
	}
	req.Content = c
	return req, nil
}

// parseType maps DPlayer's type (0, 1, 2 or "right", "top", "bottom", as a
// number or a string) to a danmakud mode; absent means scroll.
func parseType(raw any) (int, error) {
	var s string
	switch v := raw.(type) {
	case nil:
		return danmaku.ModeScroll, nil
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		s = strings.ToLower(strings.TrimSpace(v))
	}
	switch s {
	case "", "0", "right", "scroll":
		return danmaku.ModeScroll, nil
	case "1", "top":
		return danmaku.ModeTop, nil
	case "2", "bottom":
		return danmaku.ModeBottom, nil
	}
	return 0, danmaku.FieldError("type", "must be 0 (right), 1 (top) or 2 (bottom)")
}

// parseTime reads the playback time in seconds, as a number or a numeric
// string; absent means 0.
func parseTime(raw any) (danmaku.Time, error) {
	var secs float64
	switch v := raw.(type) {
	case nil:
		return 0, nil
	case float64:
		secs = v
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, danmaku.FieldError("time", "must be a number of seconds")
		}
		secs = f
	default:
		return 0, danmaku.FieldError("time", "must be a number of seconds")
	}
	t, err := danmaku.TimeFromSeconds(secs)
	if err != nil {
		return 0, danmaku.FieldError("time", "%v", err)
	}
	return t, nil
}

// renameField returns err with the field named as DPlayer names it.
func renameField(err error, field string) error {
	var e *danmaku.Error
	if errors.As(err, &e) {
		c := *e
		c.Field = field
		return &c
	}
	return err
}

// writeError answers with {"code":1,"msg":…,"error":code} and status 200,
// which is the only way DPlayer shows the message; see the package comment.
// Internal errors say only "internal error" and go to the handler's log.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if danmaku.ErrorCode(err) == danmaku.EINTERNAL {
		h.log.ErrorContext(r.Context(), "dplayer api", "method", r.Method, "err", err)
	}
	if ra := danmaku.ErrorRetryAfter(err); ra > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((ra+time.Second-1)/time.Second)))
	}
	writeJSON(w, map[string]any{"code": 1, "msg": danmaku.ErrorMessage(err), "error": danmaku.ErrorCode(err)})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // The client has gone if this fails; nothing to tell it.
}
