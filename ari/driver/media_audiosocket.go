package driver

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/audiosocket"
	"github.com/outcall/outcall/pkg/call"
)

// mediaAudioSocket is a call's media over ExternalMedia audiosocket/tcp: a reader goroutine decodes the
// connection's little-endian slin into a mediaRx; the playout clock hands the bot's frames to a writer goroutine so
// a slow TCP peer never blocks the clock.
type mediaAudioSocket struct {
	format audio.Format
	conn   *audiosocket.Conn
	rx     *audio.Receiver
	out    *audio.Playout
	wq     chan []int16
	closed atomic.Bool
	done   chan struct{}
	late   atomic.Uint64 // frames the writer could not take in time
}

var _ call.Media = (*mediaAudioSocket)(nil)

func newMediaAudioSocket(d *Driver, conn *audiosocket.Conn) (*mediaAudioSocket, error) {
	m := &mediaAudioSocket{
		format: d.format,
		conn:   conn,
		rx:     d.newRx(),
		wq:     make(chan []int16, 8),
		done:   make(chan struct{}),
	}
	out, err := d.group.NewPlayout(audio.PlayoutConfig{Depth: d.cfg.PlayoutDepth, Value: m})
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	m.out = out
	go m.readLoop(d.log)
	go m.writeLoop()
	return m, nil
}

func (m *mediaAudioSocket) readLoop(log zerolog.Logger) {
	var bad uint64
	var pcm []int16
	for {
		msg, err := m.conn.ReadMessage()
		if err != nil {
			// Asterisk closes the connection at hang-up; the call's events say why.
			m.rx.Close(call.ErrHungUp)
			return
		}
		switch {
		case msg.Kind.IsAudio():
			if msg.Kind.Rate() != m.format.Rate {
				if bad++; bad&(bad-1) == 0 {
					log.Warn().Stringer("kind", msg.Kind).Int("want", m.format.Rate).Msg("ari: AudioSocket audio at an unexpected rate; dropped")
				}
				continue
			}
			pcm = audio.PCM16LE(pcm, msg.Payload)
			m.rx.PushStream(pcm) // the jitter buffer copies the samples
		case msg.Kind == audiosocket.KindHangup:
			m.rx.Close(call.ErrHungUp)
			return
		case msg.Kind == audiosocket.KindError:
			log.Warn().Stringer("code", msg.ErrorCode()).Msg("ari: AudioSocket error message")
		}
		// DTMF (0x03) also arrives as ChannelDtmfReceived on the callee's channel, which the call reports.
	}
}

func (m *mediaAudioSocket) writeLoop() {
	for {
		select {
		case s := <-m.wq:
			if err := m.conn.WriteAudio(m.format.Rate, s); err != nil {
				m.rx.Close(call.ErrHungUp)
			}
		case <-m.done:
			return
		}
	}
}

// Format implements call.Media.
func (m *mediaAudioSocket) Format() audio.Format { return m.format }

// Read implements call.Media.
func (m *mediaAudioSocket) Read(ctx context.Context) (audio.Frame, error) { return m.rx.Read(ctx) }

// Write implements call.Media.
func (m *mediaAudioSocket) Write(ctx context.Context, f audio.Frame) error {
	return writeFrames(ctx, m.format, m.out, f)
}

// Flush implements call.Media.
func (m *mediaAudioSocket) Flush() time.Duration { return m.out.Flush() }

func (m *mediaAudioSocket) close(err error) {
	if m.closed.Swap(true) {
		m.rx.Close(err)
		return
	}
	m.out.Close()
	m.rx.Close(err)
	close(m.done)
	_ = m.conn.Close()
}

// asSender is the playout clock's BatchSender for AudioSocket calls: it passes each due frame to its call's
// writer goroutine without blocking.
type asSender struct{ log zerolog.Logger }

// SendBatch implements audio.BatchSender.
func (s *asSender) SendBatch(_ time.Time, out []audio.Outgoing) {
	for _, o := range out {
		m, ok := o.Playout.Value().(*mediaAudioSocket)
		if !ok || m.closed.Load() {
			continue
		}
		select {
		case m.wq <- o.Frame.Samples:
		default:
			m.late.Add(1)
		}
	}
}

// Caps implements call.Media: the playout clock holds the call's audio (it sends nothing until Release), and the
// callee's frames come paced on the receiver's channel.
func (m *mediaAudioSocket) Caps() call.Caps {
	return call.Caps{Holder: m.out, Frames: m.rx.Frames(), Watch: m.rx.Watch}
}
