package call

import (
	"context"
	"sync"
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// Recorded returns c with its media recorded in stereo into rec (callee left, bot right) from the library's own media
// path, so recording works the same on any PBX. rec's rate must be c.Media().Format().Rate.
//
// Alignment: the callee's frames are placed at their position in the stream Read returns (20 ms each, on time). A
// bot frame is placed where the playout queue sends it and is committed to the recording once the call's timeline
// has passed it; a Flush (barge-in) drops what was queued but not played, so the recording holds what the callee
// actually heard.
//
// The recorded media keeps the capabilities of c's (Media.Caps). With a Holder, a hold delays the bot's queued
// audio in the recording by as long as it lasted, as it delayed it for the callee. With a frame channel and its
// Watch, the callee's frames are recorded as they are paced onto the channel, so a recorded call keeps the
// channel (and its consumer needs no goroutine to read it); a frame channel without Watch is not passed on, and
// the consumer reads with Read, which records.
func Recorded(c Call, rec *audio.Recorder) Call {
	m := &recordedMedia{Media: c.Media(), rec: rec}
	inner := m.Media.Caps()
	if inner.Holder != nil {
		m.holder = inner.Holder
		m.caps.Holder = recordedHold{m}
	}
	if inner.Frames != nil && inner.Watch != nil {
		m.watched = true
		inner.Watch(m.heardFrame)
		m.caps.Frames, m.caps.Watch = inner.Frames, m.setWatch
	}
	return &recordedCall{Call: c, media: m}
}

type recordedCall struct {
	Call
	media *recordedMedia
}

func (c *recordedCall) Media() Media { return c.media }

// recordedHold holds a recorded call's playout (Caps.Holder).
type recordedHold struct{ m *recordedMedia }

// Hold implements Holder.
func (h recordedHold) Hold() { h.m.hold() }

// Release implements Holder.
func (h recordedHold) Release() { h.m.release() }

// Hangup commits the bot audio still queued (it was sent before the call ended) and hangs up.
func (c *recordedCall) Hangup(ctx context.Context, cause Cause) error {
	c.media.commit(time.Duration(1 << 62))
	return c.Call.Hangup(ctx, cause)
}

type pendingFrame struct {
	at time.Duration
	f  audio.Frame
}

type recordedMedia struct {
	Media
	rec *audio.Recorder

	mu       sync.Mutex
	heard    time.Duration // callee audio read so far: the call's timeline
	segStart time.Duration // where the bot's current run of queued audio began
	queued   time.Duration // bot audio written since segStart
	pending  []pendingFrame

	caps    Caps              // what the recorded media offers: the call's media's, recorded
	holder  Holder            // the call's media's Holder; nil when it has none
	watched bool              // the callee's frames are recorded as they are paced (heardFrame), not in Read
	next    func(audio.Frame) // a watcher of the recorded media's own (Caps.Watch); nil: none

	held   bool          // on hold: queued bot audio is not playing
	heldAt time.Duration // timeline position where the hold began (or the last Flush during it)
}

func (m *recordedMedia) hold() {
	m.holder.Hold()
	m.mu.Lock()
	if !m.held {
		m.held, m.heldAt = true, m.heard
	}
	m.mu.Unlock()
}

// release shifts the bot audio still pending by the length of the hold: it plays that much later.
func (m *recordedMedia) release() {
	m.holder.Release()
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.held {
		return
	}
	m.held = false
	shift := m.heard - m.heldAt
	if shift <= 0 {
		return
	}
	for i := range m.pending {
		if m.pending[i].at >= m.heldAt {
			m.pending[i].at += shift
		}
	}
	m.segStart += shift
}

// Caps implements Media: the call's media's capabilities, recorded.
func (m *recordedMedia) Caps() Caps { return m.caps }

func (m *recordedMedia) Read(ctx context.Context) (audio.Frame, error) {
	f, err := m.Media.Read(ctx)
	if err != nil {
		m.commit(time.Duration(1 << 62))
		return f, err
	}
	if !m.watched {
		m.record(f)
	}
	return f, nil
}

// heardFrame records a callee frame as the call's media paces it (its Caps.Watch) and hands it to the recorded
// media's own watcher.
func (m *recordedMedia) heardFrame(f audio.Frame) {
	m.record(f)
	m.mu.Lock()
	next := m.next
	m.mu.Unlock()
	if next != nil {
		next(f)
	}
}

func (m *recordedMedia) setWatch(fn func(audio.Frame)) {
	m.mu.Lock()
	m.next = fn
	m.mu.Unlock()
}

// record places a callee frame at the end of the call's timeline and commits the bot audio played by then.
func (m *recordedMedia) record(f audio.Frame) {
	m.mu.Lock()
	at := m.heard
	m.heard += f.Duration()
	now := m.heard
	m.mu.Unlock()
	_ = m.rec.Callee(at, f)
	m.commit(now)
}

func (m *recordedMedia) Write(ctx context.Context, f audio.Frame) error {
	if err := m.Media.Write(ctx, f); err != nil {
		return err
	}
	m.mu.Lock()
	if end := m.segStart + m.queued; end < m.heard {
		// The queue ran dry since the last write: this frame starts a new run now.
		m.segStart, m.queued = m.heard, 0
	}
	at := m.segStart + m.queued
	m.queued += f.Duration()
	m.pending = append(m.pending, pendingFrame{at: at, f: audio.Frame{Rate: f.Rate, Samples: append([]int16(nil), f.Samples...)}})
	m.mu.Unlock()
	return nil
}

func (m *recordedMedia) Flush() time.Duration {
	played := m.Media.Flush()
	m.mu.Lock()
	cut := m.segStart + played
	keep := m.pending[:0]
	var commit []pendingFrame
	for _, p := range m.pending {
		if p.at < cut {
			commit = append(commit, p)
		}
	}
	m.pending = keep
	m.segStart, m.queued = cut, 0
	if cut < m.heard {
		m.segStart = m.heard
	}
	if m.held {
		m.heldAt = m.heard // nothing is pending: a release after this flush delays only what is written later
	}
	m.mu.Unlock()
	for _, p := range commit {
		_ = m.rec.Bot(p.at, p.f)
	}
	return played
}

// commit records the pending bot frames that start before now.
func (m *recordedMedia) commit(now time.Duration) {
	m.mu.Lock()
	if m.held && now < 1<<62 {
		now = min(now, m.heldAt) // held frames have not played
	}
	n := 0
	for n < len(m.pending) && m.pending[n].at < now {
		n++
	}
	done := append([]pendingFrame(nil), m.pending[:n]...)
	m.pending = append(m.pending[:0], m.pending[n:]...)
	m.mu.Unlock()
	for _, p := range done {
		_ = m.rec.Bot(p.at, p.f)
	}
}
