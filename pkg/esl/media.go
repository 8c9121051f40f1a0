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

// media is one call's audio over mod_audio_stream's WebSocket: L16 frames in (the callee), L16 frames out (the
// bot, paced by the playout clock) in MediaStream mode, or the bot's audio as uuid_broadcast segments in
// MediaBroadcast mode.
type media struct {
	d      *Driver
	id     string
	format audio.Format
	stream *audio.Stream // MediaStream; nil in MediaBroadcast mode
	bc     *broadcast    // MediaBroadcast; nil in MediaStream mode

	in        chan []int16 // callee frames of exactly 20 ms, oldest first
	out       chan []byte  // bot frames for the socket writer
	connected chan struct{}
	closed    chan struct{}
	connOnce  sync.Once
	closeOnce sync.Once

	mu sync.Mutex
	ws *websocket.Conn

	next time.Time // Read's schedule: when the next frame is due; used by Read's caller goroutine only

	inDropped  atomic.Uint64 // callee frames dropped because Read fell behind
	outDropped atomic.Uint64 // bot frames dropped because the socket writer fell behind
}

var _ call.Media = (*media)(nil)

// Format returns the call's media format (DriverConfig.Format).
func (m *media) Format() audio.Format { return m.format }

// Read returns the callee's next 20 ms frame. When a frame is more than ReadSlack late, Read returns silence on
// time instead, so a gap in the stream never stalls the bot. It returns call.ErrHungUp once the call's media ends.
func (m *media) Read(ctx context.Context) (audio.Frame, error) {
	now := time.Now()
	if m.next.IsZero() || now.Sub(m.next) > 200*time.Millisecond {
		m.next = now // first Read, or the reader itself was away: restart the schedule
	}
	select {
	case s := <-m.in:
		m.next = m.next.Add(audio.FrameDuration)
		return audio.Frame{Rate: m.format.Rate, Samples: s}, nil
	case <-m.closed:
		return audio.Frame{}, fmt.Errorf("esl: read: %w", call.ErrHungUp)
	default:
	}
	t := time.NewTimer(time.Until(m.next.Add(m.d.cfg.ReadSlack)))
	defer t.Stop()
	select {
	case s := <-m.in:
		m.next = m.next.Add(audio.FrameDuration)
		return audio.Frame{Rate: m.format.Rate, Samples: s}, nil
	case <-t.C:
		m.next = m.next.Add(audio.FrameDuration)
		return audio.Frame{Rate: m.format.Rate, Samples: make([]int16, m.format.FrameSamples())}, nil
	case <-m.closed:
		return audio.Frame{}, fmt.Errorf("esl: read: %w", call.ErrHungUp)
	case <-ctx.Done():
		return audio.Frame{}, ctx.Err()
	}
}

// Write queues f for the callee. In MediaStream mode frames are paced by the playout clock and Write blocks
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
// In MediaStream mode audio goes out at the pace it plays, so FreeSWITCH holds at most a frame or two beyond
// this: no uuid_break needed. In MediaBroadcast mode Flush sends `uuid_break <uuid> all`, which stops the
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

// readLoop cuts the incoming L16 stream into 20 ms frames. When Read falls behind the oldest frame is dropped.
func (m *media) readLoop(ctx context.Context, ws *websocket.Conn) {
	n := m.format.FrameSamples()
	var acc []int16
	var odd []byte
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
		acc = append(acc, audio.PCM16LE(nil, b)...)
		for len(acc) >= n {
			f := make([]int16, n)
			copy(f, acc)
			acc = append(acc[:0], acc[n:]...)
			select {
			case m.in <- f:
			default:
				select {
				case <-m.in:
					m.inDropped.Add(1)
				default:
				}
				select {
				case m.in <- f:
				default:
					m.inDropped.Add(1)
				}
			}
		}
	}
}

// MediaStats counts one call's frames. The Media of a Driver's call has a Stats method returning it:
//
//	if s, ok := c.Media().(interface{ Stats() esl.MediaStats }); ok { ... }
type MediaStats struct {
	InDropped  uint64            // callee frames dropped because Read fell more than 500 ms behind
	OutDropped uint64            // bot frames dropped because the WebSocket writer fell behind
	Playout    audio.StreamStats // MediaStream: the playout-clock stream: frames queued, sent, flushed
	Broadcasts uint64            // MediaBroadcast: segments played with uuid_broadcast
	Breaks     uint64            // MediaBroadcast: uuid_break commands sent by Flush
	Fetches    uint64            // MediaBroadcast: segment downloads served to FreeSWITCH
}

// Stats returns the call's frame counters.
func (m *media) Stats() MediaStats {
	s := MediaStats{InDropped: m.inDropped.Load(), OutDropped: m.outDropped.Load()}
	if m.stream != nil {
		s.Playout = m.stream.Stats()
	}
	if m.bc != nil {
		s.Broadcasts, s.Breaks, s.Fetches = m.bc.broadcasts.Load(), m.bc.breaks.Load(), m.bc.fetches.Load()
	}
	return s
}

// holdableMedia is a call's media in stream mode, where the bot's frames queue on the playout clock: a
// call.Holder. (In broadcast mode the audio is already with FreeSWITCH; barge-in there is uuid_break.)
type holdableMedia struct{ *media }

var _ call.Holder = holdableMedia{}

// Hold implements call.Holder.
func (m holdableMedia) Hold() { m.stream.Hold() }

// Release implements call.Holder.
func (m holdableMedia) Release() { m.stream.Release() }
