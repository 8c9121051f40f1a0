package rtp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// TransportConfig configures a Transport.
type TransportConfig struct {
	// Addr is the local UDP address to bind, "host:port"; the PBX must reach it (MEDIA_HOST).
	Addr string // default: "127.0.0.1:0"
	// BatchSize is how many datagrams one recvmmsg/sendmmsg system call moves at most.
	BatchSize int // default: 64
	// ReadBuffer and WriteBuffer size the socket's kernel buffers, in bytes.
	ReadBuffer  int // default: 4 MiB
	WriteBuffer int // default: 4 MiB
	// Logger receives dropped-packet and socket errors. Remote addresses are logged; nothing else about a call.
	Logger zerolog.Logger // default: zerolog.Nop() (the zero value logs nothing)
}

// Handler receives one stream's packets on the transport's reader goroutine. The packet and its payload are valid
// only during the call, so a handler copies or decodes what it keeps. It must not block, and must not call
// Register or Peer.Close.
type Handler func(p *Packet)

// Stats counts what a Transport (or one Peer) carried and dropped.
type Stats struct {
	Received      uint64 // datagrams read from the socket
	Delivered     uint64 // packets handed to a stream's Handler
	UnknownSource uint64 // dropped: no stream registered for the source address
	WrongPayload  uint64 // dropped: payload type differs from the stream's
	Malformed     uint64 // dropped: not a valid RTP packet
	Sent          uint64 // datagrams written
	SendErrors    uint64 // datagrams the socket refused
}

// Transport is ONE UDP socket carrying the RTP of many calls. Incoming packets are read in batches (recvmmsg) and
// handed to the Peer registered for their source address; outgoing packets of many streams go out in one batch
// (sendmmsg). Packets from unknown addresses or with the wrong payload type are counted and dropped.
type Transport struct {
	conn  *net.UDPConn
	batch batchConn
	log   zerolog.Logger
	local netip.AddrPort
	size  int

	mu      sync.RWMutex
	streams map[netip.AddrPort]*Peer
	closed  bool

	wmu sync.Mutex
	out []ipv4.Message

	stats struct {
		received, delivered, unknown, wrongPT, malformed, sent, sendErrs atomic.Uint64
	}
	done chan struct{}
}

// batchConn is what ipv4.PacketConn and ipv6.PacketConn share (their Message types are one type).
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

type v6batch struct{ *ipv6.PacketConn }

func (c v6batch) ReadBatch(ms []ipv4.Message, flags int) (int, error) {
	return c.PacketConn.ReadBatch(ms, flags)
}
func (c v6batch) WriteBatch(ms []ipv4.Message, flags int) (int, error) {
	return c.PacketConn.WriteBatch(ms, flags)
}

// Listen binds the socket and starts the reader goroutine; Close stops it.
func Listen(cfg TransportConfig) (*Transport, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 64
	}
	if cfg.ReadBuffer <= 0 {
		cfg.ReadBuffer = 4 << 20
	}
	if cfg.WriteBuffer <= 0 {
		cfg.WriteBuffer = 4 << 20
	}
	ua, err := net.ResolveUDPAddr("udp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("rtp: listen address %q: %w", cfg.Addr, err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("rtp: listen %q: %w", cfg.Addr, err)
	}
	_ = conn.SetReadBuffer(cfg.ReadBuffer)
	_ = conn.SetWriteBuffer(cfg.WriteBuffer)
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	t := &Transport{
		conn:    conn,
		log:     cfg.Logger,
		local:   netip.AddrPortFrom(local.Addr().Unmap(), local.Port()),
		size:    cfg.BatchSize,
		streams: make(map[netip.AddrPort]*Peer),
		out:     make([]ipv4.Message, cfg.BatchSize),
		done:    make(chan struct{}),
	}
	if t.local.Addr().Is4() {
		t.batch = ipv4.NewPacketConn(conn)
	} else {
		t.batch = v6batch{ipv6.NewPacketConn(conn)}
	}
	for i := range t.out {
		t.out[i].Buffers = make([][]byte, 1)
	}
	go t.readLoop()
	return t, nil
}

// LocalAddr is the socket's address: what to give the PBX as ExternalMedia's external_host.
func (t *Transport) LocalAddr() netip.AddrPort { return t.local }

// Register routes packets from remote with payload type pt to h, and returns the Peer used to send to remote.
// A remote with an unspecified IP (0.0.0.0 or ::) matches any source with that port.
func (t *Transport) Register(remote netip.AddrPort, pt uint8, h Handler) (*Peer, error) {
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	if !remote.IsValid() || remote.Port() == 0 {
		return nil, fmt.Errorf("rtp: register: invalid remote address %v", remote)
	}
	if pt > 127 {
		return nil, fmt.Errorf("rtp: register %v: payload type %d out of range", remote, pt)
	}
	s := &Peer{t: t, remote: remote, pt: pt, h: h, addr: net.UDPAddrFromAddrPort(remote)}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("rtp: register %v: %w", remote, ErrClosed)
	}
	if _, dup := t.streams[remote]; dup {
		return nil, fmt.Errorf("rtp: register %v: %w", remote, ErrDuplicatePeer)
	}
	t.streams[remote] = s
	return s, nil
}

// Streams returns how many streams are registered.
func (t *Transport) Peers() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.streams)
}

// Stats returns the transport's counters.
func (t *Transport) Stats() Stats {
	return Stats{
		Received:      t.stats.received.Load(),
		Delivered:     t.stats.delivered.Load(),
		UnknownSource: t.stats.unknown.Load(),
		WrongPayload:  t.stats.wrongPT.Load(),
		Malformed:     t.stats.malformed.Load(),
		Sent:          t.stats.sent.Load(),
		SendErrors:    t.stats.sendErrs.Load(),
	}
}

// Close closes the socket, waits for the reader goroutine to end and unregisters every stream.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	for k, s := range t.streams {
		s.closed.Store(true)
		delete(t.streams, k)
	}
	t.mu.Unlock()
	err := t.conn.Close()
	<-t.done
	return err
}

// Outgoing is one datagram for SendBatch.
type Outgoing struct {
	Peer *Peer  // where it goes
	Data []byte // a whole RTP packet
}

// SendBatch writes the packets in as few sendmmsg calls as the batch size allows. Packets of closed streams are
// skipped. It returns how many were sent; a socket error stops the batch and is returned.
func (t *Transport) SendBatch(pkts []Outgoing) (int, error) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	sent := 0
	for len(pkts) > 0 {
		k := 0
		for len(pkts) > 0 && k < len(t.out) {
			p := pkts[0]
			pkts = pkts[1:]
			if p.Peer == nil || p.Peer.closed.Load() {
				continue
			}
			t.out[k].Buffers[0] = p.Data
			t.out[k].Addr = p.Peer.addr
			k++
		}
		for off := 0; off < k; {
			n, err := t.batch.WriteBatch(t.out[off:k], 0)
			if err != nil {
				t.stats.sendErrs.Add(uint64(k - off))
				t.clearOut(k)
				if errors.Is(err, net.ErrClosed) {
					return sent, fmt.Errorf("rtp: send: %w", ErrClosed)
				}
				return sent, fmt.Errorf("rtp: send batch: %w", err)
			}
			off += n
			sent += n
			t.stats.sent.Add(uint64(n))
		}
		t.clearOut(k)
	}
	return sent, nil
}

func (t *Transport) clearOut(k int) {
	for i := range k {
		t.out[i].Buffers[0] = nil
		t.out[i].Addr = nil
	}
}

func (t *Transport) readLoop() {
	defer close(t.done)
	ms := make([]ipv4.Message, t.size)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 1500)}
	}
	var pkt Packet
	for {
		n, err := t.batch.ReadBatch(ms, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Warn().Err(err).Msg("rtp: read batch")
			time.Sleep(time.Millisecond) // never spin on a persistent error
			continue
		}
		t.stats.received.Add(uint64(n))
		t.mu.RLock()
		for i := range n {
			t.dispatch(&ms[i], &pkt)
		}
		t.mu.RUnlock()
	}
}

// dispatch routes one datagram; the caller holds t.mu for reading, so Peer.Close waits for in-flight handlers.
func (t *Transport) dispatch(m *ipv4.Message, pkt *Packet) {
	ua, ok := m.Addr.(*net.UDPAddr)
	if !ok {
		t.stats.malformed.Add(1)
		return
	}
	src := ua.AddrPort()
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	s := t.streams[src]
	if s == nil {
		s = t.streams[netip.AddrPortFrom(unspecified(src.Addr()), src.Port())]
	}
	if s == nil {
		if c := t.stats.unknown.Add(1); c&(c-1) == 0 { // log the 1st, 2nd, 4th, 8th... drop
			t.log.Debug().Stringer("src", src).Uint64("dropped", c).Msg("rtp: packet from unknown address")
		}
		return
	}
	if _, err := pkt.Unmarshal(m.Buffers[0][:m.N]); err != nil {
		t.stats.malformed.Add(1)
		if c := s.malformed.Add(1); c&(c-1) == 0 {
			t.log.Debug().Err(err).Stringer("src", src).Uint64("dropped", c).Msg("rtp: malformed packet")
		}
		return
	}
	if pkt.PayloadType != s.pt {
		t.stats.wrongPT.Add(1)
		if c := s.wrongPT.Add(1); c&(c-1) == 0 {
			t.log.Debug().Stringer("src", src).Uint8("pt", pkt.PayloadType).Uint8("want", s.pt).
				Uint64("dropped", c).Msg("rtp: unexpected payload type")
		}
		return
	}
	s.received.Add(1)
	t.stats.delivered.Add(1)
	if s.h != nil {
		s.h(pkt)
	}
}

func unspecified(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// Peer is one remote RTP endpoint on a Transport.
type Peer struct {
	t      *Transport
	remote netip.AddrPort
	pt     uint8
	h      Handler
	addr   *net.UDPAddr
	closed atomic.Bool

	received, malformed, wrongPT atomic.Uint64
}

// Remote is the address packets come from and go to.
func (s *Peer) Remote() netip.AddrPort { return s.remote }

// PayloadType is the payload type the stream accepts.
func (s *Peer) PayloadType() uint8 { return s.pt }

// Stats returns the stream's own counters (Delivered, Malformed, WrongPayload).
func (s *Peer) Stats() Stats {
	return Stats{Delivered: s.received.Load(), Malformed: s.malformed.Load(), WrongPayload: s.wrongPT.Load()}
}

// Send writes one packet to the stream's remote address at once (outside any batch).
func (s *Peer) Send(pkt []byte) error {
	if s.closed.Load() {
		return fmt.Errorf("rtp: send to %v: %w", s.remote, ErrClosed)
	}
	if _, err := s.t.conn.WriteToUDPAddrPort(pkt, s.remote); err != nil {
		s.t.stats.sendErrs.Add(1)
		return fmt.Errorf("rtp: send to %v: %w", s.remote, err)
	}
	s.t.stats.sent.Add(1)
	return nil
}

// Close unregisters the stream. When it returns the Handler is not running and will not be called again.
func (s *Peer) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.t.mu.Lock()
	if s.t.streams[s.remote] == s {
		delete(s.t.streams, s.remote)
	}
	s.t.mu.Unlock()
	return nil
}
