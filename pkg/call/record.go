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
// When c's Media is a Holder, so is the recorded one: a hold delays the bot's queued audio in the recording by as
// long as it lasted, as it delayed it for the callee.
func Recorded(c Call, rec *audio.Recorder) Call {
	rc := &recordedCall{Call: c, media: &recordedMedia{Media: c.Media(), rec: rec}}
	if h, ok := c.Media().(Holder); ok {
		rc.media.holder = h
		rc.outer = recordedHolder{rc.media}
	} else {
		rc.outer = rc.media
	}
	return rc
}

type recordedCall struct {
	Call
	media *recordedMedia
	outer Media // media, as a Holder when the call's media is one
}

func (c *recordedCall) Media() Media { return c.outer }

// recordedHolder is a recordedMedia over a Holder.
type recordedHolder struct{ *recordedMedia }

// Hold implements Holder.
func (m recordedHolder) Hold() { m.hold() }

// Release implements Holder.
func (m recordedHolder) Release() { m.release() }

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

	holder Holder        // the call's media as a Holder; nil when it is not one
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

func (m *recordedMedia) Read(ctx context.Context) (audio.Frame, error) {
	f, err := m.Media.Read(ctx)
	if err != nil {
		m.commit(time.Duration(1 << 62))
		return f, err
	}
	m.mu.Lock()
	at := m.heard
	m.heard += f.Duration()
	now := m.heard
	m.mu.Unlock()
	_ = m.rec.Callee(at, f)
	m.commit(now)
	return f, nil
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
