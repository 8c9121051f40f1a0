package driver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/rtp"
)

// mediaRTP is a call's media over ExternalMedia rtp/udp on the driver's shared socket: the callee's packets are
// decoded on the transport's reader goroutine into a mediaRx; the bot's frames queue on a playout-clock stream
// that rtpSender turns into packets, all calls of a tick in one batch.
type mediaRTP struct {
	format audio.Format
	pt     uint8
	rx     *audio.Receiver
	stream *rtp.Peer
	out    *audio.Playout
	closed atomic.Bool

	pcm []int16 // decode scratch, owned by the transport's reader goroutine

	// owned by the clock goroutine (rtpSender)
	seq      *rtp.Sequencer
	lastTick time.Time
}

var _ call.Media = (*mediaRTP)(nil)

func newMediaRTP(d *Driver, remote netip.AddrPort) (*mediaRTP, error) {
	m := &mediaRTP{
		format: d.format,
		pt:     d.pt,
		rx:     d.newRx(),
		seq:    rtp.NewSequencer(d.pt),
	}
	st, err := d.rtp.Register(remote, d.pt, m.onPacket)
	if err != nil {
		return nil, err
	}
	out, err := d.group.NewPlayout(audio.PlayoutConfig{Depth: d.cfg.PlayoutDepth, Value: m})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	m.stream, m.out = st, out
	return m, nil
}

// onPacket runs on the transport's reader goroutine: decode and queue.
func (m *mediaRTP) onPacket(p *rtp.Packet) {
	if m.pt == 0 {
		m.pcm = audio.DecodeULaw(m.pcm, p.Payload)
	} else {
		if len(p.Payload)%2 != 0 {
			return
		}
		m.pcm = audio.PCM16BE(m.pcm, p.Payload) // slin is big-endian on the wire
	}
	m.rx.Push(p.SequenceNumber, p.Timestamp, m.pcm) // the jitter buffer copies the samples
}

// Format implements call.Media.
func (m *mediaRTP) Format() audio.Format { return m.format }

// Read implements call.Media.
func (m *mediaRTP) Read(ctx context.Context) (audio.Frame, error) { return m.rx.Read(ctx) }

// Write implements call.Media: frames of other lengths are cut or padded into 20 ms frames.
func (m *mediaRTP) Write(ctx context.Context, f audio.Frame) error {
	return writeFrames(ctx, m.format, m.out, f)
}

// Flush implements call.Media.
func (m *mediaRTP) Flush() time.Duration { return m.out.Flush() }

func (m *mediaRTP) close(err error) {
	if m.closed.Swap(true) {
		m.rx.Close(err)
		return
	}
	_ = m.stream.Close()
	m.out.Close()
	m.rx.Close(err)
}

// writeFrames queues f on out in 20 ms frames of format (the last padded with silence).
func writeFrames(ctx context.Context, format audio.Format, out *audio.Playout, f audio.Frame) error {
	if f.Rate != format.Rate {
		return fmt.Errorf("%w: frame at %d Hz, media at %d Hz", ErrMediaFormat, f.Rate, format.Rate)
	}
	n := format.FrameSamples()
	for s := f.Samples; len(s) > 0; {
		var chunk []int16
		if len(s) == n && len(f.Samples) == n {
			chunk = s // the common case: the caller's 20 ms frame, owned by the stream from now on
		} else {
			chunk = make([]int16, n)
			copy(chunk, s)
		}
		s = s[min(n, len(s)):]
		if err := out.Write(ctx, audio.Frame{Rate: format.Rate, Samples: chunk}); err != nil {
			if errors.Is(err, audio.ErrPlayoutClosed) || errors.Is(err, audio.ErrClockStopped) {
				return fmt.Errorf("ari: media write: %w", call.ErrHungUp)
			}
			return err
		}
	}
	return nil
}

// rtpSender is the playout clock's BatchSender for RTP calls: each tick it encodes every call's due frame and
// sends them all with one sendmmsg batch.
type rtpSender struct {
	t     *rtp.Transport
	arena []byte
	pkts  []rtp.Outgoing
	enc   []byte
}

// SendBatch implements audio.BatchSender.
func (s *rtpSender) SendBatch(tick time.Time, out []audio.Outgoing) {
	const maxPacket = rtp.HeaderSize + 640
	if need := len(out) * maxPacket; cap(s.arena) < need {
		s.arena = make([]byte, 0, need)
	}
	arena := s.arena[:0]
	s.pkts = s.pkts[:0]
	for _, o := range out {
		m, ok := o.Playout.Value().(*mediaRTP)
		if !ok || m.closed.Load() {
			continue
		}
		if !m.lastTick.IsZero() {
			if gap := tick.Sub(m.lastTick) - audio.FrameDuration; gap > 0 {
				m.seq.Skip(m.format.Samples(gap)) // idle ticks: keep the timestamp on the wall clock
			}
		}
		m.lastTick = tick
		if m.pt == 0 {
			s.enc = audio.EncodeULaw(s.enc[:0], o.Frame.Samples)
		} else {
			s.enc = audio.AppendPCM16BE(s.enc[:0], o.Frame.Samples) // big-endian on the wire
		}
		if len(s.enc) > 640 {
			continue // not a 20 ms frame of this format; Write never queues one
		}
		start := len(arena)
		arena = m.seq.Append(arena, s.enc, len(o.Frame.Samples))
		s.pkts = append(s.pkts, rtp.Outgoing{Peer: m.stream, Data: arena[start:len(arena):len(arena)]})
	}
	if len(s.pkts) > 0 {
		_, _ = s.t.SendBatch(s.pkts) // errors are counted by the transport
	}
	clear(s.pkts)
}

// Caps implements call.Media: the playout clock holds the call's audio (it sends nothing until Release), and the
// callee's frames come paced on the receiver's channel.
func (m *mediaRTP) Caps() call.Caps {
	return call.Caps{Holder: m.out, Frames: m.rx.Frames(), Watch: m.rx.Watch}
}
