package asrtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
)

// Sentinel errors.
var (
	ErrInjected = errors.New("asrtest: injected failure")
	ErrClosed   = errors.New("asrtest: stream closed")
	ErrRate     = errors.New("asrtest: frame rate differs from the stream's")
)

// Faults injects failures and latency into a fake recognizer, for tests of what callers do when a provider is slow
// or dies. The zero value injects nothing.
type Faults struct {
	Delay         time.Duration // added before each result is delivered; default 0
	StartErr      error         // when set, Start returns it (wrapped)
	FailAfter     time.Duration // the stream fails once this much audio was written; default 0: never
	FailUtterance int           // the stream fails in the middle of this utterance (1-based), after its first partial; default 0: never
}

// Segmentation tunes how the fakes cut audio into utterances by energy. The zero value uses the defaults.
type Segmentation struct {
	Threshold int           // RMS of a 10 ms block (PCM16 units) that counts as speech; default 500 (about -36 dBFS)
	Hangover  time.Duration // silence that ends an utterance; default asr.Config.Endpointing, else 300 ms
}

// utterance recognises one segment of speech; it is made with the offsets of its first sample (the pre-roll's) and
// of its first loud block. feed receives the segment's audio (first the pre-roll, then each
// block); it returns results to emit and whether the utterance is over. end is called when silence ends a segment
// the utterance did not finish, with the offset where its last loud block ended.
type utterance interface {
	feed(p []int16) (res []asr.Result, done bool)
	end(at time.Duration) []asr.Result
}

const (
	blockMillis   = 10
	prerollMillis = 60
	onsetBlocks   = 2 // consecutive loud blocks that start an utterance
	settleMillis  = 20
)

// stream is the machinery both fakes share: energy segmentation, result queueing with optional delay, faults.
type stream struct {
	rate     int
	block    int // samples per block
	thresh   float64
	hangover int // blocks
	faults   Faults
	newUtt   func(buf, onset time.Duration) utterance

	// Write side, guarded by wmu so Close may come from another goroutine than Write.
	wmu      sync.Mutex
	pending  []int16 // partial block
	preroll  []int16 // recent quiet audio, kept to hand an utterance its onset
	loud     int     // consecutive loud blocks while idle
	quiet    int     // consecutive quiet blocks while in an utterance
	cur      utterance
	finished bool // cur reported done; wait for silence
	written  int  // samples written
	pos      int  // samples segmented: the end of the block being processed
	utts     int  // utterances started
	failed   bool
	closed   bool

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	queue  []asr.Result
	ending bool // no more results will be queued
	wake   chan struct{}
	out    chan asr.Result
}

func newStream(ctx context.Context, c asr.Config, seg Segmentation, f Faults, newUtt func(buf, onset time.Duration) utterance) (*stream, error) {
	if f.StartErr != nil {
		return nil, fmt.Errorf("asrtest: start: %w", f.StartErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("asrtest: start: %w", err)
	}
	rate := c.SampleRate
	if rate == 0 {
		rate = audio.Wideband.Rate
	}
	if rate < 8000 || rate%100 != 0 {
		return nil, fmt.Errorf("asrtest: sample rate %d Hz: want a multiple of 100 Hz, at least 8000", rate)
	}
	thresh := seg.Threshold
	if thresh == 0 {
		thresh = 500
	}
	hang := seg.Hangover
	if hang == 0 {
		hang = c.Endpointing
	}
	if hang == 0 {
		hang = 300 * time.Millisecond
	}
	s := &stream{
		rate:     rate,
		block:    rate * blockMillis / 1000,
		thresh:   float64(thresh),
		hangover: max(int(hang/(blockMillis*time.Millisecond)), 1),
		faults:   f,
		newUtt:   newUtt,
		wake:     make(chan struct{}, 1),
		out:      make(chan asr.Result, 16),
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	go s.deliver()
	return s, nil
}

// Results delivers partial and final results; it is closed after Close or a failure.
func (s *stream) Results() <-chan asr.Result { return s.out }

// Write feeds one frame. It never blocks: results are queued for delivery.
func (s *stream) Write(f audio.Frame) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case s.failed:
		return fmt.Errorf("asrtest: write: %w", ErrInjected)
	case f.Rate != 0 && f.Rate != s.rate:
		return fmt.Errorf("%w: frame %d Hz, stream %d Hz", ErrRate, f.Rate, s.rate)
	}
	p := f.Samples
	if len(s.pending) > 0 {
		n := min(s.block-len(s.pending), len(p))
		s.pending = append(s.pending, p[:n]...)
		p = p[n:]
		if len(s.pending) == s.block {
			s.onBlock(s.pending)
			s.pending = s.pending[:0]
		}
	}
	for len(p) >= s.block && !s.failed {
		s.onBlock(p[:s.block])
		p = p[s.block:]
	}
	if !s.failed {
		s.pending = append(s.pending, p...)
	}
	s.written += len(f.Samples)
	if fa := s.faults.FailAfter; fa > 0 && !s.failed && s.offset(s.written) >= fa {
		s.fail()
	}
	return nil
}

// Close ends the stream: an utterance in progress is finished, queued results are delivered, then Results closes.
func (s *stream) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if !s.failed && s.cur != nil && !s.finished {
		s.emit(s.cur.end(s.offset(s.pos - s.quiet*s.block)))
	}
	s.cur = nil
	s.finish()
	return nil
}

func (s *stream) onBlock(b []int16) {
	s.pos += len(b)
	loud := rms(b) >= s.thresh
	if s.cur == nil {
		if loud {
			s.loud++
		} else {
			s.loud = 0
		}
		s.preroll = append(s.preroll, b...)
		if keep := s.rate * prerollMillis / 1000; len(s.preroll) > keep {
			s.preroll = append(s.preroll[:0], s.preroll[len(s.preroll)-keep:]...)
		}
		if s.loud >= onsetBlocks {
			s.begin()
		}
		return
	}
	if loud {
		s.quiet = 0
	} else {
		s.quiet++
	}
	if s.finished {
		// The message is read; wait for a short silence before listening for the next utterance.
		if s.quiet*blockMillis >= settleMillis {
			s.reset()
		}
		return
	}
	res, done := s.cur.feed(b)
	s.emit(res)
	if s.failed {
		return
	}
	if done {
		s.finished = true
		return
	}
	if s.quiet >= s.hangover {
		s.emit(s.cur.end(s.offset(s.pos - s.quiet*s.block)))
		s.reset()
	}
}

// begin starts an utterance at the oldest pre-roll sample.
func (s *stream) begin() {
	s.utts++
	s.cur = s.newUtt(s.offset(s.pos-len(s.preroll)), s.offset(s.pos-onsetBlocks*s.block))
	s.quiet, s.loud, s.finished = 0, 0, false
	res, done := s.cur.feed(s.preroll)
	s.preroll = s.preroll[:0]
	s.emit(res)
	s.finished = done
}

func (s *stream) reset() {
	s.cur, s.finished, s.quiet, s.loud = nil, false, 0, 0
}

// emit queues results, failing the stream mid-utterance when Faults.FailUtterance says so.
func (s *stream) emit(res []asr.Result) {
	for _, r := range res {
		if s.failed {
			return
		}
		s.push(r)
		if !r.Final && s.faults.FailUtterance == s.utts {
			s.fail()
		}
	}
}

// fail ends the stream with a final error result.
func (s *stream) fail() {
	s.failed = true
	s.push(asr.Result{Final: true, Err: fmt.Errorf("asrtest: utterance %d: %w", s.utts, ErrInjected)})
	s.cur = nil
	s.finish()
}

func (s *stream) push(r asr.Result) {
	s.mu.Lock()
	s.queue = append(s.queue, r)
	s.mu.Unlock()
	s.signal()
}

func (s *stream) finish() {
	s.mu.Lock()
	s.ending = true
	s.mu.Unlock()
	s.signal()
}

func (s *stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// deliver moves queued results to Results, applying Faults.Delay. It ends when the stream is closed or failed and
// everything is delivered, or when the context ends.
func (s *stream) deliver() {
	defer close(s.out)
	defer s.cancel()
	var timer *time.Timer
	for {
		s.mu.Lock()
		var r asr.Result
		have := len(s.queue) > 0
		if have {
			r = s.queue[0]
			s.queue = s.queue[1:]
		}
		ending := s.ending
		s.mu.Unlock()
		if !have {
			if ending {
				return
			}
			select {
			case <-s.wake:
				continue
			case <-s.ctx.Done():
				return
			}
		}
		if d := s.faults.Delay; d > 0 {
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			select {
			case <-timer.C:
			case <-s.ctx.Done():
				return
			}
		}
		select {
		case s.out <- r:
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *stream) offset(n int) time.Duration {
	return time.Duration(int64(n) * int64(time.Second) / int64(s.rate))
}

func rms(b []int16) float64 {
	var e float64
	for _, v := range b {
		e += float64(v) * float64(v)
	}
	return math.Sqrt(e / float64(len(b)))
}
