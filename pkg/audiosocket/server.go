package audiosocket

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/pkg/audio"
)

// ServerConfig configures a Server.
type ServerConfig struct {
	// Addr is the TCP address to listen on; Asterisk connects to it (ExternalMedia external_host).
	Addr string // default: "127.0.0.1:0"
	// HandshakeTimeout bounds how long a new connection may take to send its UUID message.
	HandshakeTimeout time.Duration // default: 5s
	// ClaimTimeout is how long a connection whose UUID nobody has asked for waits for Accept before it is closed.
	ClaimTimeout time.Duration // default: 10s
	// Logger receives handshake failures and unclaimed connections.
	Logger zerolog.Logger // default: zerolog.Nop() (the zero value logs nothing)
}

// Server accepts Asterisk's AudioSocket connections and hands each to the Accept call waiting for its UUID.
type Server struct {
	cfg ServerConfig
	ln  *net.TCPListener

	mu      sync.Mutex
	slots   map[UUID]*slot
	conns   map[net.Conn]struct{} // connections still in handshake
	closed  bool
	closeCh chan struct{}
	wg      sync.WaitGroup
}

// slot holds either a connection that arrived first or the Accept waiting for it.
type slot struct {
	conn   *Conn
	waiter chan *Conn
	timer  *time.Timer
}

// Listen starts the server; Close stops it.
func Listen(cfg ServerConfig) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 5 * time.Second
	}
	if cfg.ClaimTimeout <= 0 {
		cfg.ClaimTimeout = 10 * time.Second
	}
	ta, err := net.ResolveTCPAddr("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("audiosocket: listen address %q: %w", cfg.Addr, err)
	}
	ln, err := net.ListenTCP("tcp", ta)
	if err != nil {
		return nil, fmt.Errorf("audiosocket: listen %q: %w", cfg.Addr, err)
	}
	s := &Server{cfg: cfg, ln: ln, slots: make(map[UUID]*slot), conns: make(map[net.Conn]struct{}), closeCh: make(chan struct{})}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr is the listening address, for ExternalMedia's external_host.
func (s *Server) Addr() netip.AddrPort {
	a := s.ln.Addr().(*net.TCPAddr).AddrPort()
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// Accept waits for the connection that announces id. Call it before or after asking Asterisk for the channel:
// a connection that arrives first is kept for ClaimTimeout.
func (s *Server) Accept(ctx context.Context, id UUID) (*Conn, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("audiosocket: accept %s: %w", id, ErrClosed)
	}
	sl := s.slots[id]
	if sl != nil && sl.conn != nil {
		delete(s.slots, id)
		sl.timer.Stop()
		s.mu.Unlock()
		return sl.conn, nil
	}
	if sl != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("audiosocket: accept %s: another Accept is waiting for it", id)
	}
	sl = &slot{waiter: make(chan *Conn, 1)}
	s.slots[id] = sl
	s.mu.Unlock()

	select {
	case c := <-sl.waiter:
		return c, nil
	case <-ctx.Done():
	case <-s.closeCh:
	}
	s.mu.Lock()
	if s.slots[id] == sl {
		delete(s.slots, id)
	}
	s.mu.Unlock()
	select {
	case c := <-sl.waiter: // arrived while we gave up
		_ = c.Close()
	default:
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("audiosocket: accept %s: %w", id, ctx.Err())
	}
	return nil, fmt.Errorf("audiosocket: accept %s: %w", id, ErrClosed)
}

// Close stops listening, closes connections nobody has claimed and waits for the server's goroutines.
// Connections already returned by Accept belong to their callers.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closeCh)
	for id, sl := range s.slots {
		if sl.conn != nil {
			sl.timer.Stop()
			_ = sl.conn.Close()
		}
		delete(s.slots, id)
	}
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.cfg.Logger.Warn().Err(err).Msg("audiosocket: accept")
			select {
			case <-s.closeCh:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		s.conns[nc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handshake(nc)
	}
}

func (s *Server) handshake(nc net.Conn) {
	defer s.wg.Done()
	c := newConn(nc)
	_ = nc.SetReadDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	m, err := c.ReadMessage()
	_ = nc.SetReadDeadline(time.Time{})
	s.mu.Lock()
	delete(s.conns, nc)
	closed := s.closed
	s.mu.Unlock()
	if err == nil && m.Kind != KindUUID {
		err = fmt.Errorf("%w: first message is %s, want uuid", ErrHandshake, m.Kind)
	}
	if err != nil || closed {
		if err != nil && !closed {
			s.cfg.Logger.Warn().Err(err).Stringer("remote", nc.RemoteAddr()).Msg("audiosocket: handshake failed")
		}
		_ = nc.Close()
		return
	}
	c.id, _ = m.UUID()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = nc.Close()
		return
	}
	sl := s.slots[c.id]
	switch {
	case sl != nil && sl.waiter != nil:
		delete(s.slots, c.id)
		sl.waiter <- c
	case sl != nil: // a second connection with the same UUID
		s.cfg.Logger.Warn().Stringer("uuid", c.id).Msg("audiosocket: duplicate UUID, closing the newer connection")
		_ = nc.Close()
	default:
		id := c.id
		sl = &slot{conn: c}
		sl.timer = time.AfterFunc(s.cfg.ClaimTimeout, func() {
			s.mu.Lock()
			if s.slots[id] == sl {
				delete(s.slots, id)
				s.mu.Unlock()
				s.cfg.Logger.Warn().Stringer("uuid", id).Msg("audiosocket: connection not claimed, closing")
				_ = c.Close()
				return
			}
			s.mu.Unlock()
		})
		s.slots[id] = sl
	}
}

// Conn is one AudioSocket connection. One goroutine reads while others write.
type Conn struct {
	nc   net.Conn
	id   UUID
	r    *bufio.Reader
	rbuf []byte

	wmu  sync.Mutex
	wbuf []byte
}

func newConn(nc net.Conn) *Conn {
	return &Conn{nc: nc, r: bufio.NewReaderSize(nc, 4096)}
}

// Dial connects to an AudioSocket server as Asterisk does and sends the UUID message. It serves simulators and tests.
func Dial(ctx context.Context, addr string, id UUID) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("audiosocket: dial %s: %w", addr, err)
	}
	c := newConn(nc)
	c.id = id
	if err := c.WriteMessage(Message{Kind: KindUUID, Payload: id[:]}); err != nil {
		_ = nc.Close()
		return nil, err
	}
	return c, nil
}

// UUID is the id the connection announced.
func (c *Conn) UUID() UUID { return c.id }

// ReadMessage returns the next message. Its Payload is valid until the next ReadMessage.
func (c *Conn) ReadMessage() (Message, error) {
	m, buf, err := ReadMessage(c.r, c.rbuf)
	c.rbuf = buf
	if err != nil && errors.Is(err, net.ErrClosed) {
		return m, fmt.Errorf("audiosocket: read: %w", ErrClosed)
	}
	return m, err
}

// WriteMessage sends one message.
func (c *Conn) WriteMessage(m Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := m.Validate(); err != nil {
		return err
	}
	c.wbuf = c.wbuf[:0]
	c.wbuf = append(c.wbuf, byte(m.Kind), byte(len(m.Payload)>>8), byte(len(m.Payload)))
	c.wbuf = append(c.wbuf, m.Payload...)
	return c.write()
}

// WriteAudio sends samples as one audio message of the kind for rate (little-endian signed linear).
func (c *Conn) WriteAudio(rate int, samples []int16) error {
	k, err := KindForRate(rate)
	if err != nil {
		return err
	}
	if 2*len(samples) > MaxPayload {
		return fmt.Errorf("%w: %d samples in one message", ErrPayloadSize, len(samples))
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n := 2 * len(samples)
	c.wbuf = append(c.wbuf[:0], byte(k), byte(n>>8), byte(n))
	c.wbuf = audio.AppendPCM16LE(c.wbuf, samples)
	return c.write()
}

func (c *Conn) write() error {
	if _, err := c.nc.Write(c.wbuf); err != nil {
		if errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("audiosocket: write: %w", ErrClosed)
		}
		return fmt.Errorf("audiosocket: write: %w", err)
	}
	return nil
}

// Hangup sends the hangup message and closes the connection.
func (c *Conn) Hangup() error {
	err := c.WriteMessage(Message{Kind: KindHangup})
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return err
}

// SetReadDeadline bounds the next ReadMessage.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// Close closes the connection; a blocked ReadMessage returns.
func (c *Conn) Close() error {
	err := c.nc.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
