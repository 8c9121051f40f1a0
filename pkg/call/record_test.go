package call

import (
	"context"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// pacedMedia is a Media whose playout sends one queued frame per Read, as the real playout clock does every 20 ms.
type pacedMedia struct {
	queue  []audio.Frame
	played time.Duration
	sent   time.Duration
}

func (m *pacedMedia) Format() audio.Format { return audio.Narrowband }
func (m *pacedMedia) Caps() Caps           { return Caps{} }
func (m *pacedMedia) Read(context.Context) (audio.Frame, error) {
	if len(m.queue) > 0 {
		m.sent += m.queue[0].Duration()
		m.queue = m.queue[1:]
	}
	f := audio.Frame{Rate: 8000, Samples: make([]int16, 160)}
	for i := range f.Samples {
		f.Samples[i] = 100 // the callee's line is never digital silence
	}
	return f, nil
}
func (m *pacedMedia) Write(_ context.Context, f audio.Frame) error {
	m.queue = append(m.queue, f)
	return nil
}
func (m *pacedMedia) Flush() time.Duration {
	m.queue = nil
	p := m.sent
	m.sent = 0
	return p
}

type mediaCall struct {
	Call
	m Media
}

func (c mediaCall) Media() Media                        { return c.m }
func (c mediaCall) Hangup(context.Context, Cause) error { return nil }

func botFrame(v int16) audio.Frame {
	f := audio.Frame{Rate: 8000, Samples: make([]int16, 160)}
	for i := range f.Samples {
		f.Samples[i] = v
	}
	return f
}

func TestRecordedKeepsWhatTheCalleeHeard(t *testing.T) {
	rec, _ := audio.NewRecorder(8000)
	c := Recorded(mediaCall{m: &pacedMedia{}}, rec)
	m := c.Media()
	ctx := context.Background()
	for i := 0; i < 5; i++ { // 100 ms of callee audio before the bot speaks
		m.Read(ctx)
	}
	for i := 0; i < 10; i++ { // the bot queues 200 ms
		m.Write(ctx, botFrame(1000))
	}
	for i := 0; i < 4; i++ { // 80 ms pass: 4 frames are sent
		m.Read(ctx)
	}
	if played := m.Flush(); played != 80*time.Millisecond { // barge-in
		t.Fatalf("played %v, want 80ms", played)
	}
	for i := 0; i < 3; i++ {
		m.Read(ctx)
	}
	c.Hangup(ctx, CauseNormal)
	st := rec.Stereo()
	right := make([]int16, len(st)/2)
	for i := range right {
		right[i] = st[2*i+1]
	}
	botSamples := 0
	for i, s := range right {
		if s != 0 {
			botSamples++
			if i < 800 || i >= 800+640 {
				t.Fatalf("bot audio at sample %d, outside 100-180 ms", i)
			}
		}
	}
	if botSamples != 640 {
		t.Fatalf("recording holds %d bot samples, want 640 (the 80 ms heard before barge-in)", botSamples)
	}
	if got := rec.Duration(); got != 240*time.Millisecond {
		t.Fatalf("recording lasts %v, want 240ms", got)
	}
}

// holdMedia is a pacedMedia that is also a Holder: nothing is sent while held.
type holdMedia struct {
	pacedMedia
	held bool
}

func (m *holdMedia) Read(ctx context.Context) (audio.Frame, error) {
	if m.held {
		q := m.queue
		m.queue = nil
		f, err := m.pacedMedia.Read(ctx)
		m.queue = q
		return f, err
	}
	return m.pacedMedia.Read(ctx)
}
func (m *holdMedia) Hold()      { m.held = true }
func (m *holdMedia) Release()   { m.held = false }
func (m *holdMedia) Caps() Caps { return Caps{Holder: m} }

func TestRecordedHoldDelaysTheBot(t *testing.T) {
	rec, _ := audio.NewRecorder(8000)
	inner := &holdMedia{}
	c := Recorded(mediaCall{m: inner}, rec)
	m := c.Media()
	h := m.Caps().Holder
	if h == nil {
		t.Fatal("recorded media over a Holder has no Holder")
	}
	if Recorded(mediaCall{m: &pacedMedia{}}, rec).Media().Caps().Holder != nil {
		t.Fatal("recorded media over a plain Media claims a Holder")
	}
	ctx := context.Background()
	for i := 0; i < 6; i++ { // the bot queues 120 ms
		m.Write(ctx, botFrame(1000))
	}
	for i := 0; i < 2; i++ { // 40 ms play
		m.Read(ctx)
	}
	h.Hold()
	if !inner.held {
		t.Fatal("Hold did not reach the call's media")
	}
	for i := 0; i < 5; i++ { // 100 ms held: a cough
		m.Read(ctx)
	}
	h.Release()
	for i := 0; i < 6; i++ { // the last 80 ms play, then silence
		m.Read(ctx)
	}
	c.Hangup(ctx, CauseNormal)
	st := rec.Stereo()
	var bot []int
	for i := 0; i < len(st)/2; i++ {
		if st[2*i+1] != 0 {
			bot = append(bot, i)
		}
	}
	if len(bot) != 960 {
		t.Fatalf("recording holds %d bot samples, want 960 (all 120 ms, nothing dropped)", len(bot))
	}
	// 0-40 ms bot, 40-140 ms held (silent), 140-220 ms bot.
	for _, i := range bot {
		if (i >= 320 && i < 1120) || i >= 1760 {
			t.Fatalf("bot audio at sample %d: the hold must delay it by 100 ms", i)
		}
	}
}

// rxMedia is a driver's media in miniature: the callee's frames through a real audio.Receiver paced by a real
// audio.Pacer onto its channel, and a Holder.
type rxMedia struct {
	holdMedia
	rx *audio.Receiver
}

func (m *rxMedia) Read(ctx context.Context) (audio.Frame, error) { return m.rx.Read(ctx) }
func (m *rxMedia) Caps() Caps {
	return Caps{Holder: &m.holdMedia, Frames: m.rx.Frames(), Watch: m.rx.Watch}
}

// TestRecordedKeepsCaps: a recorded call keeps its media's Holder and frame channel (no reader goroutine for the
// consumer), and every frame that comes out of the channel is in the recording, in order, once; a watcher of the
// recorded media's own sees the same frames.
func TestRecordedKeepsCaps(t *testing.T) {
	pacer := audio.NewPacer(audio.NewClock(audio.ClockConfig{})) // the clock is not run: the pacer ticks every 20 ms
	defer pacer.Close()
	inner := &rxMedia{rx: audio.NewReceiver(audio.ReceiverConfig{Format: audio.Narrowband, Depth: 1})}
	pacer.Add(inner.rx)
	rec, _ := audio.NewRecorder(8000)
	m := Recorded(mediaCall{m: inner}, rec).Media()
	caps := m.Caps()
	if caps.Frames == nil || caps.Watch == nil {
		t.Fatal("the recorded media lost the frame channel")
	}
	if caps.Holder == nil {
		t.Fatal("the recorded media lost the Holder")
	}
	caps.Holder.Hold()
	if !inner.held {
		t.Fatal("the recorded Holder did not hold the call's media")
	}
	caps.Holder.Release()
	watched := make(chan audio.Frame, 200)
	caps.Watch(func(f audio.Frame) { watched <- f })

	const n = 10
	for i := range n { // the callee's words: frame i is all 100*(i+1)
		inner.rx.PushStream(botFrame(int16(100 * (i + 1))).Samples)
	}
	var got []int16 // the channel's stream from the first frame of words
	for seen := 0; seen < n; {
		f, ok := <-caps.Frames
		if !ok {
			t.Fatal("frame channel closed")
		}
		if w := <-watched; w.Samples[0] != f.Samples[0] {
			t.Fatalf("the watcher saw a frame of %d, the channel gave %d", w.Samples[0], f.Samples[0])
		}
		if f.Samples[0] != 0 || len(got) > 0 {
			got = append(got, f.Samples...)
		}
		if f.Samples[0] != 0 {
			seen++
		}
	}
	inner.rx.Close(ErrHungUp)
	if _, err := m.Read(context.Background()); err == nil {
		t.Fatal("Read after close: no error")
	}
	st := rec.Stereo()
	left := make([]int16, len(st)/2)
	for i := range left {
		left[i] = st[2*i]
	}
	start := 0
	for start < len(left) && left[start] == 0 {
		start++
	}
	if len(left)-start < len(got) {
		t.Fatalf("recording holds %d samples of the callee's words, the channel gave %d", len(left)-start, len(got))
	}
	for i, s := range got {
		if left[start+i] != s {
			t.Fatalf("recording sample %d is %d, the channel gave %d (a frame lost, doubled or moved)", i, left[start+i], s)
		}
	}
}
