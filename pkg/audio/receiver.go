package audio

import (
	"context"
	"sync"
	"time"
)

// Receiver is a call's receive side: packets go into a JitterBuffer as they arrive, and one frame is popped per
// 20 ms of wall-clock time — by a Pacer on the playout clock's ticks (push mode: no goroutine or timer per call),
// or by Read on a timer (pull mode, without a Pacer). A PBX that sends nothing while the far end is silent makes a
// gap that simply pops silence (after the buffer's brief loss concealment) on time: Read never stalls waiting for
// a packet. The PBX drivers (ari, pkg/esl) share it.
type Receiver struct {
	format Format

	mu      sync.Mutex
	jb      *JitterBuffer
	due     time.Time // when the next frame is due
	err     error     // set at close; Read returns it at once
	nextSeq uint16    // sequence for transports without one (AudioSocket)
	nextTS  uint32
	bad     uint64 // pushes the jitter buffer refused (wrong size)
	closed  chan struct{}
	once    sync.Once

	// push mode (Pacer): frames are popped on the clock's ticks into frames, which Read and Frames consume
	pushed    bool
	slack     time.Duration // how long a due frame waits for a late packet before it is concealed
	frames    chan Frame
	overflows uint64 // frames dropped because the consumer was more than frameQueue behind

	watch func(Frame) // sees every frame before it is delivered; nil: none

	readMu sync.Mutex  // serialises Read callers (the contract has one reader; this keeps misuse safe)
	timer  *time.Timer // Read's wait in pull mode, guarded by readMu
}

// ReceiverConfig configures a Receiver. Zero fields take the defaults noted beside them.
type ReceiverConfig struct {
	Format Format        // the frames' format; required
	Depth  int           // frames the jitter buffer holds before playout starts; default: 3 (60 ms)
	Slack  time.Duration // push mode: how long a due frame waits for a late packet before it is concealed; default: 0
}

// NewReceiver returns a Receiver in pull mode; Pacer.Add switches it to push mode.
func NewReceiver(cfg ReceiverConfig) *Receiver {
	if cfg.Depth <= 0 {
		cfg.Depth = 3
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &Receiver{
		format: cfg.Format,
		jb:     NewJitterBuffer(JitterConfig{FrameSamples: cfg.Format.FrameSamples(), Depth: cfg.Depth, Window: jitterWindow(cfg.Depth)}),
		closed: make(chan struct{}),
		timer:  t,
		slack:  cfg.Slack,
	}
}

// jitterWindow is how far ahead of the playout point a packet may arrive before the buffer resynchronises: 320 ms
// beyond the configured delay. The buffer's memory is a power of two above it (32 frames, 10 KiB at 8 kHz, for the
// default delay), where the audio package's general default of 64 frames would take 40-80 KiB per call.
func jitterWindow(depth int) int { return max(16, depth+16) }

// Push adds one packet's samples with its RTP sequence number and timestamp (the buffer copies them).
func (r *Receiver) Push(seq uint16, ts uint32, samples []int16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	if err := r.jb.Push(seq, ts, samples); err != nil {
		r.bad++
	}
}

// PushStream adds samples from an unnumbered, ordered transport (AudioSocket, a raw UDP or TCP stream), cut into
// frames; the buffer copies them.
func (r *Receiver) PushStream(samples []int16) {
	n := r.format.FrameSamples()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	for len(samples) > 0 {
		k := min(n, len(samples))
		_ = r.jb.Push(r.nextSeq, r.nextTS, samples[:k]) // k <= n: cannot fail
		samples = samples[k:]
		r.nextSeq++
		r.nextTS += uint32(n)
	}
}

// Frames returns the paced frame channel in push mode (closed when the media ends), else nil.
func (r *Receiver) Frames() <-chan Frame { return r.frames }

// Watch makes fn see every frame before it is delivered (sent on Frames, or returned by Read), in order, on the
// goroutine that delivers it (the Pacer's in push mode), with the Receiver's lock held: fn must be quick, must
// not block and must not call back into the Receiver. It replaces an earlier fn; nil stops watching. A recorder
// uses it to keep the frame channel (call.Caps.Watch).
func (r *Receiver) Watch(fn func(Frame)) {
	r.mu.Lock()
	r.watch = fn
	r.mu.Unlock()
}

// frameQueue is how many paced frames wait for a consumer in push mode before the oldest are dropped: 1 s.
const frameQueue = 50

// startPush switches to push mode; the Pacer calls pushDue on every tick from then on.
func (r *Receiver) startPush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pushed = true
	r.frames = make(chan Frame, frameQueue)
	if r.err != nil {
		close(r.frames)
	}
}

// pushDue pops the frames due by now (at most a few, after a stall of the Pacer) into the frame channel. It
// returns false once the media has ended.
func (r *Receiver) pushDue(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return false
	}
	if r.due.IsZero() {
		r.due = now
	}
	for n := 0; n < 3 && !r.due.After(now.Add(FrameDuration/2)); n++ {
		if r.jb.Waiting() && now.Sub(r.due) < r.slack {
			break // the next packet may be late rather than lost: give it until slack, then catch up
		}
		samples, _ := r.jb.Pop(make([]int16, r.format.FrameSamples()))
		r.due = r.due.Add(FrameDuration)
		f := Frame{Rate: r.format.Rate, Samples: samples}
		if r.watch != nil {
			r.watch(f)
		}
		select {
		case r.frames <- f:
		default:
			r.overflows++ // the consumer is a second behind: this frame is lost
		}
	}
	if now.Sub(r.due) > time.Second {
		r.due = now // the Pacer stalled for over a second: resume from now
	}
	return true
}

// Read waits for the next frame time and pops a frame (received, concealed or silent).
func (r *Receiver) Read(ctx context.Context) (Frame, error) {
	if r.pushed {
		select {
		case <-r.closed: // ended: say so at once, whatever is still queued
			r.mu.Lock()
			defer r.mu.Unlock()
			return Frame{}, r.err
		default:
		}
		select {
		case f, ok := <-r.frames:
			if ok {
				return f, nil
			}
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		return Frame{}, r.err
	}
	r.readMu.Lock()
	defer r.readMu.Unlock()
	r.mu.Lock()
	if r.err != nil {
		err := r.err
		r.mu.Unlock()
		return Frame{}, err
	}
	now := time.Now()
	if r.due.IsZero() {
		r.due = now
	}
	due := r.due
	r.mu.Unlock()
	due, err := r.wait(ctx, now, due)
	if err != nil {
		return Frame{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return Frame{}, r.err
	}
	r.due = due
	samples, _ := r.jb.Pop(make([]int16, r.format.FrameSamples()))
	r.due = r.due.Add(FrameDuration)
	if now := time.Now(); now.Sub(r.due) > time.Second {
		r.due = now // the reader stalled for over a second: resume from now instead of bursting to catch up
	}
	f := Frame{Rate: r.format.Rate, Samples: samples}
	if r.watch != nil {
		r.watch(f)
	}
	return f, nil
}

// wait blocks on the timer until the frame due at due may be popped (pull mode, without a Pacer).
func (r *Receiver) wait(ctx context.Context, now, due time.Time) (time.Time, error) {
	if !due.After(now) {
		return due, nil
	}
	r.timer.Reset(due.Sub(now))
	select {
	case <-r.timer.C:
	case <-r.closed:
		r.timer.Stop()
	case <-ctx.Done():
		r.timer.Stop()
		return due, ctx.Err()
	}
	return due, nil
}

// Close makes Read return err (ErrReceiverClosed when err is nil), at once whatever is still queued, and ends
// the Frames channel in push mode.
func (r *Receiver) Close(err error) {
	if err == nil {
		err = ErrReceiverClosed // a nil error would read as "still open" and let the Pacer send on the closed channel
	}
	r.once.Do(func() {
		r.mu.Lock()
		r.err = err
		if r.pushed {
			close(r.frames)
		}
		r.mu.Unlock()
		close(r.closed)
	})
}

// Stats returns the jitter buffer's counters.
func (r *Receiver) Stats() JitterStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.jb.Stats()
}

// Overflows returns how many paced frames were dropped because the consumer was more than a second behind.
func (r *Receiver) Overflows() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.overflows
}
