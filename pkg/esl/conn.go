package esl

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// conn is one event-socket connection: a writer that queues a reply slot per command (FreeSWITCH answers strictly
// in order, with no request ids) and a read loop that fills those slots and hands events on.
type conn struct {
	nc  net.Conn
	br  *bufio.Reader
	log zerolog.Logger

	onEvent   func(*Event)
	onMessage func(*Message)

	wmu sync.Mutex // orders a command's slot with its bytes on the wire

	mu   sync.Mutex
	fifo []chan result // reply slots, oldest first; each buffered so an abandoned slot never blocks the loop
	err  error         // why the connection ended; nil while up
	done chan struct{} // closed when the connection ends
}

type result struct {
	m   *Message
	err error
}

func newConn(nc net.Conn, br *bufio.Reader, log zerolog.Logger) *conn {
	if br == nil {
		br = bufio.NewReaderSize(nc, 64<<10)
	}
	return &conn{nc: nc, br: br, log: log, done: make(chan struct{})}
}

// start runs the read loop; onEvent and onMessage are called from it, in wire order.
func (c *conn) start(onEvent func(*Event), onMessage func(*Message)) {
	c.onEvent, c.onMessage = onEvent, onMessage
	go c.readLoop()
}

func (c *conn) readLoop() {
	for {
		m, err := ReadMessage(c.br)
		if err != nil {
			c.fail(err)
			return
		}
		switch t := m.Type(); t {
		case TypeCommandReply, TypeAPIResponse:
			c.mu.Lock()
			var slot chan result
			if len(c.fifo) > 0 {
				slot = c.fifo[0]
				c.fifo[0] = nil
				c.fifo = c.fifo[1:]
			}
			c.mu.Unlock()
			if slot == nil {
				c.log.Warn().Str("type", t).Msg("esl: reply with no command waiting")
				c.message(m)
				continue
			}
			slot <- result{m: m} // buffered: a caller that gave up leaves the reply here, consumed
		case TypeEventPlain, TypeEventJSON, TypeEventXML:
			ev, err := ParseEvent(m)
			if err != nil {
				c.log.Warn().Err(err).Msg("esl: undecodable event dropped")
				c.message(m)
				continue
			}
			if c.onEvent != nil {
				c.onEvent(ev)
			}
		case TypeRudeRejection:
			c.fail(fmt.Errorf("%w: %s", ErrRejected, strings.TrimSpace(string(m.Body))))
			return
		case TypeDisconnectNotice:
			c.log.Info().Str("notice", clip(strings.TrimSpace(string(m.Body)))).Msg("esl: disconnect notice")
			c.message(m)
		default: // log/data, auth/request out of turn, types added in later FreeSWITCH versions
			c.message(m)
		}
	}
}

func (c *conn) message(m *Message) {
	if c.onMessage != nil {
		c.onMessage(m)
	}
}

// fail ends the connection once, failing every command still waiting for its reply.
func (c *conn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	pending := c.fifo
	c.fifo = nil
	close(c.done)
	c.mu.Unlock()
	_ = c.nc.Close()
	for _, s := range pending {
		s <- result{err: fmt.Errorf("%w: %w", ErrDisconnected, err)}
	}
}

// Err returns why the connection ended, nil while it is up.
func (c *conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// roundTrip sends raw (one complete command, blank line included) and waits for its reply. A caller whose ctx ends
// first gets ctx's error; its slot stays in the FIFO so the reply is consumed there, never given to the next caller.
func (c *conn) roundTrip(ctx context.Context, verb string, raw []byte) (*Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slot := make(chan result, 1)
	c.wmu.Lock()
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		c.wmu.Unlock()
		return nil, fmt.Errorf("esl: %s: %w: %w", verb, ErrDisconnected, err)
	}
	c.fifo = append(c.fifo, slot)
	c.mu.Unlock()
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(10 * time.Second)
	}
	_ = c.nc.SetWriteDeadline(dl)
	_, err := c.nc.Write(raw)
	c.wmu.Unlock()
	if err != nil {
		c.fail(fmt.Errorf("write %s: %w", verb, err))
	}
	select {
	case r := <-slot:
		if r.err != nil {
			return nil, fmt.Errorf("esl: %s: %w", verb, r.err)
		}
		return r.m, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("esl: %s: %w", verb, ctx.Err())
	}
}

func (c *conn) close() { c.fail(ErrClosed) }

// authenticate waits for auth/request, sends the password and checks the reply, all within timeout.
func authenticate(ctx context.Context, nc net.Conn, br *bufio.Reader, password string, timeout time.Duration) error {
	dl := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	_ = nc.SetDeadline(dl)
	defer nc.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	m, err := ReadMessage(br)
	if err != nil {
		return fmt.Errorf("esl: wait for auth/request: %w", ctxErr(ctx, err))
	}
	switch m.Type() {
	case TypeAuthRequest:
	case TypeRudeRejection:
		return fmt.Errorf("%w: %s", ErrRejected, strings.TrimSpace(string(m.Body)))
	default:
		return fmt.Errorf("%w: got %q", ErrNoAuth, m.Type())
	}
	if strings.ContainsAny(password, "\r\n") {
		return fmt.Errorf("%w: password contains a newline", ErrConfig)
	}
	if _, err := nc.Write([]byte("auth " + password + "\n\n")); err != nil {
		return fmt.Errorf("esl: send auth: %w", ctxErr(ctx, err))
	}
	for {
		m, err = ReadMessage(br)
		if err != nil {
			return fmt.Errorf("esl: wait for auth reply: %w", ctxErr(ctx, err))
		}
		if m.Type() == TypeCommandReply {
			break
		}
	}
	if rt := m.ReplyText(); !strings.HasPrefix(rt, "+OK") {
		return fmt.Errorf("%w: %w", ErrAuth, &Error{Command: "auth", Reply: strings.TrimSpace(strings.TrimPrefix(rt, "-ERR"))})
	}
	return nil
}

// ctxErr prefers the context's error over the deadline error it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %v", context.DeadlineExceeded, err)
	}
	return err
}

// replyError turns a -ERR command/reply or api/response into an *Error.
func replyError(verb string, m *Message) error {
	text := m.ReplyText()
	if m.Type() == TypeAPIResponse {
		text = strings.TrimSpace(string(m.Body))
	}
	if rest, ok := strings.CutPrefix(text, "-ERR"); ok {
		return &Error{Command: verb, Reply: strings.TrimSpace(rest)}
	}
	if rest, ok := strings.CutPrefix(text, "-USAGE"); ok {
		return &Error{Command: verb, Reply: "USAGE" + rest}
	}
	return nil
}

// encodeCommand renders a command line plus optional headers and body as one frame.
func encodeCommand(line string, headers map[string]string, body []byte) ([]byte, error) {
	if strings.ContainsAny(line, "\r\n") {
		return nil, ErrBadCommand
	}
	b := make([]byte, 0, len(line)+64+len(body))
	b = append(b, line...)
	b = append(b, '\n')
	if len(headers) > 0 || len(body) > 0 {
		m := &Message{Header: headers, Body: body}
		for k, v := range headers {
			if strings.ContainsAny(k+v, "\r\n") || strings.Contains(k, ":") {
				return nil, fmt.Errorf("%w: header %q", ErrBadCommand, k)
			}
		}
		return m.AppendTo(b), nil
	}
	return append(b, '\n'), nil
}

// NewUUID returns a random RFC 4122 version-4 UUID, as FreeSWITCH uses for channels and jobs.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// verbOf returns the first word of a command, the only part logged or put in errors.
func verbOf(cmd string) string {
	v, _, _ := strings.Cut(strings.TrimSpace(cmd), " ")
	return v
}
