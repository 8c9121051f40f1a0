package esl

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
)

// media is one call's audio. The callee's frames arrive (over unicast UDP, or mod_audio_stream's WebSocket) into
// an audio.Receiver that the driver's Pacer pops on the playout clock's ticks. The bot's frames go out paced by the
// playout clock, over unicast UDP (MediaUnicast) or the WebSocket (MediaStream), or as uuid_broadcast segments
// (MediaBroadcast).
type media struct {
	d      *Driver
	id     string
	format audio.Format
	mode   MediaMode
	rx     *audio.Receiver // the callee's frames, paced
	stream *audio.Playout  // MediaUnicast, MediaStream; nil in MediaBroadcast mode
	bc     *broadcast      // MediaBroadcast; nil otherwise

	uc        *unicastLeg // MediaUnicast, once started
	ucRelease func()      // unregisters uc and gives its ports back; nil until started

	out       chan []byte // bot frames for the socket writer (MediaStream)
	connected chan struct{}
	closed    chan struct{}
	connOnce  sync.Once
	closeOnce sync.Once

	mu sync.Mutex
	ws *websocket.Conn

	outDropped atomic.Uint64 // bot frames dropped because the socket writer fell behind
	streamSent atomic.Uint64 // MediaStream: bot frames handed to the WebSocket writer
	acked      atomic.Bool   // MediaStream: the module said it plays what we send (mod_audio_stream::play)
}

var _ call.Media = (*media)(nil)

// Format returns the call's media format (DriverConfig.Format).
func (m *media) Format() audio.Format { return m.format }

// Read returns the callee's next 20 ms frame, on time: a frame that is late by more than ReadSlack is concealed
// (then silence), so a gap never stalls the bot. It returns call.ErrHungUp once the call's media ends.
func (m *media) Read(ctx context.Context) (audio.Frame, error) { return m.rx.Read(ctx) }

// Caps implements call.Media: the callee's frames, paced by the driver's playout clock (no goroutine or timer of
// the call's own), and, in unicast and stream mode, where the bot's frames queue on the playout clock, a Holder.
// (In broadcast mode the audio is already with FreeSWITCH; barge-in there is uuid_break.)
func (m *media) Caps() call.Caps {
	c := call.Caps{Frames: m.rx.Frames(), Watch: m.rx.Watch}
	if m.bc == nil && m.stream != nil {
		c.Holder = m.stream
	}
	return c
}

// Write queues f for the callee. In MediaUnicast and MediaStream mode frames are paced by the playout clock and Write blocks
// while 200 ms are queued; in MediaBroadcast mode frames gather into segments played with uuid_broadcast and
// Write blocks while it runs more than DriverConfig.Segment + 200 ms ahead of the estimated playback.
func (m *media) Write(ctx context.Context, f audio.Frame) error {
	if f.Rate != m.format.Rate {
		return fmt.Errorf("esl: write %d Hz frame on a %d Hz call: %w", f.Rate, m.format.Rate, ErrFormat)
	}
	select {
	case <-m.closed:
		return fmt.Errorf("esl: write: %w", call.ErrHungUp)
	default:
	}
	if m.bc != nil {
		return m.bc.write(ctx, f)
	}
	if m.stream == nil {
		return fmt.Errorf("esl: write: %w", call.ErrHungUp)
	}
	if err := m.stream.Write(ctx, f); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("esl: write: %w (%w)", call.ErrHungUp, err)
	}
	return nil
}

// Flush drops the bot audio not yet sent (barge-in) and returns how much the callee got since the last Flush.
// In MediaUnicast and MediaStream mode audio goes out at the pace it plays, and FreeSWITCH writes each frame into
// the call as it arrives (unicast keeps no queue of its own), so nothing beyond this is left to stop: no
// uuid_break needed. In MediaBroadcast mode Flush sends `uuid_break <uuid> all`, which stops the
// playing segment and discards the queued ones, and estimates what played from the broadcasts' timing; a failed
// uuid_break is logged and returned by the next Write.
func (m *media) Flush() time.Duration {
	if m.bc != nil {
		return m.bc.flush()
	}
	if m.stream == nil {
		return 0
	}
	played := m.stream.Flush()
	for {
		select {
		case b := <-m.out:
			played -= m.format.Duration(len(b) / 2)
		default:
			return max(played, 0)
		}
	}
}

func (m *media) close() {
	m.closeOnce.Do(func() {
		close(m.closed)
		m.rx.Close(fmt.Errorf("esl: read: %w", call.ErrHungUp))
		if m.ucRelease != nil {
			m.ucRelease()
		}
		if m.stream != nil {
			m.stream.Close()
		}
		if m.bc != nil {
			m.bc.close()
		}
		m.mu.Lock()
		ws := m.ws
		m.mu.Unlock()
		if ws != nil {
			_ = ws.CloseNow()
		}
	})
}

// serveStream accepts mod_audio_stream's connection for /stream/{id}.
func (d *Driver) serveStream(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d.mu.Lock()
	m := d.sessions[id]
	d.mu.Unlock()
	if m == nil {
		http.Error(w, "no such call", http.StatusNotFound)
		return
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	m.mu.Lock()
	dup := m.ws != nil
	if !dup {
		m.ws = ws
	}
	m.mu.Unlock()
	if dup {
		_ = ws.Close(websocket.StatusPolicyViolation, "stream already connected")
		return
	}
	select {
	case <-m.closed:
		_ = ws.CloseNow()
		return
	default:
	}
	m.connOnce.Do(func() { close(m.connected) })
	ctx, cancel := context.WithCancel(d.ctx)
	defer cancel()
	go func() {
		select {
		case <-m.closed:
		case <-ctx.Done():
		}
		cancel()
	}()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for {
			select {
			case b := <-m.out:
				if err := ws.Write(ctx, websocket.MessageBinary, b); err != nil {
					cancel()
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	m.readLoop(ctx, ws)
	cancel()
	<-writerDone
	_ = ws.CloseNow()
}

// readLoop feeds the incoming L16 stream to the receive side, which cuts it into 20 ms frames.
func (m *media) readLoop(ctx context.Context, ws *websocket.Conn) {
	var odd []byte
	var pcm []int16
	for {
		typ, b, err := ws.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageBinary {
			continue // mod_audio_stream's JSON messages are informational here
		}
		if len(odd) > 0 {
			b = append(odd, b...)
			odd = nil
		}
		if len(b)%2 == 1 {
			odd = []byte{b[len(b)-1]}
			b = b[:len(b)-1]
		}
		pcm = audio.PCM16LE(pcm[:0], b)
		m.rx.PushStream(pcm) // copied by the jitter buffer
	}
}

// MediaStats counts one call's frames. The Media of a Driver's call has a Stats method returning it:
//
//	if s, ok := c.Media().(interface{ Stats() esl.MediaStats }); ok { ... }
type MediaStats struct {
	InDropped  uint64             // callee frames dropped because the consumer fell more than a second behind
	Jitter     audio.JitterStats  // the callee's frames through the receive jitter buffer
	OutDropped uint64             // bot frames dropped because the WebSocket writer fell behind
	Datagrams  uint64             // MediaUnicast: datagrams received from FreeSWITCH
	CNG        uint64             // MediaUnicast: of which comfort-noise filler (0xFF bytes), heard as silence
	Playout    audio.PlayoutStats // MediaUnicast, MediaStream: the playout-clock stream: frames queued, sent, flushed
	Broadcasts uint64             // MediaBroadcast: segments played with uuid_broadcast
	Breaks     uint64             // MediaBroadcast: uuid_break commands sent by Flush
	Fetches    uint64             // MediaBroadcast: segment downloads served to FreeSWITCH
}

// Stats returns the call's frame counters.
func (m *media) Stats() MediaStats {
	s := MediaStats{InDropped: m.rx.Overflows(), Jitter: m.rx.Stats(), OutDropped: m.outDropped.Load()}
	if m.uc != nil {
		s.Datagrams, s.CNG = m.uc.datagrams.Load(), m.uc.cng.Load()
	}
	if m.stream != nil {
		s.Playout = m.stream.Stats()
	}
	if m.bc != nil {
		s.Broadcasts, s.Breaks, s.Fetches = m.bc.broadcasts.Load(), m.bc.breaks.Load(), m.bc.fetches.Load()
	}
	return s
}
