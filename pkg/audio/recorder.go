package audio

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// MaxRecording bounds a Recorder's length, so a bad timestamp cannot exhaust memory.
const MaxRecording = 4 * time.Hour

// Recorder records a call in stereo, callee on the left and bot on the right, placing every frame at its own
// position on the call's timeline (for the bot, the playout tick that sent it), so the two sides stay aligned
// whatever order frames arrive in. Gaps are silence; overlapping frames on one side are mixed. It keeps the
// recording in memory (8 kHz stereo: about 1.9 MB a minute). Safe for concurrent use.
type Recorder struct {
	rate int

	mu          sync.Mutex
	left, right []int16
}

// NewRecorder returns a recorder for frames at rate Hz.
func NewRecorder(rate int) (*Recorder, error) {
	if rate <= 0 || rate > 192000 {
		return nil, fmt.Errorf("recorder at %d Hz: %w", rate, ErrFormat)
	}
	return &Recorder{rate: rate}, nil
}

// Callee records a frame of the callee's audio that began at offset at from the call's start.
func (r *Recorder) Callee(at time.Duration, f Frame) error { return r.put(&r.left, at, f) }

// Bot records a frame of the bot's audio that began at offset at from the call's start.
func (r *Recorder) Bot(at time.Duration, f Frame) error { return r.put(&r.right, at, f) }

func (r *Recorder) put(track *[]int16, at time.Duration, f Frame) error {
	if f.Rate != r.rate {
		return fmt.Errorf("recorder at %d Hz got a %d Hz frame: %w", r.rate, f.Rate, ErrFormat)
	}
	if at < 0 || at+f.Duration() > MaxRecording {
		return fmt.Errorf("recorder: frame at %v outside 0..%v: %w", at, MaxRecording, ErrFormat)
	}
	start := Format{Rate: r.rate}.Samples(at)
	r.mu.Lock()
	defer r.mu.Unlock()
	t := *track
	if end := start + len(f.Samples); end > len(t) {
		if end > cap(t) {
			nt := make([]int16, end, max(end, 2*cap(t)))
			copy(nt, t)
			t = nt
		}
		t = t[:end]
	}
	for i, s := range f.Samples {
		t[start+i] = sat16(int32(t[start+i]) + int32(s))
	}
	*track = t
	return nil
}

func sat16(v int32) int16 {
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return int16(v)
}

// Duration returns the recording's length so far.
func (r *Recorder) Duration() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Format{Rate: r.rate}.Duration(max(len(r.left), len(r.right)))
}

// Stereo returns the recording as interleaved left (callee), right (bot) samples.
func (r *Recorder) Stereo() []int16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := max(len(r.left), len(r.right))
	out := make([]int16, 2*n)
	for i := range n {
		if i < len(r.left) {
			out[2*i] = r.left[i]
		}
		if i < len(r.right) {
			out[2*i+1] = r.right[i]
		}
	}
	return out
}

// WriteWAV writes the recording as a stereo WAV file in enc (PCM16, µ-law or A-law).
func (r *Recorder) WriteWAV(w io.Writer, enc WAVEncoding) error {
	return WriteWAV(w, r.rate, 2, enc, r.Stereo())
}
