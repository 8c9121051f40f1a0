package esl

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/net/ipv4"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
)

// FreeSWITCH's unicast (switch_ivr.c: switch_ivr_activate_unicast and the park loop of switch_ivr_park), as the
// MediaUnicast mode relies on it:
//
//   - `sendmsg <uuid>` with call-command unicast is queued to the channel and acted on by its park loop only: the
//     channel must be parked (DriverConfig.App "&park()"). FreeSWITCH binds a UDP socket on local-ip:local-port (its
//     side) and replies +OK to the sendmsg whatever happens; a bind failure (the port is taken) is only logged
//     there ("Failure creating unicast connection"), and no audio ever comes. So the driver chooses the port
//     itself from UnicastPorts, waits for the first datagram, and tries another port when none comes.
//   - For every frame the park loop reads it sends one datagram to remote-ip:remote-port: the frame decoded to L16
//     in host byte order (little-endian on the x86 and ARM servers FreeSWITCH runs on) at the channel's read rate
//     (8 kHz for PCMU/PCMA, 16 kHz for G.722, 48 kHz for Opus), one packet time long (usually 20 ms). A comfort
//     noise frame (the far end sent nothing) goes out as decoded_bytes_per_packet bytes of 0xFF: samples of -1,
//     i.e. silence. Frames flow all the time, so the first datagram comes within a packet time of activation.
//   - A second thread receives on the same socket from any source and writes each datagram into the call as one
//     L16 frame at the read rate (samples = bytes/2); FreeSWITCH's core resamples and re-packetises to the write
//     codec. Nothing paces or buffers it: the sender must send in real time, which the playout clock does.
//   - flags native skips the decoding: the payload is the codec's own bytes (PCMU, Opus, ...), while comfort noise
//     is still the decoded size of 0xFF bytes. The driver never asks for it.
//   - When the park loop ends (hang-up, uuid_transfer, uuid_bridge, another application) the socket is shut down
//     and closed; nothing is sent to say so. Calls end on CHANNEL_HANGUP_COMPLETE as in every mode.
//   - A channel without media (bypass_media, nomedia) reads no frames in park: no datagram comes, and the driver
//     reports ErrUnicastSilent after its retries.

// unicastTransport is the one UDP socket every unicast call of a Driver shares: FreeSWITCH sends each call's
// audio to it from that call's own local-port, so calls are told apart by source address, and the playout clock
// sends a tick's frames for every call in one batch.
type unicastTransport struct {
	conn  *net.UDPConn
	batch *ipv4.PacketConn
	local netip.AddrPort
	log   zerolog.Logger

	mu   sync.RWMutex
	legs map[netip.AddrPort]*unicastLeg // by FreeSWITCH's address (local-ip:local-port of the sendmsg)

	wmu sync.Mutex
	out []ipv4.Message

	received, unknown, malformed, sent, sendErrs atomic.Uint64
	done                                         chan struct{}
}

func listenUnicast(addr string, log zerolog.Logger) (*unicastTransport, error) {
	ua, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: UnicastListen %q: %v", ErrConfig, addr, err)
	}
	conn, err := net.ListenUDP("udp4", ua)
	if err != nil {
		return nil, fmt.Errorf("esl: unicast listen %q: %w", addr, err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	_ = conn.SetWriteBuffer(4 << 20)
	la := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	t := &unicastTransport{conn: conn, batch: ipv4.NewPacketConn(conn), log: log,
		local: netip.AddrPortFrom(la.Addr().Unmap(), la.Port()),
		legs:  map[netip.AddrPort]*unicastLeg{}, out: make([]ipv4.Message, 64), done: make(chan struct{})}
	for i := range t.out {
		t.out[i].Buffers = make([][]byte, 1)
	}
	go t.readLoop()
	return t, nil
}

func (t *unicastTransport) close() error {
	err := t.conn.Close()
	<-t.done
	return err
}

func (t *unicastTransport) register(src netip.AddrPort, l *unicastLeg) {
	t.mu.Lock()
	t.legs[src] = l
	t.mu.Unlock()
}

func (t *unicastTransport) unregister(l *unicastLeg) {
	t.mu.Lock()
	for src, x := range t.legs {
		if x == l {
			delete(t.legs, src)
		}
	}
	t.mu.Unlock()
}

func (t *unicastTransport) readLoop() {
	defer close(t.done)
	ms := make([]ipv4.Message, 64)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 8192)}
	}
	for {
		n, err := t.batch.ReadBatch(ms, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Warn().Err(err).Msg("esl: unicast read batch")
			time.Sleep(time.Millisecond) // never spin on a persistent error
			continue
		}
		t.received.Add(uint64(n))
		t.mu.RLock()
		for i := range n {
			ua, ok := ms[i].Addr.(*net.UDPAddr)
			if !ok {
				t.malformed.Add(1)
				continue
			}
			src := ua.AddrPort()
			src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
			l := t.legs[src]
			if l == nil {
				if c := t.unknown.Add(1); c&(c-1) == 0 { // the 1st, 2nd, 4th, 8th... drop
					t.log.Debug().Stringer("src", src).Uint64("dropped", c).Msg("esl: unicast datagram from an unknown address")
				}
				continue
			}
			if !l.receive(src, ms[i].Buffers[0][:ms[i].N]) {
				t.malformed.Add(1)
			}
		}
		t.mu.RUnlock()
	}
}

// send writes one tick's datagrams in as few sendmmsg calls as the batch allows.
func (t *unicastTransport) send(pkts []unicastOut) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	for len(pkts) > 0 {
		k := 0
		for ; k < len(t.out) && len(pkts) > 0; k++ {
			t.out[k].Buffers[0], t.out[k].Addr = pkts[0].data, pkts[0].to
			pkts = pkts[1:]
		}
		for off := 0; off < k; {
			n, err := t.batch.WriteBatch(t.out[off:k], 0)
			if err != nil {
				t.sendErrs.Add(uint64(k - off))
				if !errors.Is(err, net.ErrClosed) {
					t.log.Warn().Err(err).Msg("esl: unicast send batch")
				}
				break
			}
			off += n
			t.sent.Add(uint64(n))
		}
		for i := range k {
			t.out[i].Buffers[0], t.out[i].Addr = nil, nil
		}
	}
}

type unicastOut struct {
	data []byte
	to   *net.UDPAddr
}

// unicastLeg is one call's unicast media: the channel's L16 at its read rate, converted to and from the call's
// format.
type unicastLeg struct {
	m      *media
	rate   int              // the channel's read rate: what FreeSWITCH sends and expects
	toCh   *audio.Resampler // call format → channel rate; nil when equal. The clock's goroutine only.
	fromCh *audio.Resampler // channel rate → call format; nil when equal. The read goroutine only.

	remote    atomic.Pointer[net.UDPAddr] // where FreeSWITCH receives: learned from its first datagram
	first     chan struct{}
	firstOnce sync.Once

	// scratch, each owned by one goroutine
	rxPCM, rxOut []int16 // read goroutine
	txPCM        []int16 // clock goroutine
	txBuf        []byte  // clock goroutine; valid until the batch is written

	datagrams, cng atomic.Uint64
}

func newUnicastLeg(m *media, rate int) (*unicastLeg, error) {
	l := &unicastLeg{m: m, rate: rate, first: make(chan struct{})}
	if rate != m.format.Rate {
		var err error
		if l.toCh, err = audio.NewResampler(m.format.Rate, rate); err != nil {
			return nil, fmt.Errorf("esl: unicast: channel read rate %d Hz: %w", rate, err)
		}
		if l.fromCh, err = audio.NewResampler(rate, m.format.Rate); err != nil {
			return nil, fmt.Errorf("esl: unicast: channel read rate %d Hz: %w", rate, err)
		}
	}
	return l, nil
}

// receive takes one datagram from FreeSWITCH; false when it is not L16 (an odd length).
func (l *unicastLeg) receive(src netip.AddrPort, b []byte) bool {
	if len(b) == 0 || len(b)%2 != 0 {
		return false
	}
	l.firstOnce.Do(func() {
		l.remote.Store(net.UDPAddrFromAddrPort(src))
		close(l.first)
	})
	l.datagrams.Add(1)
	l.rxPCM = l.rxPCM[:0]
	if isCNG(b) {
		l.cng.Add(1)
		l.rxPCM = slices.Grow(l.rxPCM, len(b)/2)[:len(b)/2] // comfort noise: silence, in the reused buffer
		clear(l.rxPCM)
	} else {
		l.rxPCM = audio.PCM16LE(l.rxPCM, b)
	}
	pcm := l.rxPCM
	if l.fromCh != nil {
		l.rxOut = l.fromCh.Process(l.rxOut[:0], pcm)
		pcm = l.rxOut
	}
	l.m.rx.PushStream(pcm) // copied by the jitter buffer
	return true
}

// isCNG reports whether b is FreeSWITCH's comfort-noise filler: every byte 0xFF.
func isCNG(b []byte) bool {
	for _, c := range b {
		if c != 0xFF {
			return false
		}
	}
	return true
}

// outgoing converts one frame of the bot's audio to a datagram for FreeSWITCH; ok is false before FreeSWITCH's
// address is known.
func (l *unicastLeg) outgoing(f audio.Frame) (unicastOut, bool) {
	to := l.remote.Load()
	if to == nil {
		return unicastOut{}, false
	}
	pcm := f.Samples
	if l.toCh != nil {
		l.txPCM = l.toCh.Process(l.txPCM[:0], pcm)
		pcm = l.txPCM
	}
	l.txBuf = audio.AppendPCM16LE(l.txBuf[:0], pcm)
	return unicastOut{data: l.txBuf, to: to}, true
}

// unicastLeadIn is how many frames of silence a unicast call starts with (see startUnicast).
const unicastLeadIn = 2

// portPool hands out FreeSWITCH-side ports (local-port) from a range, never one a live call of this driver holds,
// starting at a random place so drivers sharing a FreeSWITCH rarely pick the same port.
type portPool struct {
	mu       sync.Mutex
	min, max int
	next     int
	inUse    map[int]bool
}

func newPortPool(min, max int) *portPool {
	return &portPool{min: min, max: max, next: min + rand.IntN(max-min+1), inUse: map[int]bool{}}
}

func (p *portPool) take() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.max - p.min + 1
	for range n {
		port := p.next
		p.next++
		if p.next > p.max {
			p.next = p.min
		}
		if !p.inUse[port] {
			p.inUse[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("esl: unicast: all %d ports of UnicastPorts %d-%d are in use", n, p.min, p.max)
}

func (p *portPool) give(ports ...int) {
	p.mu.Lock()
	for _, port := range ports {
		delete(p.inUse, port)
	}
	p.mu.Unlock()
}

// channelRate reads the channel's read rate from its CHANNEL_ANSWER (Channel-Read-Codec-Rate), else asks
// FreeSWITCH (uuid_getvar read_rate).
func (c *eslCall) channelRate(ctx context.Context) (int, error) {
	if c.readRate > 0 {
		return c.readRate, nil
	}
	out, err := c.api(ctx, "uuid_getvar "+c.id+" read_rate")
	if err != nil {
		return 0, fmt.Errorf("esl: unicast: reading the channel's read_rate: %w", err)
	}
	rate, err := strconv.Atoi(trimReply(out))
	if err != nil || rate <= 0 {
		return 0, fmt.Errorf("%w: the channel has no read rate (%q): no media on it (bypass_media?)", ErrUnicastSilent, trimReply(out))
	}
	return rate, nil
}

func trimReply(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}

// startUnicast asks the parked channel for unicast media and waits for its first datagram, trying another
// FreeSWITCH-side port when none comes (the port was taken there) up to UnicastAttempts times.
func (d *Driver) startUnicast(ctx context.Context, c *eslCall) error {
	rate, err := c.channelRate(ctx)
	if err != nil {
		return err
	}
	m := c.media
	leg, err := newUnicastLeg(m, rate)
	if err != nil {
		return err
	}
	m.uc = leg
	var tried []int
	m.ucRelease = func() {
		d.uc.unregister(leg)
		d.ports.give(tried...)
	}
	for attempt := range d.cfg.UnicastAttempts {
		port, err := d.ports.take()
		if err != nil {
			return err
		}
		tried = append(tried, port)
		// Every port tried stays this call's: FreeSWITCH may have bound an earlier one after all.
		d.uc.register(netip.AddrPortFrom(d.fsIP, uint16(port)), leg)
		h := map[string]string{
			"call-command": "unicast",
			"local-ip":     d.fsIP.String(),
			"local-port":   strconv.Itoa(port),
			"remote-ip":    d.ucAdvertise.String(),
			"remote-port":  strconv.Itoa(int(d.uc.local.Port())),
			"transport":    "udp",
		}
		if err := c.sendmsg(ctx, h); err != nil {
			return fmt.Errorf("esl: unicast: sendmsg: %w", err)
		}
		t := time.NewTimer(d.cfg.UnicastTimeout)
		select {
		case <-leg.first:
			t.Stop()
			if attempt > 0 {
				c.log.Info().Int("port", port).Int("attempt", attempt+1).Msg("esl: unicast audio after retrying another port")
			}
			// FreeSWITCH loses the first frame it receives on a new unicast connection (seen on 1.10.12 through
			// loopback and echo: the first 20 ms of the first prompt never reached the callee). Lead with silence,
			// so what it loses is silence.
			for range unicastLeadIn {
				if err := m.stream.Write(ctx, audio.Frame{Rate: m.format.Rate, Samples: make([]int16, m.format.FrameSamples())}); err != nil {
					return fmt.Errorf("esl: unicast: %w", err)
				}
			}
			return nil
		case <-t.C:
			c.log.Warn().Int("port", port).Dur("waited", d.cfg.UnicastTimeout).
				Msg("esl: no unicast audio from FreeSWITCH (port taken on its host?); trying another port")
		case <-c.done:
			t.Stop()
			return fmt.Errorf("esl: unicast: %w", call.ErrHungUp)
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	return fmt.Errorf("%w: none within %v on %d ports (%v) of %s; check that the channel is parked and has media, that FreeSWITCH can bind local-ip %s and reach remote-ip %s:%d over UDP",
		ErrUnicastSilent, d.cfg.UnicastTimeout, len(tried), tried, "UnicastPorts", d.fsIP, d.ucAdvertise, d.uc.local.Port())
}
