package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	danmaku "github.com/danmakud/danmakud"
)

// statusOf is the one place that maps error codes to HTTP statuses.
func statusOf(code string) int {
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

// ErrorJSON returns the JSON body that describes err to a client.
func ErrorJSON(err error) []byte {
	d := errorDetail{Code: danmaku.ErrorCode(err), Message: danmaku.ErrorMessage(err)}
	if e, ok := asError(err); ok {
		d.Field = e.Field
	}
	if ra := danmaku.ErrorRetryAfter(err); ra > 0 {
		d.RetryAfter = ra.Milliseconds()
	}
	b, _ := json.Marshal(errorBody{Error: d})
	return b
}

func asError(err error) (*danmaku.Error, bool) {
	var e *danmaku.Error
	ok := errors.As(err, &e)
	return e, ok
}

// writeError writes err as JSON with its status (and Retry-After), and
// logs internal errors, whose detail the client does not see.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := danmaku.ErrorCode(err)
	status := statusOf(code)
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

// writeJSON writes v as a JSON 200 response.
func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"internal error"}}`, http.StatusInternalServerError)
		return
	}
	writeRawJSON(w, b)
}

// writeRawJSON writes b, which must be JSON, as a 200 response.
func writeRawJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}
