package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Danmaku is the part of a stored danmaku that the tests look at.
type Danmaku struct {
	ID       string `json:"id"`
	ObjectID string `json:"objectId"`
	UserID   string `json:"userId"`
	Content  struct {
		Text     string  `json:"text"`
		Color    string  `json:"color"`
		Position int     `json:"position"`
		Time     float64 `json:"time"`
	} `json:"content"`
}

// Send stores a danmaku through POST /danmu/send and returns it; any
// failure fails the test.
func (s *Server) Send(tb testing.TB, objectID, userID string, content map[string]any) Danmaku {
	tb.Helper()
	body, err := json.Marshal(map[string]any{"objectId": objectID, "userId": userID, "content": content})
	if err != nil {
		tb.Fatalf("encode send: %v", err)
	}
	res, err := http.Post(s.URL()+"/danmu/send", "application/json", bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("POST /danmu/send: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		tb.Fatalf("POST /danmu/send %s: %s %s (%v)", body, res.Status, b, err)
	}
	var d Danmaku
	if err := json.Unmarshal(b, &d); err != nil || d.ID == "" {
		tb.Fatalf("POST /danmu/send: bad answer %s (%v)", b, err)
	}
	return d
}

// Stored returns the first 100 stored danmaku of objectID in playback
// order, read through GET /danmu/queryByTime.
func (s *Server) Stored(tb testing.TB, objectID string) []Danmaku {
	tb.Helper()
	res, err := http.Get(s.URL() + "/danmu/queryByTime/" + objectID + "?playingTime=0&size=100")
	if err != nil {
		tb.Fatalf("queryByTime: %v", err)
	}
	defer res.Body.Close()
	var page struct {
		Data []Danmaku `json:"data"`
	}
	if res.StatusCode != http.StatusOK {
		tb.Fatalf("queryByTime %s: %s", objectID, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil {
		tb.Fatalf("queryByTime %s: %v", objectID, err)
	}
	return page.Data
}

// WatchURL returns the WebSocket address of objectID's room on the server
// at base (http://host:port), resuming after batch since of the history
// epoch when epoch is not empty (docs/protocol.md, "Resume").
func WatchURL(base, objectID, epoch string, since uint64) string {
	u := "ws" + strings.TrimPrefix(base, "http") + "/danmu/ws/" + url.PathEscape(objectID)
	if epoch != "" {
		u += fmt.Sprintf("?since=%d&epoch=%s", since, url.QueryEscape(epoch))
	}
	return u
}
