package rtp

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/outcall/outcall/pkg/audio"
)

func listenPeer(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func peerAddr(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

func newTransport(t testing.TB) *Transport {
	t.Helper()
	tr, err := Listen(TransportConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// accounted is how many datagrams the reader has finished with (Received counts a batch before dispatching it).
func accounted(s Stats) uint64 {
	return s.Delivered + s.UnknownSource + s.WrongPayload + s.Malformed
}

type collector struct {
	mu   sync.Mutex
	seqs []uint16
	data [][]byte
}

func (c *collector) handle(p *Packet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seqs = append(c.seqs, p.SequenceNumber)
	c.data = append(c.data, append([]byte(nil), p.Payload...))
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seqs)
}

func TestTransportDemux(t *testing.T) {
	tr := newTransport(t)
	if a := tr.LocalAddr(); !a.Addr().IsLoopback() || a.Port() == 0 {
		t.Fatalf("local addr %v", a)
	}
	a, b, stranger := listenPeer(t), listenPeer(t), listenPeer(t)
	var ca, cb collector
	if _, err := tr.Register(peerAddr(a), 0, ca.handle); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Register(peerAddr(b), 118, cb.handle); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Register(peerAddr(b), 118, cb.handle); !errors.Is(err, ErrDuplicatePeer) {
		t.Fatalf("duplicate register: %v", err)
	}
	dst := net.UDPAddrFromAddrPort(tr.LocalAddr())
	qa, qb := NewSequencer(0), NewSequencer(118)
	for i := range 5 {
		if _, err := a.WriteToUDP(qa.Append(nil, []byte{byte(i)}, 160), dst); err != nil {
			t.Fatal(err)
		}
		if _, err := b.WriteToUDP(qb.Append(nil, []byte{byte(10 + i), 0}, 320), dst); err != nil {
			t.Fatal(err)
		}
	}
	// Dropped: unknown source, wrong payload type, not RTP at all.
	_, _ = stranger.WriteToUDP(NewSequencer(0).Append(nil, []byte{1}, 160), dst)
	_, _ = a.WriteToUDP(NewSequencer(8).Append(nil, []byte{1}, 160), dst)
	_, _ = a.WriteToUDP([]byte{0x12, 0x34}, dst)
	_, _ = b.WriteToUDP(make([]byte, 12), dst)

	waitFor(t, "all datagrams", func() bool { return accounted(tr.Stats()) >= 14 })
	st := tr.Stats()
	if st.Delivered != 10 || st.UnknownSource != 1 || st.WrongPayload != 1 || st.Malformed != 2 {
		t.Fatalf("stats %+v", st)
	}
	if ca.count() != 5 || cb.count() != 5 {
		t.Fatalf("a got %d, b got %d", ca.count(), cb.count())
	}
	for i := range 5 {
		if ca.data[i][0] != byte(i) || cb.data[i][0] != byte(10+i) || len(cb.data[i]) != 2 {
			t.Fatalf("packet %d crossed streams: a %v b %v", i, ca.data[i], cb.data[i])
		}
	}
}

func TestTransportUnspecifiedMatchesPort(t *testing.T) {
	tr := newTransport(t)
	p := listenPeer(t)
	var c collector
	remote := netip.AddrPortFrom(netip.IPv4Unspecified(), peerAddr(p).Port())
	if _, err := tr.Register(remote, 0, c.handle); err != nil {
		t.Fatal(err)
	}
	_, _ = p.WriteToUDP(NewSequencer(0).Append(nil, []byte{1}, 160), net.UDPAddrFromAddrPort(tr.LocalAddr()))
	waitFor(t, "delivery", func() bool { return c.count() == 1 })
}

func TestTransportSendBatch(t *testing.T) {
	tr := newTransport(t)
	const peers = 3
	const perPeer = 100 // more than one batch of 64
	var conns [peers]*net.UDPConn
	var out []Outgoing
	for i := range peers {
		conns[i] = listenPeer(t)
		s, err := tr.Register(peerAddr(conns[i]), 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		q := NewSequencer(0)
		for range perPeer {
			out = append(out, Outgoing{Peer: s, Data: q.Append(nil, []byte{byte(i)}, 160)})
		}
	}
	n, err := tr.SendBatch(out)
	if err != nil || n != peers*perPeer {
		t.Fatalf("SendBatch = %d, %v", n, err)
	}
	for i, c := range conns {
		buf := make([]byte, 1500)
		var p Packet
		for k := range perPeer {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			m, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("peer %d packet %d: %v", i, k, err)
			}
			if from != tr.LocalAddr() {
				t.Fatalf("sent from %v, want the shared socket %v", from, tr.LocalAddr())
			}
			if _, err := p.Unmarshal(buf[:m]); err != nil || p.Payload[0] != byte(i) {
				t.Fatalf("peer %d got %v %v", i, p.Payload, err)
			}
		}
	}
	if tr.Stats().Sent != peers*perPeer {
		t.Fatalf("stats %+v", tr.Stats())
	}
}

func TestPeerCloseStopsDelivery(t *testing.T) {
	tr := newTransport(t)
	p := listenPeer(t)
	var c collector
	s, err := tr.Register(peerAddr(p), 0, c.handle)
	if err != nil {
		t.Fatal(err)
	}
	dst := net.UDPAddrFromAddrPort(tr.LocalAddr())
	q := NewSequencer(0)
	_, _ = p.WriteToUDP(q.Append(nil, []byte{1}, 160), dst)
	waitFor(t, "first packet", func() bool { return c.count() == 1 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if tr.Peers() != 0 {
		t.Fatalf("%d streams after close", tr.Peers())
	}
	_, _ = p.WriteToUDP(q.Append(nil, []byte{2}, 160), dst)
	waitFor(t, "second datagram", func() bool { return accounted(tr.Stats()) == 2 })
	if c.count() != 1 || tr.Stats().UnknownSource != 1 {
		t.Fatalf("delivered after close: %d, stats %+v", c.count(), tr.Stats())
	}
	if err := s.Send([]byte{0x80}); !errors.Is(err, ErrClosed) {
		t.Fatalf("send on closed stream: %v", err)
	}
	// The address can be registered again (a new call reusing the port).
	if _, err := tr.Register(peerAddr(p), 0, nil); err != nil {
		t.Fatal(err)
	}
}

func TestTransportCloseEndsReader(t *testing.T) {
	before := runtime.NumGoroutine()
	tr, err := Listen(TransportConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Register(netip.MustParseAddrPort("127.0.0.1:9"), 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := tr.Register(netip.MustParseAddrPort("127.0.0.1:10"), 0, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("register after close: %v", err)
	}
	waitFor(t, "reader goroutine to end", func() bool { return runtime.NumGoroutine() <= before })
}

func TestRegisterRejectsBadInput(t *testing.T) {
	tr := newTransport(t)
	if _, err := tr.Register(netip.AddrPort{}, 0, nil); err == nil {
		t.Fatal("zero address accepted")
	}
	if _, err := tr.Register(netip.MustParseAddrPort("127.0.0.1:0"), 0, nil); err == nil {
		t.Fatal("port 0 accepted")
	}
	if _, err := tr.Register(netip.MustParseAddrPort("127.0.0.1:5"), 200, nil); err == nil {
		t.Fatal("payload type 200 accepted")
	}
	if _, err := Listen(TransportConfig{Addr: "not an address"}); err == nil {
		t.Fatal("bad listen address accepted")
	}
}

// BenchmarkReceiveDecode measures the receive path of the shared socket: recvmmsg batches, demultiplexing by
// source address over 100 streams, RTP parsing and G.711 µ-law decoding of the 160-byte payload. The sender uses
// sendmmsg from 100 sockets with a bounded number of packets in flight so the kernel drops nothing.
func BenchmarkReceiveDecode(b *testing.B) {
	tr := newTransport(b)
	const streams = 100
	var decoded atomic.Int64
	peers := make([]*ipv4.PacketConn, streams)
	pkts := make([][]byte, streams)
	for i := range streams {
		c := listenPeer(b)
		peers[i] = ipv4.NewPacketConn(c)
		var pcm [160]int16
		if _, err := tr.Register(peerAddr(c), 0, func(p *Packet) {
			audio.DecodeULaw(pcm[:0], p.Payload)
			decoded.Add(1)
		}); err != nil {
			b.Fatal(err)
		}
		pkts[i] = NewSequencer(0).Append(nil, make([]byte, 160), 160)
	}
	dst := net.UDPAddrFromAddrPort(tr.LocalAddr())
	const burst = 32
	msgs := make([]ipv4.Message, burst)
	const window = 2048
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	sent := 0
	for sent < b.N {
		k := min(burst, b.N-sent)
		peer := (sent / burst) % streams
		for j := range k {
			msgs[j] = ipv4.Message{Buffers: [][]byte{pkts[peer]}, Addr: dst}
		}
		for off := 0; off < k; {
			n, err := peers[peer].WriteBatch(msgs[off:k], 0)
			if err != nil {
				b.Fatal(err)
			}
			off += n
		}
		sent += k
		stall := time.Now()
		for int64(sent)-decoded.Load() > window {
			if time.Since(stall) > time.Second {
				b.Fatalf("receiver stalled: sent %d decoded %d", sent, decoded.Load())
			}
			runtime.Gosched()
		}
	}
	stall := time.Now()
	for decoded.Load() < int64(b.N) && time.Since(stall) < time.Second {
		runtime.Gosched()
	}
	b.StopTimer()
	if lost := int64(b.N) - decoded.Load(); lost > 0 {
		b.Logf("lost %d of %d packets", lost, b.N)
	}
	b.ReportMetric(float64(decoded.Load())/b.Elapsed().Seconds(), "pkts/s")
	// CPU of the whole process (sender included) per packet: a contention-proof bound on the receive cost.
	cpuPerPkt := float64(processCPU()-cpu0) / float64(b.N)
	b.ReportMetric(cpuPerPkt, "cpu-ns/pkt")
	b.ReportMetric(1e9/cpuPerPkt, "pkts/cpu-s")
}

// processCPU returns the user+system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
