package ari

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/coder/websocket"
)

// maxEventSize bounds one event message (pretty-printed events with many channel variables stay far below).
const maxEventSize = 4 << 20

// Start opens the events WebSocket (GET /ari/events?app=App, subprotocol "ari") and keeps it up until ctx ends or
// Close is called: a dropped socket is redialed with exponential backoff and jitter between ReconnectMin and
// ReconnectMax, pings keep it alive, and after each reconnect the live channels are listed (GET /channels) and
// passed to Hooks.OnReconnected. Start returns once the first connection is up, or with the error of the first
// attempt (e.g. an *Error matching ErrUnauthorized).
func (c *Client) Start(ctx context.Context) error {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return fmt.Errorf("ari: Start: %w", ErrClosed)
	case c.started:
		c.mu.Unlock()
		return ErrAlreadyStarted
	}
	c.started = true
	c.mu.Unlock()

	conn, err := c.dialEventsVerified(ctx)
	for attempt := 1; errors.Is(err, ErrAppNotRegistered) && attempt < 5; attempt++ {
		t := time.NewTimer(c.backoff(attempt - 1))
		select {
		case <-ctx.Done():
			t.Stop()
			err = ctx.Err()
		case <-t.C:
			conn, err = c.dialEventsVerified(ctx)
		}
	}
	if err != nil {
		c.mu.Lock()
		c.started = false
		c.mu.Unlock()
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cancel()
		conn.CloseNow()
		return fmt.Errorf("ari: Start: %w", ErrClosed)
	}
	c.cancel = cancel
	c.runDone = make(chan struct{})
	c.mu.Unlock()

	c.stats.connected.Store(true)
	c.log.Info().Str("app", c.cfg.App).Msg("ari events connected")
	if h := c.cfg.Hooks.OnConnected; h != nil {
		h()
	}
	go c.run(runCtx, conn)
	return nil
}

// eventsURL is the WebSocket URL of the application's events.
func (c *Client) eventsURL() string {
	u := *c.base
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path += "/events"
	u.RawQuery = url.Values{"app": {c.cfg.App}}.Encode()
	return u.String()
}

func (c *Client) dialEvents(ctx context.Context) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	h := http.Header{}
	if c.cfg.Username != "" || c.cfg.Password != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.cfg.Username+":"+c.cfg.Password)))
	}
	conn, resp, err := websocket.Dial(ctx, c.eventsURL(), &websocket.DialOptions{
		HTTPClient:   c.cfg.HTTPClient,
		HTTPHeader:   h,
		Subprotocols: []string{"ari"},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode/100 != 2 && resp.Body != nil {
			return nil, readError("Events", resp)
		}
		return nil, fmt.Errorf("ari: Events: %w", err)
	}
	conn.SetReadLimit(maxEventSize)
	return conn, nil
}

// dialEventsVerified opens the events socket and returns it once Asterisk delivers the application's events to
// it, probed at once and again appSettle later (see probe); otherwise it closes the socket and returns
// ErrAppNotRegistered.
func (c *Client) dialEventsVerified(ctx context.Context) (*websocket.Conn, error) {
	conn, err := c.dialEvents(ctx)
	if err != nil {
		return nil, err
	}
	for check := 0; check < 2 && c.cfg.ProbeInterval >= 0; check++ {
		if check == 1 {
			t := time.NewTimer(appSettle)
			select {
			case <-ctx.Done():
				t.Stop()
				conn.CloseNow()
				return nil, ctx.Err()
			case <-t.C:
			}
		}
		if err := c.probe(ctx, conn); err != nil {
			conn.CloseNow()
			if errors.Is(err, ErrAppNotRegistered) {
				c.stats.appLost.Add(1)
				c.log.Warn().Err(err).Msg("ari events socket open but Asterisk does not deliver the application's events to it (a previous socket's cleanup unregistered it): reconnecting")
			}
			return nil, err
		}
	}
	return conn, nil
}

// run owns the events WebSocket until ctx ends.
func (c *Client) run(ctx context.Context, conn *websocket.Conn) {
	defer close(c.runDone)
	var hooksDone chan struct{} // the previous reconnect's hooks, if still running
	defer func() {
		if hooksDone != nil {
			<-hooksDone
		}
	}()
	for {
		err := c.serve(ctx, conn)
		c.stats.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		c.log.Warn().Err(err).Msg("ari events disconnected")
		if h := c.cfg.Hooks.OnDisconnected; h != nil {
			h(err)
		}
		var live []Channel
		conn, live = c.reconnect(ctx)
		if conn == nil {
			return
		}
		c.stats.connected.Store(true)
		c.stats.reconnects.Add(1)
		c.log.Info().Int("live_channels", len(live)).Msg("ari events reconnected")
		// Reconnect hooks run beside the reader: a hook that hangs up calls may need their events to finish.
		if hooksDone != nil {
			<-hooksDone // keep the hooks of successive reconnects in order
		}
		hooksDone = make(chan struct{})
		go func(done chan struct{}) {
			defer close(done)
			c.reconnected(live)
		}(hooksDone)
	}
}

// reconnected calls Hooks.OnReconnected and the functions registered with OnReconnected.
func (c *Client) reconnected(live []Channel) {
	if h := c.cfg.Hooks.OnReconnected; h != nil {
		h(live)
	}
	c.recon.mu.Lock()
	fs := make([]func([]Channel), 0, len(c.recon.fs))
	for _, f := range c.recon.fs {
		fs = append(fs, f)
	}
	c.recon.mu.Unlock()
	for _, f := range fs {
		f(live)
	}
}

// reconnect redials with backoff until a socket is up and the live channels are listed, or ctx ends (nil).
func (c *Client) reconnect(ctx context.Context) (*websocket.Conn, []Channel) {
	for attempt := 0; ; attempt++ {
		t := time.NewTimer(c.backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil
		case <-t.C:
		}
		conn, err := c.dialEventsVerified(ctx)
		if err != nil {
			c.log.Warn().Err(err).Int("attempt", attempt+1).Msg("ari events reconnect failed")
			continue
		}
		// List after the socket is up, so no change falls between the list and the first event.
		live, err := c.ListChannels(ctx)
		if err != nil {
			conn.CloseNow()
			c.log.Warn().Err(err).Int("attempt", attempt+1).Msg("ari resync of live channels failed")
			continue
		}
		return conn, live
	}
}

// backoff is the delay before reconnect attempt n: ReconnectMin doubled n times, capped at ReconnectMax, with
// jitter drawn uniformly from its upper half.
func (c *Client) backoff(n int) time.Duration {
	d := c.cfg.ReconnectMin
	for i := 0; i < n && d < c.cfg.ReconnectMax; i++ {
		d *= 2
	}
	if d > c.cfg.ReconnectMax {
		d = c.cfg.ReconnectMax
	}
	half := d / 2
	return half + rand.N(half+1)
}

// serve reads events from conn until it fails or ctx ends; it returns why it stopped.
func (c *Client) serve(ctx context.Context, conn *websocket.Conn) error {
	sctx, cancel := context.WithCancel(ctx)
	pingDone := make(chan struct{}, 2)
	go func() {
		defer func() { pingDone <- struct{}{} }()
		c.keepalive(sctx, conn)
	}()
	go func() {
		defer func() { pingDone <- struct{}{} }()
		c.watchDelivery(sctx, conn)
	}()
	defer func() {
		cancel()
		<-pingDone
		<-pingDone
		conn.CloseNow()
	}()
	for {
		typ, data, err := conn.Read(sctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if typ != websocket.MessageText {
			c.stats.malformed.Add(1)
			c.log.Warn().Int("bytes", len(data)).Msg("ari events: binary message skipped")
			continue
		}
		ev, err := DecodeEvent(data)
		if err != nil {
			c.stats.malformed.Add(1)
			// The message may hold phone numbers: log its size, never its text.
			c.log.Warn().Err(err).Int("bytes", len(data)).Msg("ari events: malformed event skipped")
			continue
		}
		if c.probeEvent(ev) {
			continue
		}
		c.stats.events.Add(1)
		if _, ok := ev.(*ApplicationReplaced); ok {
			c.log.Error().Str("app", c.cfg.App).Msg("ari application replaced by another connection: no more events here")
		}
		c.dispatch(ev)
	}
}

// watchDelivery probes every ProbeInterval that the application's events still reach conn; when they do not, it
// closes conn so serve returns and run redials (which registers the application again).
func (c *Client) watchDelivery(ctx context.Context, conn *websocket.Conn) {
	if c.cfg.ProbeInterval < 0 {
		return
	}
	t := time.NewTicker(c.cfg.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := c.probe(ctx, nil)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrAppNotRegistered) {
			c.stats.appLost.Add(1)
			c.log.Warn().Err(err).Msg("ari: the application's events no longer reach this socket: reconnecting")
			conn.CloseNow()
			return
		}
		if err != nil {
			c.log.Debug().Err(err).Msg("ari: delivery probe failed")
		}
	}
}

// keepalive pings every PingInterval; an unanswered ping closes conn so serve returns and run reconnects.
func (c *Client) keepalive(ctx context.Context, conn *websocket.Conn) {
	if c.cfg.PingInterval < 0 {
		return
	}
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, c.cfg.PingInterval)
		err := conn.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				c.log.Warn().Err(err).Msg("ari events ping failed: reconnecting")
			}
			conn.CloseNow()
			return
		}

	}
}

// OnReconnected registers f to be called, like Hooks.OnReconnected, after each reconnect with the live channels;
// it lets a component built after the Client (such as a call driver) reconcile its state. The returned function
// unregisters f.
func (c *Client) OnReconnected(f func(live []Channel)) (remove func()) {
	c.recon.mu.Lock()
	defer c.recon.mu.Unlock()
	if c.recon.fs == nil {
		c.recon.fs = make(map[uint64]func([]Channel))
	}
	c.recon.next++
	id := c.recon.next
	c.recon.fs[id] = f
	return func() {
		c.recon.mu.Lock()
		defer c.recon.mu.Unlock()
		delete(c.recon.fs, id)
	}
}
