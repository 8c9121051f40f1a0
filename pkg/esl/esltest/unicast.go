package esltest

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// unicast is a channel's `sendmsg` call-command unicast, as src/switch_ivr.c runs it: a UDP socket bound on
// local-ip:local-port; one datagram per frame read (L16 little-endian at the channel's read rate, or the codec's
// bytes with flags native; comfort noise as decoded-size 0xFF bytes) sent to remote-ip:remote-port; every
// datagram received, from any source, written into the call as one frame, unpaced.
type unicast struct {
	conn   *net.UDPConn
	remote *net.UDPAddr
	native bool
	done   chan struct{}
}

// unicastQueue is how much bot audio the fake keeps for the callee (the channel's write path): 200 ms. A sender
// that does not pace itself overruns it and loses audio, as it garbles the call on FreeSWITCH.
const unicastQueue = 10

// loopbackQueue is mod_loopback's FRAME_QUEUE_LEN: a loopback channel queues at most 3 frames for its other leg.
// The write of a 4th clears the whole queue and then queues the new frame, and the other leg's read takes one
// frame per 20 ms timer tick, comfort noise when the queue is empty (mod_loopback.c). So a burst of 4 or more
// frames arriving back to back on a loopback call loses all but the last of them.
const loopbackQueue = 3

// codecName is the read codec of a channel at the fake's CodecRate.
func (s *Server) codecName() string {
	switch s.cfg.CodecRate {
	case 8000:
		return "PCMU"
	case 16000:
		return "G722"
	case 48000:
		return "opus"
	}
	return "L16"
}

// startUnicast handles `sendmsg` call-command unicast. FreeSWITCH replies +OK whatever happens: the command is
// queued to the channel, and a bind failure is only logged there.
func (s *Server) startUnicast(c *fsCall, h map[string]string) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(h[k]); v != "" {
			return v
		}
		return def
	}
	localIP, localPort := get("local-ip", "127.0.0.1"), get("local-port", "8025")
	remoteIP, remotePort := get("remote-ip", "127.0.0.1"), get("remote-port", "8026")
	transport, flags := get("transport", "udp"), h["flags"]
	s.mu.Lock()
	c.rec.UnicastRequests++
	parked := c.parkedLocked()
	nomedia := c.rec.Vars["bypass_media"] == "true"
	s.mu.Unlock()
	if !parked {
		// The park loop is what acts on it: a channel running anything else never starts unicast.
		s.log.Warn().Str("call", c.rec.ID).Msg("esltest: unicast on a channel that is not parked: nothing happens")
		return
	}
	if transport != "udp" && transport != "tcp" {
		s.log.Error().Str("call", c.rec.ID).Str("transport", transport).Msg("esltest: unicast: invalid transport")
		return
	}
	la, err1 := net.ResolveUDPAddr("udp4", net.JoinHostPort(localIP, localPort))
	ra, err2 := net.ResolveUDPAddr("udp4", net.JoinHostPort(remoteIP, remotePort))
	if err := errors.Join(err1, err2); err != nil {
		s.log.Error().Err(err).Str("call", c.rec.ID).Msg("esltest: Failure creating unicast connection")
		return
	}
	conn, err := net.ListenUDP("udp4", la) // FreeSWITCH binds a datagram socket for tcp too
	if err != nil {
		s.log.Error().Err(err).Str("call", c.rec.ID).Msg("esltest: Failure creating unicast connection " +
			localIP + ":" + localPort + "->" + remoteIP + ":" + remotePort)
		s.mu.Lock()
		c.rec.UnicastFailures++
		s.mu.Unlock()
		return
	}
	u := &unicast{conn: conn, remote: ra, native: strings.Contains(flags, "native"), done: make(chan struct{})}
	c.amu.Lock()
	// The park loop keeps the connection it launched first: a later one is bound and never used. Without media
	// the park loop reads no frames, so nothing is sent or received. Either way the socket stays bound until the
	// channel goes.
	if c.uc != nil || c.ctx.Err() != nil || nomedia {
		c.amu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			<-c.ctx.Done()
			_ = conn.Close()
		}()
		return
	}
	c.uc = u
	c.amu.Unlock()
	s.mu.Lock()
	c.rec.Unicast = localIP + ":" + localPort + "->" + remoteIP + ":" + remotePort
	s.mu.Unlock()
	s.wg.Add(1)
	go s.unicastRecv(c, u)
}

// unicastRecv writes what arrives into the call, one datagram a frame.
func (s *Server) unicastRecv(c *fsCall, u *unicast) {
	defer s.wg.Done()
	defer close(u.done)
	buf := make([]byte, 8192)
	first := true
	for {
		n, _, err := u.conn.ReadFromUDP(buf)
		if err != nil || n == 0 {
			return
		}
		if first {
			// As FreeSWITCH 1.10.12: the first frame received on a new unicast connection never reaches the
			// call (seen through loopback and echo).
			first = false
			s.mu.Lock()
			c.rec.UnicastLost++
			s.mu.Unlock()
			continue
		}
		var pcm []int16
		if u.native && s.cfg.CodecRate == 8000 {
			pcm = audio.DecodeULaw(nil, buf[:n])
		} else {
			pcm = audio.PCM16LE(nil, buf[:n&^1])
		}
		c.amu.Lock()
		frame := s.cfg.CodecRate / 50
		keep, cleared := true, 0
		switch {
		case c.loopback && len(c.urx)+len(pcm) > loopbackQueue*frame:
			cleared = (len(c.urx) + frame - 1) / frame // clear_queue, then the push succeeds
			c.urx = append(c.urx[:0], pcm...)
		case c.loopback:
			c.urx = append(c.urx, pcm...)
		case len(c.urx)+len(pcm) <= unicastQueue*frame:
			c.urx = append(c.urx, pcm...)
		default:
			keep = false
		}
		c.amu.Unlock()
		select {
		case c.uin <- struct{}{}:
		default:
		}
		s.mu.Lock()
		c.rec.UnicastIn++
		c.rec.UnicastLastIn = time.Now()
		if !keep {
			c.rec.UnicastDropped++
		}
		c.rec.UnicastCleared += cleared
		s.mu.Unlock()
	}
}

// sendUnicast sends the callee's frame (at rate) as the park loop does: decoded to L16 at the channel's rate,
// comfort noise (no frame) as 0xFF bytes.
func (c *fsCall) sendUnicast(s *Server, f *audio.Frame, rate int) {
	c.amu.Lock()
	u := c.uc
	c.amu.Unlock()
	if u == nil {
		return
	}
	n := s.cfg.CodecRate / 50
	var b []byte
	if f == nil { // the far end sent nothing this packet time: comfort noise
		b = make([]byte, 2*n) // decoded_bytes_per_packet, even with flags native
		for i := range b {
			b[i] = 0xFF
		}
	} else {
		samples := f.Samples
		if rate != s.cfg.CodecRate {
			if c.ucRate == nil {
				c.ucRate, _ = audio.NewResampler(rate, s.cfg.CodecRate)
			}
			if c.ucRate != nil {
				samples = c.ucRate.Process(nil, samples)
			}
		}
		if u.native && s.cfg.CodecRate == 8000 {
			b = audio.EncodeULaw(nil, samples)
		} else {
			b = audio.AppendPCM16LE(nil, samples)
		}
	}
	if _, err := u.conn.WriteToUDP(b, u.remote); err == nil {
		s.mu.Lock()
		c.rec.UnicastOut++
		s.mu.Unlock()
	}
}

// unicastHeard takes one frame of the bot's unicast audio for the callee; nil when none.
func (c *fsCall) unicastHeard(rate int) *audio.Frame {
	c.amu.Lock()
	defer c.amu.Unlock()
	if c.uc == nil || len(c.urx) == 0 {
		c.uplay = false // underrun: buffer again before playing
		return nil
	}
	// A loopback leg plays what is queued, one frame a tick (loopbackQueue). Any other channel's write path
	// absorbs a frame of arrival jitter: start a run of audio once two frames are queued, so a datagram a little
	// late is not a gap.
	if !c.uplay && !c.loopback && len(c.urx) < 2*rate/50 {
		return nil
	}
	c.uplay = true
	n := min(len(c.urx), rate/50)
	f := &audio.Frame{Rate: rate, Samples: append([]int16(nil), c.urx[:n]...)}
	c.urx = append(c.urx[:0], c.urx[n:]...)
	return f
}

// unicastShort reports whether the bot's unicast audio is playing and its next frame has not arrived.
func (c *fsCall) unicastShort(rate int) bool {
	c.amu.Lock()
	defer c.amu.Unlock()
	return c.uc != nil && c.uplay && len(c.urx) < rate/50
}

// stopUnicast ends the park loop's unicast (hang-up, transfer, bridge): the socket is closed and nothing is said.
func (c *fsCall) stopUnicast() {
	c.amu.Lock()
	u := c.uc
	c.uc, c.urx = nil, nil
	c.amu.Unlock()
	if u != nil {
		_ = u.conn.Close()
		<-u.done
	}
}

// parkedLocked reports whether the channel sits in park (its app, not moved since). Called with s.mu held.
func (c *fsCall) parkedLocked() bool {
	app := strings.TrimSpace(c.rec.App)
	return (app == "&park()" || app == "&park" || app == "park") && c.rec.Transfer == "" || c.parked
}

// readRate is what `uuid_getvar <uuid> read_rate` answers: empty without media.
func (s *Server) readRate(c *fsCall) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.rec.Vars["bypass_media"] == "true" || c.rec.Answer.IsZero() {
		return ""
	}
	return strconv.Itoa(s.cfg.CodecRate)
}
