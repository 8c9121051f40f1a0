package esl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/rs/zerolog"
)

// OutboundConfig configures an outbound-mode Server, the target of dialplan `socket host:port async full`.
type OutboundConfig struct {
	EventBuffer int            // events queued per connection before overflow (newest dropped, counted); default: 1024
	Logger      zerolog.Logger // default: zerolog.Nop()
}

// Handler serves one outbound connection, that is one channel. ctx ends when the connection or the server does.
type Handler func(ctx context.Context, c *OutboundConn)

// Server accepts outbound-mode connections from FreeSWITCH, one per channel.
type Server struct {
	cfg OutboundConfig
	ln  net.Listener

	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[*OutboundConn]struct{}
	closed bool
}

// NewServer returns a server for ln; call Serve.
func NewServer(ln net.Listener, cfg OutboundConfig) *Server {
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = 1024
	}
	return &Server{cfg: cfg, ln: ln, conns: map[*OutboundConn]struct{}{}}
}

// Addr returns the listening address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections and runs h for each on its own goroutine until ctx ends or the listener fails. It
// closes the listener and every connection, and waits for the handlers, before returning.
func (s *Server) Serve(ctx context.Context, h Handler) error {
	stop := context.AfterFunc(ctx, func() { _ = s.ln.Close() })
	defer stop()
	defer s.shutdown()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, net.ErrClosed) {
				return ErrClosed
			}
			return fmt.Errorf("esl: accept: %w", err)
		}
		oc := &OutboundConn{cn: newConn(nc, nil, s.cfg.Logger), events: make(chan *Event, s.cfg.EventBuffer),
			log: s.cfg.Logger, notice: make(chan struct{})}
		s.mu.Lock()
		s.conns[oc] = struct{}{}
		s.mu.Unlock()
		oc.cn.start(oc.offer, func(m *Message) {
			if m.Type() == TypeDisconnectNotice {
				oc.noticeOnce.Do(func() { close(oc.notice) })
			}
		})
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			cctx, cancel := context.WithCancel(ctx)
			stopc := context.AfterFunc(cctx, oc.cn.close)
			go func() {
				select {
				case <-oc.cn.done:
					cancel()
				case <-cctx.Done():
				}
			}()
			h(cctx, oc)
			cancel()
			stopc()
			oc.cn.close()
			s.mu.Lock()
			delete(s.conns, oc)
			s.mu.Unlock()
		}()
	}
}

func (s *Server) shutdown() {
	s.mu.Lock()
	conns := make([]*OutboundConn, 0, len(s.conns))
	for oc := range s.conns {
		conns = append(conns, oc)
	}
	s.closed = true
	s.mu.Unlock()
	for _, oc := range conns {
		oc.cn.close()
	}
	s.wg.Wait()
}

// OutboundConn is one channel's outbound socket.
type OutboundConn struct {
	cn         *conn
	log        zerolog.Logger
	events     chan *Event
	notice     chan struct{}
	noticeOnce sync.Once
	dropped    uint64 // read goroutine only
	uuid       string
}

// offer runs on the read goroutine; events past the buffer are dropped and counted.
func (o *OutboundConn) offer(ev *Event) {
	select {
	case o.events <- ev:
	default:
		o.dropped++
		o.log.Warn().Uint64("dropped", o.dropped).Str("event", ev.Name()).Msg("esl: outbound: slow consumer, event dropped")
	}
}

// Events returns the connection's events in wire order (after MyEvents). It is never closed; select on the
// handler's ctx too.
func (o *OutboundConn) Events() <-chan *Event { return o.events }

// Disconnected is closed when FreeSWITCH sends text/disconnect-notice (the channel hung up; with Linger the
// socket stays open for the final events).
func (o *OutboundConn) Disconnected() <-chan struct{} { return o.notice }

// UniqueID returns the channel's Unique-ID once Connect has run.
func (o *OutboundConn) UniqueID() string { return o.uuid }

// Connect sends `connect` and returns the channel's data (Unique-ID, Caller-Caller-ID-Number, variable_*...).
func (o *OutboundConn) Connect(ctx context.Context) (*Event, error) {
	m, err := o.cmd(ctx, "connect", nil, nil)
	if err != nil {
		return nil, err
	}
	ev := &Event{Header: make(map[string]string, len(m.Header))}
	for k, v := range m.Header {
		ev.Header[k] = decodeValue(v)
	}
	o.uuid = ev.Get("Unique-ID")
	if o.uuid == "" {
		o.uuid = ev.Get("Channel-Unique-ID")
	}
	return ev, nil
}

// MyEvents subscribes to this channel's events (plain format).
func (o *OutboundConn) MyEvents(ctx context.Context) error {
	_, err := o.cmd(ctx, "myevents", nil, nil)
	return err
}

// Linger keeps the socket open after hangup so the final events arrive.
func (o *OutboundConn) Linger(ctx context.Context) error {
	_, err := o.cmd(ctx, "linger", nil, nil)
	return err
}

// API runs `api <cmd>` and returns the body.
func (o *OutboundConn) API(ctx context.Context, cmd string) (string, error) {
	m, err := o.cmd(ctx, "api "+cmd, nil, nil)
	if err != nil {
		return "", err
	}
	return string(m.Body), nil
}

// SendMsg sends `sendmsg` with headers (call-command, ...) and an optional body for this channel.
func (o *OutboundConn) SendMsg(ctx context.Context, headers map[string]string, body []byte) error {
	_, err := o.cmd(ctx, "sendmsg", headers, body)
	return err
}

// Execute runs a dialplan application on this channel.
func (o *OutboundConn) Execute(ctx context.Context, app, arg string) error {
	_, err := o.cmd(ctx, "sendmsg", map[string]string{"call-command": "execute", "execute-app-name": app,
		"execute-app-arg": arg}, nil)
	return err
}

// Hangup hangs the channel up with cause.
func (o *OutboundConn) Hangup(ctx context.Context, cause string) error {
	_, err := o.cmd(ctx, "sendmsg", map[string]string{"call-command": "hangup", "hangup-cause": cause}, nil)
	return err
}

// Exit asks FreeSWITCH to close the socket.
func (o *OutboundConn) Exit(ctx context.Context) error {
	_, err := o.cmd(ctx, "exit", nil, nil)
	return err
}

func (o *OutboundConn) cmd(ctx context.Context, line string, h map[string]string, body []byte) (*Message, error) {
	raw, err := encodeCommand(line, h, body)
	if err != nil {
		return nil, err
	}
	m, err := o.cn.roundTrip(ctx, verbOf(line), raw)
	if err != nil {
		return nil, err
	}
	if err := replyError(verbOf(line), m); err != nil {
		return m, err
	}
	return m, nil
}

func decodeValue(v string) string {
	if !strings.Contains(v, "%") {
		return v
	}
	if d, err := unescape(v); err == nil {
		return d
	}
	return v
}
