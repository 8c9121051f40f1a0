// Package ttstest is an instant, engine-free synthesizer whose audio asrtest.Recognizer reads back as the exact text.
package ttstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/ttstest/modem"
)

// ErrInjected is the error that failure injection returns.
var ErrInjected = errors.New("ttstest: injected failure")

// Synthesizer renders text as data-over-voice audio (see package modem): two tones at a time inside 300-3400 Hz,
// about -13 dBFS, 30 ms per UTF-8 byte plus 240 ms of framing, so a short sentence lasts 1-3 s. It needs no
// engine, keeps no state between calls, and its zero value is ready to use. Request.Voice and Request.Speed are
// ignored: the recognizer must read the audio without being told how it was made.
type Synthesizer struct {
	Rate      int           // rate of the Source when Request.Rate is 0; default 8000
	Delay     time.Duration // wait before the first frame, to model a slow provider; default 0
	FailAfter int           // Read fails with ErrInjected after this many frames; default 0: never
	Err       error         // when set, Synthesize returns it (wrapped) instead of audio

	calls atomic.Int64
}

// Calls returns how many times Synthesize was called, for tests of caches and retries.
func (s *Synthesizer) Calls() int64 { return s.calls.Load() }

// Synthesize renders r.Text. The Source's frames are 20 ms at r.Rate (or the Synthesizer's Rate).
func (s *Synthesizer) Synthesize(ctx context.Context, r tts.Request) (audio.Source, error) {
	s.calls.Add(1)
	if s.Err != nil {
		return nil, fmt.Errorf("ttstest: synthesize: %w", s.Err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ttstest: synthesize: %w", err)
	}
	rate := r.Rate
	if rate == 0 {
		rate = s.Rate
	}
	if rate == 0 {
		rate = audio.Narrowband.Rate
	}
	pcm, err := Render(r.Text, rate)
	if err != nil {
		return nil, err
	}
	return &source{pcm: pcm, format: audio.Format{Rate: rate}, delay: s.Delay, failAfter: s.FailAfter}, nil
}

// Render returns the audio the Synthesizer makes for text at rate: PCM16 mono, whole 20 ms frames. Use it for
// scripted callees (callee.Step.Audio).
func Render(text string, rate int) ([]int16, error) {
	pcm, err := modem.Encode(text, rate)
	if err != nil {
		return nil, fmt.Errorf("ttstest: render %d bytes: %w", len(text), err)
	}
	return pcm, nil
}

// source streams rendered audio in 20 ms frames.
type source struct {
	pcm       []int16
	format    audio.Format
	delay     time.Duration
	failAfter int
	frames    int
}

func (s *source) Format() audio.Format { return s.format }

// Duration implements tts.Sized: the rendering is whole before it plays.
func (s *source) Duration() time.Duration { return s.format.Duration(len(s.pcm)) }

func (s *source) Read(ctx context.Context) (audio.Frame, error) {
	if err := ctx.Err(); err != nil {
		return audio.Frame{}, err
	}
	if s.frames == 0 && s.delay > 0 {
		t := time.NewTimer(s.delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return audio.Frame{}, ctx.Err()
		case <-t.C:
		}
	}
	if s.failAfter > 0 && s.frames >= s.failAfter {
		return audio.Frame{}, fmt.Errorf("ttstest: read frame %d: %w", s.frames, ErrInjected)
	}
	n := s.format.FrameSamples()
	if len(s.pcm) == 0 {
		return audio.Frame{}, io.EOF
	}
	n = min(n, len(s.pcm))
	f := audio.Frame{Rate: s.format.Rate, Samples: make([]int16, n)}
	copy(f.Samples, s.pcm[:n])
	s.pcm = s.pcm[n:]
	s.frames++
	return f, nil
}
