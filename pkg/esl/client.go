package esl

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Client is an inbound event-socket connection to FreeSWITCH that reconnects by itself. Its methods are safe for
// concurrent use.
type Client struct {
	cfg Config
	log zerolog.Logger

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	cur         *conn // nil while reconnecting
	closed      bool
	noReconnect bool     // set by Exit
	restore     []string // event/filter/nixevent commands replayed after a reconnect, in order
	subs        map[string]*Subscription
	all         map[*Subscription]struct{}
	jobs        map[string]chan *Event
	onUp        []func() // internal reconnect listeners (the Driver's resync)
}

// Dial connects to cfg.Addr, waits for auth/request, authenticates and subscribes to BACKGROUND_JOB (which BgAPI
// needs). The connection is re-established with backoff whenever it drops, until Close.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	cfg.fill()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{cfg: cfg, log: cfg.Logger, ctx: cctx, cancel: cancel,
		subs: map[string]*Subscription{}, all: map[*Subscription]struct{}{}, jobs: map[string]chan *Event{},
		restore: []string{"event plain BACKGROUND_JOB"}}
	cn, err := c.connect(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	c.cur = cn
	c.wg.Add(1)
	go c.supervise(cn)
	return c, nil
}

// connect dials, authenticates and replays the subscriptions.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	d := net.Dialer{Timeout: c.cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", c.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("esl: dial %s: %w", c.cfg.Addr, err)
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	if err := authenticate(ctx, nc, br, c.cfg.Password, c.cfg.AuthTimeout); err != nil {
		_ = nc.Close()
		return nil, err
	}
	cn := newConn(nc, br, c.log)
	cn.start(c.dispatch, c.message)
	c.mu.Lock()
	restore := append([]string(nil), c.restore...)
	c.mu.Unlock()
	for _, cmd := range restore {
		rctx, cancel := context.WithTimeout(ctx, c.cfg.CommandTimeout)
		_, err := c.do(rctx, cn, cmd, nil, nil)
		cancel()
		if err != nil {
			cn.close()
			return nil, fmt.Errorf("esl: restore %q: %w", verbOf(cmd), err)
		}
	}
	c.log.Debug().Str("addr", c.cfg.Addr).Msg("esl: connected")
	return cn, nil
}

// supervise waits for the connection to drop and reconnects with exponential backoff and jitter.
func (c *Client) supervise(cn *conn) {
	defer c.wg.Done()
	for {
		select {
		case <-cn.done:
		case <-c.ctx.Done():
			cn.close() // then fail the waiting jobs below and stop
		}
		err := cn.Err()
		c.mu.Lock()
		c.cur = nil
		jobs := c.jobs
		c.jobs = map[string]chan *Event{}
		c.mu.Unlock()
		for _, ch := range jobs {
			close(ch) // BgAPI waiters see the loss: the job's result went with the connection
		}
		if c.ctx.Err() != nil {
			return
		}
		c.log.Warn().Err(err).Msg("esl: connection lost")
		if h := c.cfg.Hooks.OnDisconnect; h != nil {
			h(err)
		}
		c.mu.Lock()
		stay := c.noReconnect || c.cfg.NoReconnect
		c.mu.Unlock()
		if stay {
			return
		}
		delay := c.cfg.ReconnectMin
		for attempt := 1; ; attempt++ {
			j := time.Duration(float64(delay) * (0.75 + 0.5*rand.Float64()))
			t := time.NewTimer(j)
			select {
			case <-t.C:
			case <-c.ctx.Done():
				t.Stop()
				return
			}
			actx, cancel := context.WithTimeout(c.ctx, c.cfg.DialTimeout+c.cfg.AuthTimeout)
			ncn, err := c.connect(actx)
			cancel()
			if err == nil {
				c.mu.Lock()
				if c.closed {
					c.mu.Unlock()
					ncn.close()
					return
				}
				c.cur = ncn
				c.mu.Unlock()
				c.log.Info().Int("attempts", attempt).Msg("esl: reconnected")
				if h := c.cfg.Hooks.OnReconnect; h != nil {
					h(attempt)
				}
				c.mu.Lock()
				ups := append([]func(){}, c.onUp...)
				c.mu.Unlock()
				for _, f := range ups {
					f()
				}
				cn = ncn
				break
			}
			c.log.Warn().Err(err).Int("attempt", attempt).Dur("delay", j).Msg("esl: reconnect failed")
			delay = min(delay*2, c.cfg.ReconnectMax)
		}
	}
}

// Close ends the connection and every Subscription. It is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	subs := c.subs
	all := c.all
	c.subs, c.all = map[string]*Subscription{}, map[*Subscription]struct{}{}
	for _, s := range subs {
		s.closed = true
		close(s.ch)
	}
	for s := range all {
		s.closed = true
		close(s.ch)
	}
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	return nil
}

// Connected reports whether a connection is up now.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur != nil
}

func (c *Client) current() (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.cur == nil {
		return nil, fmt.Errorf("%w: reconnecting", ErrDisconnected)
	}
	return c.cur, nil
}

// do sends one command on cn and returns its reply, or an *Error for a -ERR reply.
func (c *Client) do(ctx context.Context, cn *conn, line string, headers map[string]string, body []byte) (*Message, error) {
	verb := verbOf(line)
	raw, err := encodeCommand(line, headers, body)
	if err != nil {
		return nil, fmt.Errorf("esl: %s: %w", verb, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.CommandTimeout)
		defer cancel()
	}
	m, err := cn.roundTrip(ctx, verb, raw)
	if err != nil {
		return nil, err
	}
	if err := replyError(verb, m); err != nil {
		return m, err
	}
	return m, nil
}

// Command sends a raw command (a line such as "status" or "event plain ALL") and returns FreeSWITCH's reply.
// A -ERR reply is returned as an *Error along with the message.
func (c *Client) Command(ctx context.Context, line string) (*Message, error) {
	cn, err := c.current()
	if err != nil {
		return nil, err
	}
	c.log.Debug().Str("cmd", verbOf(line)).Msg("esl: command")
	return c.do(ctx, cn, line, nil, nil)
}

// API runs `api <cmd>` and returns the response body. A body starting with -ERR or -USAGE is an *Error.
func (c *Client) API(ctx context.Context, cmd string) (string, error) {
	m, err := c.Command(ctx, "api "+cmd)
	if err != nil {
		var e *Error
		if m != nil && asError(err, &e) {
			e.Command = verbOf(cmd)
		}
		return "", err
	}
	return string(m.Body), nil
}

// BgAPI runs `bgapi <cmd>` with a Job-UUID chosen here, registered before the command is sent, and waits for the
// job's BACKGROUND_JOB event. It returns the job's body ("+OK ..."); a "-ERR NO_ANSWER" result is an *Error whose
// Cause maps to a call outcome. ctx bounds the whole wait (CommandTimeout does not apply to the job itself).
func (c *Client) BgAPI(ctx context.Context, cmd string) (string, error) {
	job, ch, err := c.StartJob(ctx, cmd)
	if err != nil {
		return "", err
	}
	return c.WaitJob(ctx, cmd, job, ch)
}

// StartJob sends `bgapi <cmd>` and returns the job id and the channel its BACKGROUND_JOB event arrives on (closed
// if the connection drops first). Call WaitJob, or CancelJob to stop listening.
func (c *Client) StartJob(ctx context.Context, cmd string) (string, <-chan *Event, error) {
	cn, err := c.current()
	if err != nil {
		return "", nil, err
	}
	job := NewUUID()
	ch := make(chan *Event, 1)
	c.mu.Lock()
	c.jobs[job] = ch
	c.mu.Unlock()
	c.log.Debug().Str("cmd", verbOf(cmd)).Str("job", job).Msg("esl: bgapi")
	if _, err := c.do(ctx, cn, "bgapi "+cmd, map[string]string{"Job-UUID": job}, nil); err != nil {
		c.CancelJob(job)
		return "", nil, err
	}
	return job, ch, nil
}

// WaitJob waits for a job started by StartJob.
func (c *Client) WaitJob(ctx context.Context, cmd, job string, ch <-chan *Event) (string, error) {
	select {
	case ev, ok := <-ch:
		if !ok {
			return "", fmt.Errorf("esl: bgapi %s: %w: job %s result lost", verbOf(cmd), ErrDisconnected, job)
		}
		body := strings.TrimSpace(ev.Body)
		if rest, ok := strings.CutPrefix(body, "-ERR"); ok {
			return body, &Error{Command: verbOf(cmd), Reply: strings.TrimSpace(rest)}
		}
		return body, nil
	case <-ctx.Done():
		c.CancelJob(job)
		return "", fmt.Errorf("esl: bgapi %s: %w", verbOf(cmd), ctx.Err())
	}
}

// CancelJob stops listening for a job's result.
func (c *Client) CancelJob(job string) {
	c.mu.Lock()
	delete(c.jobs, job)
	c.mu.Unlock()
}

// Events subscribes to event names ("CHANNEL_ANSWER", "CUSTOM mod_audio_stream::connect", "ALL") in format
// "plain", "json" or "xml". Subscriptions add up and survive reconnects.
func (c *Client) Events(ctx context.Context, format string, names ...string) error {
	switch format {
	case "plain", "json", "xml":
	default:
		return fmt.Errorf("%w: event format %q (want plain, json or xml)", ErrConfig, format)
	}
	return c.remembered(ctx, "event "+format+" "+strings.Join(names, " "))
}

// Filter asks FreeSWITCH to send only events whose header matches value. Beware: once any filter exists, events
// without that header (BACKGROUND_JOB among them) are filtered out too; Subscribe filters per channel client-side.
func (c *Client) Filter(ctx context.Context, header, value string) error {
	return c.remembered(ctx, "filter "+header+" "+value)
}

// NixEvent unsubscribes from event names.
func (c *Client) NixEvent(ctx context.Context, names ...string) error {
	return c.remembered(ctx, "nixevent "+strings.Join(names, " "))
}

func (c *Client) remembered(ctx context.Context, line string) error {
	if _, err := c.Command(ctx, line); err != nil {
		return err
	}
	c.mu.Lock()
	c.restore = append(c.restore, line)
	c.mu.Unlock()
	return nil
}

// SendMsg sends `sendmsg <uuid>` with headers (call-command, execute-app-name, ...) and an optional body.
func (c *Client) SendMsg(ctx context.Context, uuid string, headers map[string]string, body []byte) error {
	cn, err := c.current()
	if err != nil {
		return err
	}
	_, err = c.do(ctx, cn, "sendmsg "+uuid, headers, body)
	return err
}

// Execute runs a dialplan application on a channel through sendmsg (call-command: execute).
func (c *Client) Execute(ctx context.Context, uuid, app, arg string) error {
	return c.SendMsg(ctx, uuid, map[string]string{"call-command": "execute", "execute-app-name": app,
		"execute-app-arg": arg}, nil)
}

// Exit sends `exit`, waits for FreeSWITCH's goodbye and closes the client without reconnecting.
func (c *Client) Exit(ctx context.Context) error {
	c.mu.Lock()
	c.noReconnect = true
	c.mu.Unlock()
	_, err := c.Command(ctx, "exit")
	_ = c.Close()
	return err
}

// Subscribe returns the events of one channel (by Unique-ID), delivered in wire order on a buffered channel.
// Subscribe before the channel exists (choose origination_uuid first) so no event is missed. When the buffer is
// full the newest event is dropped and counted (Dropped, Hooks.OnOverflow), except CHANNEL_HANGUP_COMPLETE, which
// evicts the oldest queued event instead so a call's end is never lost.
func (c *Client) Subscribe(uniqueID string) *Subscription {
	s := &Subscription{c: c, key: uniqueID, ch: make(chan *Event, c.cfg.EventBuffer)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		s.closed = true
		close(s.ch)
		return s
	}
	if old := c.subs[uniqueID]; old != nil {
		old.closed = true
		close(old.ch)
	}
	c.subs[uniqueID] = s
	return s
}

// SubscribeAll returns every event the connection receives, with Subscribe's overflow policy.
func (c *Client) SubscribeAll() *Subscription {
	s := &Subscription{c: c, ch: make(chan *Event, c.cfg.EventBuffer), any: true}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		s.closed = true
		close(s.ch)
		return s
	}
	c.all[s] = struct{}{}
	return s
}

// dispatch runs on the read goroutine: job results, then per-channel and catch-all subscribers, never blocking.
// Overflow hooks run after the lock is released, so they may call the Client.
func (c *Client) dispatch(ev *Event) {
	if h := c.cfg.Hooks.OnEvent; h != nil {
		h(ev)
	}
	var over []overflow
	c.mu.Lock()
	if ev.Name() == "BACKGROUND_JOB" {
		if ch, ok := c.jobs[ev.Get("Job-UUID")]; ok {
			delete(c.jobs, ev.Get("Job-UUID"))
			ch <- ev
		}
	}
	if id := ev.UniqueID(); id != "" {
		if s := c.subs[id]; s != nil {
			over = s.offer(ev, over)
		}
	}
	for s := range c.all {
		over = s.offer(ev, over)
	}
	c.mu.Unlock()
	for _, o := range over {
		c.log.Warn().Str("sub", o.name).Uint64("dropped", o.total).Str("event", ev.Name()).Msg("esl: slow consumer, event dropped")
		if h := c.cfg.Hooks.OnOverflow; h != nil {
			h(o.name, o.total)
		}
	}
}

type overflow struct {
	name  string
	total uint64
}

func (c *Client) message(m *Message) {
	if m.Type() == TypeLogData {
		c.log.Debug().Int("bytes", len(m.Body)).Msg("esl: log/data")
	} else {
		c.log.Debug().Str("type", m.Type()).Msg("esl: frame with no consumer")
	}
	if h := c.cfg.Hooks.OnMessage; h != nil {
		h(m)
	}
}

// Subscription is an ordered stream of events. Close it when done.
type Subscription struct {
	c       *Client
	key     string
	any     bool
	ch      chan *Event
	closed  bool   // guarded by c.mu
	dropped uint64 // guarded by c.mu
}

// Events returns the channel events arrive on; it is closed by Close or Client.Close.
func (s *Subscription) Events() <-chan *Event { return s.ch }

// Dropped returns how many events overflowed the buffer.
func (s *Subscription) Dropped() uint64 {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.dropped
}

// Close stops delivery and closes Events. It is idempotent.
func (s *Subscription) Close() {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.any {
		delete(c.all, s)
	} else if c.subs[s.key] == s {
		delete(c.subs, s.key)
	}
	close(s.ch)
}

// offer queues ev without blocking; called with c.mu held. An overflow is appended to over.
func (s *Subscription) offer(ev *Event, over []overflow) []overflow {
	select {
	case s.ch <- ev:
		return over
	default:
	}
	if ev.Name() == "CHANNEL_HANGUP_COMPLETE" {
		select {
		case <-s.ch: // evict the oldest
		default:
		}
		select {
		case s.ch <- ev:
		default:
		}
	}
	s.dropped++
	name := s.key
	if s.any {
		name = "*"
	}
	return append(over, overflow{name: name, total: s.dropped})
}

// onReconnect registers f to run (on the supervisor goroutine, so it must not block) after each reconnect.
func (c *Client) onReconnect(f func()) {
	c.mu.Lock()
	c.onUp = append(c.onUp, f)
	c.mu.Unlock()
}
