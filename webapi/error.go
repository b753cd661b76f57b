// Package webapi is the one HTTP error and identity layer of danmakud's
// transports: the map from error codes to HTTP statuses, the JSON error
// writer, and the identity of a request (its bearer token, anonymous
// cookie and role, read by an Authenticator such as auth.Authenticator).
// The HTTP API (httpapi) and the live WebSocket and SSE endpoints (live)
// both answer through it, so that a refusal carries the same status and
// the same body wherever it happens.
package webapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	danmaku "github.com/danmakud/danmakud"
)

// Status is the one place that maps error codes to HTTP statuses.
func Status(code string) int {
	switch code {
	case danmaku.EINVALID:
		return http.StatusBadRequest
	case danmaku.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case danmaku.EFORBIDDEN:
		return http.StatusForbidden
	case danmaku.ENOTFOUND:
		return http.StatusNotFound
	case danmaku.EMETHOD:
		return http.StatusMethodNotAllowed
	case danmaku.ECONFLICT:
		return http.StatusConflict
	case danmaku.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case danmaku.EMEDIATYPE:
		return http.StatusUnsupportedMediaType
	case danmaku.EREFUSED:
		return http.StatusUnprocessableEntity
	case danmaku.ERATELIMIT:
		return http.StatusTooManyRequests
	case danmaku.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	Field      string `json:"field,omitempty"`
	RetryAfter int64  `json:"retryAfterMs,omitempty"`
}

// ErrorJSON returns the JSON body that describes err to a client:
// {"error":{"code","message","field","retryAfterMs"}}.
func ErrorJSON(err error) []byte {
	d := errorDetail{Code: danmaku.ErrorCode(err), Message: danmaku.ErrorMessage(err)}
	var e *danmaku.Error
	if errors.As(err, &e) {
		d.Field = e.Field
	}
	if ra := danmaku.ErrorRetryAfter(err); ra > 0 {
		d.RetryAfter = ra.Milliseconds()
	}
	b, _ := json.Marshal(errorBody{Error: d})
	return b
}

// WriteError writes err as JSON with its status (and Retry-After), and
// logs internal errors, whose detail the client does not see. log may be
// nil.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	status := Status(danmaku.ErrorCode(err))
	switch {
	case status != http.StatusInternalServerError:
	case r.Context().Err() != nil && errors.Is(err, r.Context().Err()):
		// The client went away (or the server is shutting down): nobody
		// reads this answer, and nothing failed on the server's side.
		log.Debug("request ended before its answer", "method", r.Method, "path", r.URL.Path, "err", err)
	default:
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if ra := danmaku.ErrorRetryAfter(err); ra > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ra.Seconds()))))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(ErrorJSON(err))
}
