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
func Recorded(c Call, rec *audio.Recorder) Call {
	return &recordedCall{Call: c, media: &recordedMedia{Media: c.Media(), rec: rec}}
}

type recordedCall struct {
	Call
	media *recordedMedia
}

func (c *recordedCall) Media() Media { return c.media }

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
	m.mu.Unlock()
	for _, p := range commit {
		_ = m.rec.Bot(p.at, p.f)
	}
	return played
}

// commit records the pending bot frames that start before now.
func (m *recordedMedia) commit(now time.Duration) {
	m.mu.Lock()
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
