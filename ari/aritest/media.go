package aritest

import (
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// mediaLeg is the network side of an ExternalMedia channel.
type mediaLeg interface {
	// localAddr is the UDP address apps send RTP to; nil for AudioSocket.
	localAddr() *net.UDPAddr
	// start starts the leg's reader; called once with s.mu held.
	start(s *Server, ch *channel)
	// pop returns the next frame received from the app at Config.Rate, or nil.
	pop() []int16
	// send prepares pcm (Config.Rate) for the app; called with s.mu held. flush then writes it, after s.mu is
	// released and before the next tick.
	send(pcm []int16)
	flush()
	// silent tells the leg that nothing was sent this tick (the next packet starts a talk spurt).
	silent()
	close()
}

// maxQueued bounds the frames waiting from an app: 500 ms. An app that sends faster than real time loses the
// oldest frames, counted in Stats.MediaOverflow.
const maxQueued = 25

// frameQueue holds frames received from an app until the clock consumes them.
type frameQueue struct {
	mu sync.Mutex
	q  [][]int16
}

func (fq *frameQueue) push(s *Server, f []int16) {
	fq.mu.Lock()
	if len(fq.q) >= maxQueued {
		fq.q = fq.q[1:]
		s.stats.overflow.Add(1)
	}
	fq.q = append(fq.q, f)
	fq.mu.Unlock()
}

func (fq *frameQueue) pop() []int16 {
	fq.mu.Lock()
	defer fq.mu.Unlock()
	if len(fq.q) == 0 {
		return nil
	}
	f := fq.q[0]
	fq.q[0] = nil
	fq.q = fq.q[1:]
	return f
}

// converter resamples between the mix rate and a leg's rate.
type converter struct {
	in, out *audio.Resampler // leg → mix, mix → leg; nil when the rates are equal
}

func newConverter(legRate, mixRate int) (converter, error) {
	if legRate == mixRate {
		return converter{}, nil
	}
	in, err := audio.NewResampler(legRate, mixRate)
	if err != nil {
		return converter{}, err
	}
	out, err := audio.NewResampler(mixRate, legRate)
	if err != nil {
		return converter{}, err
	}
	return converter{in: in, out: out}, nil
}

func convert(r *audio.Resampler, pcm []int16, n int) []int16 {
	if r == nil {
		return pcm
	}
	out := r.Process(make([]int16, 0, r.OutLen(len(pcm))), pcm)
	// Keep exactly one frame per tick: pad or trim the filter's rounding.
	if len(out) < n {
		out = append(out, make([]int16, n-len(out))...)
	}
	return out[:n]
}

// rtpLeg is ExternalMedia rtp/udp: one UDP socket on MediaHost, exchanging RTP with external_host.
type rtpLeg struct {
	s        *Server
	conn     *net.UDPConn
	remote   *net.UDPAddr
	remoteAP netip.AddrPort
	out      []byte // the packet send prepared for flush
	pt       byte
	rate     int
	size     int // payload bytes per 20 ms
	conv     converter
	fq       frameQueue
	once     sync.Once

	// sender state, guarded by Server.mu
	ssrc    uint32
	seq     uint16
	tsBase  uint32
	talking bool
}

func (s *Server) newRTPLeg(format string, remote *net.UDPAddr) (mediaLeg, *httpError) {
	l := &rtpLeg{s: s, remote: remote, remoteAP: remote.AddrPort(), ssrc: rand.Uint32(), seq: uint16(rand.Uint32()), tsBase: rand.Uint32()}
	switch format {
	case "ulaw":
		l.pt, l.rate, l.size = 0, 8000, 160
	case "alaw":
		l.pt, l.rate, l.size = 8, 8000, 160
	case "slin16":
		l.pt, l.rate, l.size = 118, 16000, 640
	default:
		return nil, errf(http.StatusBadRequest, "Unsupported format %q for rtp (simulated: ulaw, alaw, slin16)", format)
	}
	conv, err := newConverter(l.rate, s.cfg.Rate)
	if err != nil {
		return nil, errf(http.StatusInternalServerError, "aritest: %v", err)
	}
	l.conv = conv
	l.out = make([]byte, 12, 12+l.size)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(s.cfg.MediaHost)})
	if err != nil {
		return nil, errf(http.StatusInternalServerError, "aritest: rtp socket: %v", err)
	}
	l.conn = conn
	return l, nil
}

func (l *rtpLeg) localAddr() *net.UDPAddr { return l.conn.LocalAddr().(*net.UDPAddr) }

func (l *rtpLeg) start(s *Server, _ *channel) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		l.read()
	}()
}

// read accepts RTP from external_host until the socket closes.
func (l *rtpLeg) read() {
	buf := make([]byte, 1500)
	var pcm []int16
	for {
		n, from, err := l.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !from.IP.Equal(l.remote.IP) || from.Port != l.remote.Port {
			l.s.stats.rtpBadSource.Add(1)
			continue
		}
		pt, payload, ok := parseRTP(buf[:n])
		if !ok {
			l.s.stats.rtpMalformed.Add(1)
			continue
		}
		if pt > 34 {
			// As Asterisk's chan_rtp: an ExternalMedia channel has no SDP, so its receive payload map is empty and
			// only the static payload types (0-34) are looked up (ast_rtp_codecs_get_payload): slin16's dynamic 118
			// is dropped unseen, although Asterisk itself sends slin16 with it.
			l.s.stats.rtpDynamic.Add(1)
			continue
		}
		if pt != l.pt || len(payload) != l.size {
			l.s.stats.rtpBadType.Add(1)
			continue
		}
		switch l.pt {
		case 0:
			pcm = audio.DecodeULaw(pcm[:0], payload)
		case 8:
			pcm = audio.DecodeALaw(pcm[:0], payload)
		default:
			pcm = audio.PCM16BE(pcm[:0], payload) // slin is big-endian on the wire
		}
		frame := convert(l.conv.in, pcm, l.s.cfg.Rate/50)
		if l.conv.in == nil {
			frame = append([]int16(nil), pcm...)
		}
		l.fq.push(l.s, frame)
		l.s.stats.rtpIn.Add(1)
	}
}

// parseRTP validates an RTP packet (RFC 3550 §5.1) and returns its payload type and payload.
func parseRTP(b []byte) (pt byte, payload []byte, ok bool) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return 0, nil, false
	}
	hdr := 12 + 4*int(b[0]&0x0f)
	if len(b) < hdr {
		return 0, nil, false
	}
	if b[0]&0x10 != 0 { // header extension
		if len(b) < hdr+4 {
			return 0, nil, false
		}
		hdr += 4 + 4*int(binary.BigEndian.Uint16(b[hdr+2:]))
		if len(b) < hdr {
			return 0, nil, false
		}
	}
	end := len(b)
	if b[0]&0x20 != 0 { // padding
		pad := int(b[end-1])
		if pad == 0 || end-pad < hdr {
			return 0, nil, false
		}
		end -= pad
	}
	return b[1] & 0x7f, b[hdr:end], true
}

func (l *rtpLeg) pop() []int16 { return l.fq.pop() }

func (l *rtpLeg) silent() { l.talking = false }

func (l *rtpLeg) send(pcm []int16) {
	pcm = convert(l.conv.out, pcm, l.rate/50)
	pkt := l.out[:12]
	pkt[0] = 0x80
	pkt[1] = l.pt
	if !l.talking {
		pkt[1] |= 0x80 // marker: first packet of a talk spurt
		l.talking = true
	}
	l.seq++
	binary.BigEndian.PutUint16(pkt[2:], l.seq)
	// The timestamp follows the clock through silences, as Asterisk's does.
	binary.BigEndian.PutUint32(pkt[4:], l.tsBase+uint32(l.s.ticks)*uint32(l.rate/50))
	binary.BigEndian.PutUint32(pkt[8:], l.ssrc)
	switch l.pt {
	case 0:
		pkt = append(pkt, make([]byte, len(pcm))...)
		audio.EncodeULaw(pkt[12:], pcm)
	case 8:
		pkt = append(pkt, make([]byte, len(pcm))...)
		audio.EncodeALaw(pkt[12:], pcm)
	default:
		pkt = audio.AppendPCM16BE(pkt, pcm)
	}
	l.out = pkt
}

func (l *rtpLeg) flush() {
	if _, err := l.conn.WriteToUDPAddrPort(l.out, l.remoteAP); err == nil {
		l.s.stats.rtpOut.Add(1)
	}
}

func (l *rtpLeg) close() { l.once.Do(func() { _ = l.conn.Close() }) }

// AudioSocket message kinds (pbx-protocols.md §1).
const (
	asHangup = 0x00
	asUUID   = 0x01
	asDTMF   = 0x03
	asSlin8  = 0x10
	asError  = 0xff
)

// audioSocketLeg is ExternalMedia audiosocket/tcp: the simulator connects to external_host, sends the UUID, then
// exchanges slin frames (little-endian) both ways; it closes the connection at hang-up.
type audioSocketLeg struct {
	s    *Server
	ch   *channel
	conn net.Conn
	kind byte
	rate int
	conv converter
	fq   frameQueue
	once sync.Once
	out  []byte // the message send prepared for flush
}

// audioSocketKinds maps formats to AudioSocket audio message kinds and rates.
var audioSocketKinds = map[string]struct {
	kind byte
	rate int
}{
	"slin": {0x10, 8000}, "slin12": {0x11, 12000}, "slin16": {0x12, 16000}, "slin24": {0x13, 24000},
	"slin32": {0x14, 32000}, "slin44": {0x15, 44100}, "slin48": {0x16, 48000}, "slin96": {0x17, 96000},
	"slin192": {0x18, 192000},
}

func (s *Server) newAudioSocketLeg(format, host, uuid string) (mediaLeg, *httpError) {
	id, ok := parseUUID(uuid)
	if !ok {
		return nil, errf(http.StatusBadRequest, "data must be a UUID for the audiosocket encapsulation, got %q", uuid)
	}
	k, ok := audioSocketKinds[format]
	if !ok {
		return nil, errf(http.StatusBadRequest, "Unsupported format %q for audiosocket (want slin, slin16, ...)", format)
	}
	conv, err := newConverter(k.rate, s.cfg.Rate)
	if err != nil {
		return nil, errf(http.StatusBadRequest, "Unsupported format %q for audiosocket: %v", format, err)
	}
	conn, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		return nil, errf(http.StatusInternalServerError, "Failed to connect AudioSocket to %s: %v", host, err)
	}
	msg := append([]byte{asUUID, 0, 16}, id[:]...)
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write(msg); err != nil {
		_ = conn.Close()
		return nil, errf(http.StatusInternalServerError, "AudioSocket handshake with %s: %v", host, err)
	}
	return &audioSocketLeg{s: s, conn: conn, kind: k.kind, rate: k.rate, conv: conv}, nil
}

// parseUUID parses the canonical 8-4-4-4-12 hex form.
func parseUUID(s string) (id [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, false
	}
	hex := strings.ReplaceAll(s, "-", "")
	for i := range 16 {
		hi, ok1 := unhex(hex[2*i])
		lo, ok2 := unhex(hex[2*i+1])
		if !ok1 || !ok2 {
			return id, false
		}
		id[i] = hi<<4 | lo
	}
	return id, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func (l *audioSocketLeg) localAddr() *net.UDPAddr { return nil }

func (l *audioSocketLeg) start(s *Server, ch *channel) {
	l.ch = ch
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		l.read()
	}()
}

// read takes the app's messages until the connection ends; a hangup message or a lost connection hangs the
// channel up.
func (l *audioSocketLeg) read() {
	var hdr [3]byte
	payload := make([]byte, 0, 4096)
	var pcm []int16
	for {
		if _, err := io.ReadFull(l.conn, hdr[:]); err != nil {
			l.s.legGone(l.ch)
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[1:]))
		payload = payload[:n]
		if n > cap(payload) {
			payload = make([]byte, n)
		}
		if _, err := io.ReadFull(l.conn, payload); err != nil {
			l.s.legGone(l.ch)
			return
		}
		switch k := hdr[0]; {
		case k == asHangup:
			l.s.legGone(l.ch)
			return
		case k == l.kind:
			if n%2 != 0 {
				l.s.stats.rtpMalformed.Add(1)
				continue
			}
			pcm = audio.PCM16LE(pcm[:0], payload) // AudioSocket slin is little-endian
			want := l.s.cfg.Rate / 50
			// Cut into 20 ms frames at the mix rate; apps may send other sizes.
			conv := convert(l.conv.in, pcm, len(pcm)*l.s.cfg.Rate/l.rate)
			if l.conv.in == nil {
				conv = append([]int16(nil), pcm...)
			}
			for len(conv) > 0 {
				f := conv[:min(want, len(conv))]
				conv = conv[len(f):]
				if len(f) < want {
					f = append(f, make([]int16, want-len(f))...)
				}
				l.s.stats.asIn.Add(1)
				l.fq.push(l.s, f)
			}
		case k == asDTMF, k == asUUID, k == asError:
			// Accepted and ignored: the simulator has no use for them.
		default:
			l.s.stats.rtpBadType.Add(1)
		}
	}
}

func (l *audioSocketLeg) pop() []int16 { return l.fq.pop() }

func (l *audioSocketLeg) silent() {}

func (l *audioSocketLeg) send(pcm []int16) {
	pcm = convert(l.conv.out, pcm, l.rate/50)
	msg := append(l.out[:0], l.kind, 0, 0)
	binary.BigEndian.PutUint16(msg[1:], uint16(2*len(pcm)))
	l.out = audio.AppendPCM16LE(msg, pcm)
}

func (l *audioSocketLeg) flush() {
	_ = l.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := l.conn.Write(l.out); err == nil {
		l.s.stats.asOut.Add(1)
	}
}

func (l *audioSocketLeg) close() { l.once.Do(func() { _ = l.conn.Close() }) }

// legGone hangs up ch after its media connection ended.
func (s *Server) legGone(ch *channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || ch == nil || ch.gone {
		return
	}
	s.destroy(ch, 16, true, false)
}
