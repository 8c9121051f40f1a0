package ari

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Client talks to one Asterisk over ARI: REST requests and, after Start, the events WebSocket. Its methods are safe
// for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	log  zerolog.Logger

	mu        sync.Mutex // guards started, closed, cancel
	started   bool
	closed    bool
	cancel    context.CancelFunc
	runDone   chan struct{}
	closeOnce sync.Once

	subs  subRegistry
	recon struct {
		mu   sync.Mutex
		next uint64
		fs   map[uint64]func([]Channel)
	}
	ownHTTP bool // HTTPClient was created by New, so Close may close its idle connections

	probes struct { // delivery probes waiting for their event, by event name
		sync.Mutex
		m map[string]chan struct{}
	}

	stats struct {
		events, malformed, unmatched, dropped, reconnects, appLost atomic.Uint64
		connected                                                  atomic.Bool
	}
}

// New returns a Client for cfg. It does not contact Asterisk; Start opens the events WebSocket.
func New(cfg Config) (*Client, error) {
	base, err := cfg.baseURL()
	if err != nil {
		return nil, err
	}
	if cfg.App == "" {
		return nil, fmt.Errorf("%w: App is empty", ErrIncompleteConfig)
	}
	if u, err := url.Parse(cfg.URL); err == nil && u.User != nil && cfg.Username == "" && cfg.Password == "" {
		// http://user:pass@host:8088 carries the credentials; they are never kept in the base URL.
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	own := cfg.HTTPClient == nil
	cfg = cfg.withDefaults()
	c := &Client{cfg: cfg, base: base, ownHTTP: own, log: cfg.Logger.With().Str("component", "ari").Logger()}
	c.subs.init()
	return c, nil
}

// App returns the Stasis application name of the client.
func (c *Client) App() string { return c.cfg.App }

// Stats are counters of the client's event stream.
type Stats struct {
	Events     uint64 // events decoded from the WebSocket
	Malformed  uint64 // messages that were not valid events (logged and skipped)
	Unmatched  uint64 // events no subscription asked for
	Dropped    uint64 // events dropped because a subscription's queue was full (sum over subscriptions)
	Reconnects uint64 // successful reconnections of the events WebSocket
	AppLost    uint64 // times Asterisk was found not holding the application on an open socket (then redialed)
	Connected  bool   // whether the events WebSocket is up now
}

// Stats returns a snapshot of the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Events:     c.stats.events.Load(),
		Malformed:  c.stats.malformed.Load(),
		Unmatched:  c.stats.unmatched.Load(),
		Dropped:    c.stats.dropped.Load(),
		Reconnects: c.stats.reconnects.Load(),
		AppLost:    c.stats.appLost.Load(),
		Connected:  c.stats.connected.Load(),
	}
}

// Close stops the events WebSocket, waits for its goroutines and closes every subscription. REST calls made after
// Close return ErrClosed. Close is idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		cancel, done := c.cancel, c.runDone
		c.mu.Unlock()
		if cancel != nil {
			cancel()
			<-done
		}
		c.subs.closeAll()
		if c.ownHTTP {
			c.cfg.HTTPClient.CloseIdleConnections()
		}
	})
	return nil
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// maxResponse bounds a response body: a larger one fails with ErrResponseTooLarge, unread past the bound.
const maxResponse = 8 << 20

// ErrResponseTooLarge is returned for a response body larger than 8 MiB (Asterisk's largest, a GET /channels of
// thousands of channels, stays far below): the client stops reading it rather than buffering without bound.
var ErrResponseTooLarge = errors.New("ari: response body too large")

// request is one REST call.
type request struct {
	op     string     // Client method name, for errors and logs
	method string     // HTTP method
	path   string     // path below /ari, ids already escaped
	query  url.Values // parameters
	body   any        // JSON body (variables), or nil
}

// do sends r and decodes a 2xx JSON answer into out (when non-nil).
func (c *Client) do(ctx context.Context, r request, out any) error {
	resp, cancel, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer cancel()
	defer resp.Body.Close()
	b, err := readBody(resp, out == nil || resp.StatusCode == http.StatusNoContent)
	if err != nil {
		return fmt.Errorf("ari: %s: reading response: %w", r.op, err)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("ari: %s: decoding response: %w", r.op, err)
	}
	return nil
}

// readBody reads resp's body up to maxResponse (discarding it when discard is set) and fails with
// ErrResponseTooLarge past it, before reading when Content-Length says so.
func readBody(resp *http.Response, discard bool) ([]byte, error) {
	if resp.ContentLength > maxResponse {
		return nil, fmt.Errorf("%w: Content-Length %d > %d", ErrResponseTooLarge, resp.ContentLength, maxResponse)
	}
	lr := io.LimitReader(resp.Body, maxResponse+1)
	if discard {
		n, err := io.Copy(io.Discard, lr)
		if err == nil && n > maxResponse {
			err = fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, maxResponse)
		}
		return nil, err
	}
	var b []byte
	var err error
	if resp.ContentLength > 0 { // one allocation when the length is known
		b = make([]byte, resp.ContentLength+1)
		var n int
		n, err = io.ReadFull(lr, b)
		b = b[:n]
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			err = nil
		}
	} else {
		b, err = io.ReadAll(lr)
	}
	if err != nil {
		return nil, err
	}
	if len(b) > maxResponse {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, maxResponse)
	}
	return b, nil
}

// send performs r and returns a 2xx response whose body the caller must close, then call cancel.
func (c *Client) send(ctx context.Context, r request) (*http.Response, context.CancelFunc, error) {
	if c.isClosed() {
		return nil, nil, fmt.Errorf("ari: %s: %w", r.op, ErrClosed)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	target := c.base.String() + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			cancel()
			return nil, nil, fmt.Errorf("ari: %s: encoding body: %w", r.op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("ari: %s: %w", r.op, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.cfg.Username != "" || c.cfg.Password != "" {
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
	start := time.Now()
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		cancel()
		// The URL's query may hold a phone number (endpoint): keep it out of the error and the log.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s: %w", r.method, ue.Err)
		}
		c.log.Debug().Str("op", r.op).Err(err).Msg("ari request failed")
		return nil, nil, fmt.Errorf("ari: %s: %w", r.op, err)
	}
	c.log.Debug().Str("op", r.op).Str("method", r.method).Int("status", resp.StatusCode).
		Dur("took", time.Since(start)).Msg("ari request")
	if resp.StatusCode/100 != 2 {
		defer cancel()
		defer resp.Body.Close()
		return nil, nil, readError(r.op, resp)
	}
	return resp, cancel, nil
}

// readError turns a non-2xx response into *Error, keeping Asterisk's {"message"}.
func readError(op string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{Op: op, Status: resp.StatusCode}
	var m struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(b, &m) == nil && (m.Message != "" || m.Error != "") {
		e.Message = m.Message
		if e.Message == "" {
			e.Message = m.Error
		}
	} else {
		s := strings.TrimSpace(string(b))
		if len(s) > 200 {
			s = s[:200] + "..."
		}
		e.Message = s
	}
	return e
}

// seg escapes one path segment (an id or name).
func seg(s string) string { return url.PathEscape(s) }

// params builds a query string, skipping empty values.
type params url.Values

func (p params) set(k, v string) {
	if v != "" {
		url.Values(p).Set(k, v)
	}
}

func (p params) setInt(k string, v int) {
	if v != 0 {
		url.Values(p).Set(k, fmt.Sprint(v))
	}
}

func (p params) setBool(k string, v bool) {
	if v {
		url.Values(p).Set(k, "true")
	}
}

// setSeconds writes d as whole seconds, rounding up so that a sub-second duration is never sent as 0.
func (p params) setSeconds(k string, d time.Duration) {
	if d > 0 {
		url.Values(p).Set(k, fmt.Sprint(int64((d+time.Second-1)/time.Second)))
	}
}

func (p params) setMillis(k string, d time.Duration) {
	if d > 0 {
		url.Values(p).Set(k, fmt.Sprint(d.Milliseconds()))
	}
}

// variablesBody is the JSON body carrying channel variables, or nil when there are none.
func variablesBody(v map[string]string) any {
	if len(v) == 0 {
		return nil
	}
	return struct {
		Variables map[string]string `json:"variables"`
	}{v}
}
