// Package audio holds the real-time audio toolkit: PCM frames, G.711, resampling, VAD, tone detection, jitter
// buffering, the shared playout clock, WAV files and level meters.
package audio

import (
	"context"
	"time"
)

// FrameDuration is the duration of one frame on the call audio path: 20 ms, as RTP ptime and every PBX use.
const FrameDuration = 20 * time.Millisecond

// Format describes linear PCM audio: signed 16-bit samples, mono, at Rate samples per second.
type Format struct {
	Rate int // samples per second: 8000, 16000, 24000 or 48000
}

// Common formats.
var (
	Narrowband = Format{Rate: 8000}  // telephone band: G.711, AudioSocket 0x10
	Wideband   = Format{Rate: 16000} // slin16, most ASR engines
)

// Samples returns how many samples cover d at this format's rate.
func (f Format) Samples(d time.Duration) int {
	return int(int64(f.Rate) * int64(d) / int64(time.Second))
}

// FrameSamples returns the number of samples in one 20 ms frame.
func (f Format) FrameSamples() int { return f.Rate / 50 }

// Duration returns how long n samples last at this format's rate.
func (f Format) Duration(n int) time.Duration {
	if f.Rate == 0 {
		return 0
	}
	return time.Duration(int64(n) * int64(time.Second) / int64(f.Rate))
}

// Frame is a run of PCM16 mono samples, usually 20 ms. The receiver of a Frame owns its Samples.
type Frame struct {
	Rate    int     // samples per second
	Samples []int16 // signed 16-bit linear PCM, host order
}

// Format returns the frame's format.
func (f Frame) Format() Format { return Format{Rate: f.Rate} }

// Duration returns how long the frame lasts.
func (f Frame) Duration() time.Duration { return f.Format().Duration(len(f.Samples)) }

// Source is a stream of frames, such as a TTS rendering or a WAV file. Read returns io.EOF after the last frame.
type Source interface {
	Format() Format
	Read(ctx context.Context) (Frame, error)
}

// Sink takes frames, such as a call's outgoing media or a recorder.
type Sink interface {
	Write(ctx context.Context, f Frame) error
}
