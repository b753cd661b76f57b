package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// Check is the result of reading back every video and comparing it with
// the acknowledged sends.
type Check struct {
	// Acknowledged is the number of sends that got a 200.
	Acknowledged int
	// Stored is the number of danmaku read back from the videos.
	Stored int
	// Checked is the number of acknowledged sends found, with their id
	// and text, among the stored danmaku.
	Checked int
	// Lost is the number of acknowledged sends not found (goal: zero).
	Lost int
	// Mismatched is the number of acknowledged ids found with another
	// text than the one sent.
	Mismatched int
	// Duplicates counts extra copies: a second (third, …) danmaku with
	// an id or a text already seen in the same video.
	Duplicates int
	// Misordered counts danmaku whose id is not greater than the one
	// before it in the listing.
	Misordered int
	// Unacknowledged is the number of stored danmaku that no 200
	// acknowledged: sends cut off by a kill after they were written.
	// They are allowed.
	Unacknowledged int
	// Pages is the number of pages read.
	Pages int
	// Examples describes a few of the problems found, for the report.
	Examples []string
}

// OK reports whether nothing acknowledged was lost or changed and nothing
// was stored twice or out of order.
func (c Check) OK() bool {
	return c.Lost == 0 && c.Mismatched == 0 && c.Duplicates == 0 && c.Misordered == 0
}

// String summarises c on one line.
func (c Check) String() string {
	return fmt.Sprintf("acknowledged %d, checked %d, lost %d, mismatched %d, duplicates %d, misordered %d, stored %d (unacknowledged but stored %d), pages %d",
		c.Acknowledged, c.Checked, c.Lost, c.Mismatched, c.Duplicates, c.Misordered, c.Stored, c.Unacknowledged, c.Pages)
}

func (c *Check) example(format string, args ...any) {
	if len(c.Examples) < 10 {
		c.Examples = append(c.Examples, fmt.Sprintf(format, args...))
	}
}

// page is the JSON of a queryByTime or pull answer.
type page struct {
	Data []struct {
		ID      string `json:"id"`
		Content struct {
			Text string `json:"text"`
		} `json:"content"`
	} `json:"data"`
	Cursor string `json:"cursor"`
}

// Verify pages through every video on the server at base (queryByTime
// from 0, then pull with each cursor until "-1") with pages of pageSize
// and checks that every acknowledged send is stored exactly once, with its
// text, in strictly increasing id order. maxItems bounds how many danmaku
// it reads per video, so that a server that pages forever cannot hold it.
func Verify(ctx context.Context, base string, videos []string, acks []Ack, pageSize, maxItems int) (Check, error) {
	c := Check{Acknowledged: len(acks)}
	want := make(map[string]map[string]string, len(videos)) // video → id → text
	for _, v := range videos {
		want[v] = map[string]string{}
	}
	for _, a := range acks {
		if want[a.Video] == nil {
			want[a.Video] = map[string]string{}
		}
		want[a.Video][a.ID] = a.Text
	}
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	for video, ids := range want {
		if err := verifyVideo(ctx, client, base, video, ids, pageSize, maxItems, &c); err != nil {
			return c, err
		}
	}
	return c, nil
}

func verifyVideo(ctx context.Context, client *http.Client, base, video string, want map[string]string, pageSize, maxItems int, c *Check) error {
	seenID := map[string]bool{}
	seenText := map[string]bool{}
	var last danmaku.ID
	first := true
	u := fmt.Sprintf("%s/danmu/queryByTime/%s?playingTime=0&size=%d", base, url.PathEscape(video), pageSize)
	read := 0
	for {
		var p page
		if err := getJSON(ctx, client, u, &p); err != nil {
			return fmt.Errorf("verify video %s: %w", video, err)
		}
		c.Pages++
		for _, d := range p.Data {
			read++
			c.Stored++
			id, err := danmaku.ParseID(d.ID)
			if err != nil {
				return fmt.Errorf("verify video %s: listing holds %w", video, err)
			}
			if !first && id.Compare(last) <= 0 {
				c.Misordered++
				c.example("video %s: id %s after %s", video, d.ID, last)
			}
			first, last = false, id
			dupe := seenID[d.ID] || seenText[d.Content.Text]
			if dupe {
				c.Duplicates++
				c.example("video %s: second copy of id %s text %q", video, d.ID, d.Content.Text)
			}
			seenID[d.ID], seenText[d.Content.Text] = true, true
			text, acked := want[d.ID]
			switch {
			case !acked:
				if !dupe {
					c.Unacknowledged++
				}
			case text != d.Content.Text:
				c.Mismatched++
				c.example("video %s: id %s holds %q, sent %q", video, d.ID, d.Content.Text, text)
			case !dupe:
				c.Checked++
			}
		}
		if p.Cursor == "-1" || p.Cursor == "" || len(p.Data) == 0 {
			break
		}
		if read > maxItems {
			return fmt.Errorf("verify video %s: more than %d danmaku listed", video, maxItems)
		}
		u = fmt.Sprintf("%s/danmu/pull/%s?cursor=%s&size=%d", base, url.PathEscape(video), url.QueryEscape(p.Cursor), pageSize)
	}
	for id, text := range want {
		if !seenID[id] {
			c.Lost++
			c.example("video %s: acknowledged id %s text %q is missing", video, id, text)
		}
	}
	return nil
}

// getJSON GETs u and decodes a 200 answer into v; any other answer is an
// error.
func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %s: %s", u, strconv.Itoa(resp.StatusCode), truncate(string(body), 200))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
