package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// Outcome classifies the answer to one request.
type Outcome int

// Outcomes of a request.
const (
	// OK is a 200 with a well-formed body: for a send, an acknowledged
	// danmaku that must be stored.
	OK Outcome = iota
	// ConnError is a request that got no complete answer: refused,
	// reset, or cut off by a killed server. Expected while a server is
	// down; such a send is not acknowledged.
	ConnError
	// Timeout is a request the client gave up on: no answer in time.
	Timeout
	// Unavailable is a 503 whose JSON error has code "unavailable" and a
	// Retry-After header: the clear answer for a store that is down.
	Unavailable
	// ClearError is any other status with a JSON error body.
	ClearError
	// Unclear is an answer a client cannot act on: a status without a
	// JSON error body, a 503 without Retry-After, or a 200 whose body
	// does not describe the danmaku sent.
	Unclear
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "connection error", "timeout", "503 unavailable", "other clear error", "unclear"}

// String returns the outcome's name.
func (o Outcome) String() string {
	if o < 0 || o >= numOutcomes {
		return "outcome(" + strconv.Itoa(int(o)) + ")"
	}
	return outcomeNames[o]
}

// Counts holds how many requests ended in each Outcome.
type Counts [numOutcomes]int

// Total returns the number of requests counted.
func (c Counts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Failed returns the number of requests that did not end in OK.
func (c Counts) Failed() int { return c.Total() - c[OK] }

// String lists the non-zero counts, such as "ok 120, 503 unavailable 8".
func (c Counts) String() string {
	var b bytes.Buffer
	for o, v := range c {
		if v == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", Outcome(o), v)
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// Attempt is one request made by the load generator.
type Attempt struct {
	Start, End time.Time
	Outcome    Outcome
	Status     int    // HTTP status; 0 without an answer.
	Detail     string // Error code or transport error, for reports.
	Read       bool   // A query rather than a send.
	Video      string
	Text       string // The unique text sent.
	ID         string // The acknowledged id (sends with Outcome OK).
	// Key is the send's Idempotency-Key, and body what was sent, so that
	// Resend can retry it exactly.
	Key    string
	body   sendBody
	worker int
	// Replayed is set when the server answered with a danmaku that an
	// earlier request with the same key had stored.
	Replayed bool
}

// Ack is one acknowledged send.
type Ack struct {
	Video, ID, Text string
}

// LoadConfig describes a stream of sends (and optionally reads) to one
// server.
type LoadConfig struct {
	// URL is the server's base URL.
	URL string
	// Videos are the objectIds sent to, chosen at random per send.
	Videos []string
	// Users is how many distinct userIds send (default 1,000).
	Users int
	// Workers is how many sends are in flight at most; each has its own
	// goroutine and, through a shared pool, its own connection (default
	// 64).
	Workers int
	// Readers is how many goroutines query the videos meanwhile (default
	// none), each one query after another with ReadPause between.
	Readers   int
	ReadPause time.Duration
	// Rate is the target sends a second over all workers; 0 sends as fast
	// as the workers can.
	Rate float64
	// MaxSends bounds the number of sends (0: no bound but time).
	MaxSends int
	// Prefix starts every text; with the worker and a sequence number it
	// makes each text unique, so that a stored duplicate is visible.
	Prefix string
	// Timeout bounds each request (default 15 s).
	Timeout time.Duration
	// Seed seeds the random choices.
	Seed uint64
}

// Load is a running load generator. Create it with StartLoad; Stop ends
// it and returns what happened.
type Load struct {
	cfg    LoadConfig
	client *http.Client
	// senders are the workers' clients: each keeps its cookies, as a
	// browser does, so that the server gives each worker one anonymous
	// id and a retry comes from the same sender.
	senders []*http.Client
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	start   time.Time
	next    atomic.Int64 // Sends scheduled so far.
	acked   atomic.Int64

	mu       sync.Mutex
	attempts []Attempt
}

// StartLoad starts the workers and readers; they run until ctx ends, Stop
// is called, or MaxSends sends have been made.
func StartLoad(ctx context.Context, cfg LoadConfig) (*Load, error) {
	if cfg.URL == "" || len(cfg.Videos) == 0 {
		return nil, errors.New("load: URL and Videos must be set")
	}
	if cfg.Users <= 0 {
		cfg.Users = 1000
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 64
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.ReadPause <= 0 {
		cfg.ReadPause = 50 * time.Millisecond
	}
	conns := cfg.Workers + cfg.Readers
	tr := &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		DisableCompression:  true,
		IdleConnTimeout:     30 * time.Second,
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &Load{cfg: cfg, client: &http.Client{Transport: tr, Timeout: cfg.Timeout}, cancel: cancel, start: time.Now()}
	for range cfg.Workers {
		jar, _ := cookiejar.New(nil) // New never fails without options.
		l.senders = append(l.senders, &http.Client{Transport: tr, Timeout: cfg.Timeout, Jar: jar})
	}
	for w := range cfg.Workers {
		l.wg.Add(1)
		go l.sender(ctx, w)
	}
	for r := range cfg.Readers {
		l.wg.Add(1)
		go l.reader(ctx, r)
	}
	return l, nil
}

// Acked returns how many sends have been acknowledged so far.
func (l *Load) Acked() int { return int(l.acked.Load()) }

// Stop ends the load, waits for requests in flight and returns every
// attempt, in no particular order.
func (l *Load) Stop() []Attempt {
	l.cancel()
	l.wg.Wait()
	l.client.CloseIdleConnections()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.attempts
}

// pace waits for the next send slot and reports false when the load must
// end. Slots are spaced 1/Rate apart from the start, so a worker that fell
// behind (a server restart) catches up as fast as the server allows.
func (l *Load) pace(ctx context.Context) bool {
	n := l.next.Add(1) - 1
	if l.cfg.MaxSends > 0 && n >= int64(l.cfg.MaxSends) {
		return false
	}
	if l.cfg.Rate > 0 {
		due := l.start.Add(time.Duration(float64(n) / l.cfg.Rate * float64(time.Second)))
		if !sleep(ctx, time.Until(due)) {
			return false
		}
	}
	return ctx.Err() == nil
}

// sleep waits d and reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (l *Load) record(as []Attempt) {
	l.mu.Lock()
	l.attempts = append(l.attempts, as...)
	l.mu.Unlock()
}

// sendBody is the JSON body of a send.
type sendBody struct {
	ObjectID string      `json:"objectId"`
	UserID   string      `json:"userId"`
	Content  sendContent `json:"content"`
}

type sendContent struct {
	Text string  `json:"text"`
	Time float64 `json:"time"`
}

func (l *Load) sender(ctx context.Context, w int) {
	defer l.wg.Done()
	rng := rand.New(rand.NewPCG(l.cfg.Seed, uint64(w)))
	var mine []Attempt
	defer func() { l.record(mine) }()
	for seq := 0; l.pace(ctx); seq++ {
		video := l.cfg.Videos[rng.IntN(len(l.cfg.Videos))]
		body := sendBody{
			ObjectID: video,
			UserID:   "u" + strconv.Itoa(rng.IntN(l.cfg.Users)),
			Content: sendContent{
				Text: fmt.Sprintf("%s w%d n%d", l.cfg.Prefix, w, seq),
				Time: float64(rng.IntN(3_600_000)) / 1000,
			},
		}
		a := l.send(ctx, w, body, fmt.Sprintf("load-%d-w%d-n%d", l.cfg.Seed, w, seq))
		if ctx.Err() != nil && a.Status == 0 {
			// Cut off by Stop: not an answer from the server.
			continue
		}
		if a.Outcome == OK {
			l.acked.Add(1)
		}
		mine = append(mine, a)
		if a.Outcome == ConnError {
			// The server is down: do not spin on refused connections.
			sleep(ctx, 20*time.Millisecond)
		}
	}
}

// Resend sends a's danmaku again with the same Idempotency-Key, as a
// client does that got no clear answer: the server stores it at most once
// in all. The load may be stopped.
func (l *Load) Resend(ctx context.Context, a Attempt) Attempt {
	return l.send(ctx, a.worker, a.body, a.Key)
}

// send posts one danmaku with an idempotency key and classifies the
// answer.
func (l *Load) send(ctx context.Context, w int, body sendBody, key string) Attempt {
	a := Attempt{Start: time.Now(), Video: body.ObjectID, Text: body.Content.Text, Key: key, body: body, worker: w}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.cfg.URL+"/danmu/send", bytes.NewReader(b))
	if err != nil {
		a.Outcome, a.Detail, a.End = Unclear, err.Error(), time.Now()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	status, hdr, resp, err := l.do(l.senders[w], req)
	a.End = time.Now()
	a.Status = status
	if err != nil {
		a.Outcome, a.Detail = transportOutcome(err), err.Error()
		return a
	}
	if status != http.StatusOK {
		a.Outcome, a.Detail = classifyError(status, hdr, resp)
		return a
	}
	var d struct {
		ID       string `json:"id"`
		ObjectID string `json:"objectId"`
		Content  struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	if err := json.Unmarshal(resp, &d); err != nil || d.ObjectID != body.ObjectID || d.Content.Text != body.Content.Text {
		a.Outcome, a.Detail = Unclear, "200 that does not describe the danmaku sent"
		return a
	}
	if _, err := danmaku.ParseID(d.ID); err != nil {
		a.Outcome, a.Detail = Unclear, "200 with an invalid id"
		return a
	}
	a.Outcome, a.ID = OK, d.ID
	a.Replayed = hdr.Get("Idempotent-Replayed") == "true"
	return a
}

// do runs req and returns the status, headers and whole body. An error
// means no complete answer arrived.
func (l *Load) do(client *http.Client, req *http.Request) (int, http.Header, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, resp.Header, nil, err
	}
	return resp.StatusCode, resp.Header, b, nil
}

// transportOutcome tells a request the client gave up on from one the
// connection failed.
func transportOutcome(err error) Outcome {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Timeout
	}
	return ConnError
}

// classifyError classifies a non-200 answer by its body and headers.
func classifyError(status int, hdr http.Header, body []byte) (Outcome, string) {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		return Unclear, fmt.Sprintf("%d without a JSON error body", status)
	}
	detail := strconv.Itoa(status) + " " + e.Error.Code
	if status == http.StatusServiceUnavailable {
		ra, err := strconv.Atoi(hdr.Get("Retry-After"))
		if err != nil || ra < 1 {
			return Unclear, detail + " without Retry-After"
		}
		if e.Error.Code == danmaku.EUNAVAILABLE {
			return Unavailable, detail
		}
	}
	return ClearError, detail
}

// reader queries random videos one after another.
func (l *Load) reader(ctx context.Context, r int) {
	defer l.wg.Done()
	rng := rand.New(rand.NewPCG(l.cfg.Seed^0x9e3779b97f4a7c15, uint64(r)))
	var mine []Attempt
	defer func() { l.record(mine) }()
	for ctx.Err() == nil {
		video := l.cfg.Videos[rng.IntN(len(l.cfg.Videos))]
		a := Attempt{Start: time.Now(), Read: true, Video: video}
		u := l.cfg.URL + "/danmu/queryByTime/" + url.PathEscape(video) + "?size=20&playingTime=" + strconv.Itoa(rng.IntN(3600))
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return
		}
		status, hdr, body, err := l.do(l.client, req)
		a.End, a.Status = time.Now(), status
		switch {
		case ctx.Err() != nil && err != nil:
			return
		case err != nil:
			a.Outcome, a.Detail = transportOutcome(err), err.Error()
		case status != http.StatusOK:
			a.Outcome, a.Detail = classifyError(status, hdr, body)
		default:
			var res struct {
				Data   []json.RawMessage `json:"data"`
				Cursor string            `json:"cursor"`
			}
			if err := json.Unmarshal(body, &res); err != nil || res.Cursor == "" {
				a.Outcome, a.Detail = Unclear, "200 that is not a page"
			}
		}
		mine = append(mine, a)
		sleep(ctx, l.cfg.ReadPause)
	}
}

// Acks returns the acknowledged sends among attempts.
func Acks(attempts []Attempt) []Ack {
	var acks []Ack
	for _, a := range attempts {
		if !a.Read && a.Outcome == OK {
			acks = append(acks, Ack{Video: a.Video, ID: a.ID, Text: a.Text})
		}
	}
	return acks
}

// Tally counts the outcomes of the attempts for which keep returns true
// (every attempt when keep is nil).
func Tally(attempts []Attempt, keep func(Attempt) bool) Counts {
	var c Counts
	for _, a := range attempts {
		if keep == nil || keep(a) {
			c[a.Outcome]++
		}
	}
	return c
}
