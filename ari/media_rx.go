package ari

import (
	"context"
	"sync"
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// mediaRx is a call's receive side: packets go into the audio package's jitter buffer as they arrive, and one
// frame is popped per 20 ms of wall-clock time — by the driver's rxPacer on the playout clock's ticks (push mode,
// every driver call), or by Read on a timer (pull mode). Asterisk sends nothing while the far end is silent, so a
// gap simply pops silence (after the buffer's brief loss concealment) on time: Read never stalls waiting for a
// packet.
type mediaRx struct {
	format audio.Format

	mu      sync.Mutex
	jb      *audio.JitterBuffer
	due     time.Time // when the next frame is due
	err     error     // set at close; Read returns it at once
	nextSeq uint16    // sequence for transports without one (AudioSocket)
	nextTS  uint32
	bad     uint64 // pushes the jitter buffer refused (wrong size)
	closed  chan struct{}
	once    sync.Once

	// push mode (rxPacer): frames are popped on the clock's ticks into frames, which Read and Frames consume
	pushed    bool
	slack     time.Duration // how long a due frame waits for a late packet before it is concealed
	frames    chan audio.Frame
	overflows uint64 // frames dropped because the consumer was more than frameQueue behind

	readMu sync.Mutex  // serialises Read callers (the contract has one reader; this keeps misuse safe)
	timer  *time.Timer // Read's wait in pull mode, guarded by readMu
}

func newMediaRx(f audio.Format, depth int) *mediaRx {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &mediaRx{
		format: f,
		jb:     audio.NewJitterBuffer(audio.JitterConfig{FrameSamples: f.FrameSamples(), Depth: depth, Window: jitterWindow(depth)}),
		closed: make(chan struct{}),
		timer:  t,
	}
}

// newRx returns a call's receive side, paced by the driver's pacer.
func (d *Driver) newRx() *mediaRx {
	r := newMediaRx(d.format, d.cfg.JitterDepth)
	r.slack = d.cfg.ReadSlack
	d.pacer.add(r)
	return r
}

// jitterWindow is how far ahead of the playout point a packet may arrive before the buffer resynchronises: 320 ms
// beyond the configured delay. The buffer's memory is a power of two above it (32 frames, 10 KiB at 8 kHz, for the
// default delay), where the audio package's general default of 64 frames would take 40-80 KiB per call.
func jitterWindow(depth int) int { return max(16, depth+16) }

// push adds one packet's samples with its RTP sequence number and timestamp.
func (r *mediaRx) push(seq uint16, ts uint32, samples []int16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	if err := r.jb.Push(seq, ts, samples); err != nil {
		r.bad++
	}
}

// pushStream adds samples from an unnumbered, ordered transport, cut into frames.
func (r *mediaRx) pushStream(samples []int16) {
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
func (r *mediaRx) Frames() <-chan audio.Frame { return r.frames }

// frameQueue is how many paced frames wait for a consumer in push mode before the oldest are dropped: 1 s.
const frameQueue = 50

// startPush switches to push mode; the pacer calls pushDue on every tick from then on.
func (r *mediaRx) startPush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pushed = true
	r.frames = make(chan audio.Frame, frameQueue)
	if r.err != nil {
		close(r.frames)
	}
}

// pushDue pops the frames due by now (at most a few, after a stall of the pacer) into the frame channel. It
// returns false once the media has ended.
func (r *mediaRx) pushDue(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return false
	}
	if r.due.IsZero() {
		r.due = now
	}
	for n := 0; n < 3 && !r.due.After(now.Add(audio.FrameDuration/2)); n++ {
		if r.jb.Waiting() && now.Sub(r.due) < r.slack {
			break // the next packet may be late rather than lost: give it until slack, then catch up
		}
		samples, _ := r.jb.Pop(make([]int16, r.format.FrameSamples()))
		r.due = r.due.Add(audio.FrameDuration)
		select {
		case r.frames <- audio.Frame{Rate: r.format.Rate, Samples: samples}:
		default:
			r.overflows++ // the consumer is a second behind: this frame is lost
		}
	}
	if now.Sub(r.due) > time.Second {
		r.due = now // the pacer stalled for over a second: resume from now
	}
	return true
}

// read waits for the next frame time and pops a frame (received, concealed or silent).
func (r *mediaRx) read(ctx context.Context) (audio.Frame, error) {
	if r.pushed {
		select {
		case <-r.closed: // ended: say so at once, whatever is still queued
			r.mu.Lock()
			defer r.mu.Unlock()
			return audio.Frame{}, r.err
		default:
		}
		select {
		case f, ok := <-r.frames:
			if ok {
				return f, nil
			}
		case <-ctx.Done():
			return audio.Frame{}, ctx.Err()
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		return audio.Frame{}, r.err
	}
	r.readMu.Lock()
	defer r.readMu.Unlock()
	r.mu.Lock()
	if r.err != nil {
		err := r.err
		r.mu.Unlock()
		return audio.Frame{}, err
	}
	now := time.Now()
	if r.due.IsZero() {
		r.due = now
	}
	due := r.due
	r.mu.Unlock()
	due, err := r.wait(ctx, now, due)
	if err != nil {
		return audio.Frame{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return audio.Frame{}, r.err
	}
	r.due = due
	samples, _ := r.jb.Pop(make([]int16, r.format.FrameSamples()))
	r.due = r.due.Add(audio.FrameDuration)
	if now := time.Now(); now.Sub(r.due) > time.Second {
		r.due = now // the reader stalled for over a second: resume from now instead of bursting to catch up
	}
	return audio.Frame{Rate: r.format.Rate, Samples: samples}, nil
}

// wait blocks on the timer until the frame due at due may be popped (pull mode, without a pacer).
func (r *mediaRx) wait(ctx context.Context, now, due time.Time) (time.Time, error) {
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

// close makes Read return err.
func (r *mediaRx) close(err error) {
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

// stats returns the jitter buffer's counters.
func (r *mediaRx) stats() audio.JitterStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.jb.Stats()
}
