package main

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
)

// turnProbe times one call's turns in the controller: from the moment the recognizer delivers a final transcript
// to the moment the first frame of the bot's reply is queued for playout. That is everything the library does in
// a turn (dialog step, Redis journal write, TTS start, media write), at microsecond resolution.
type turnProbe struct {
	mu      sync.Mutex
	finalAt time.Time // zero: no final awaiting a reply
	record  func(time.Duration)
}

func (p *turnProbe) final(at time.Time) {
	p.mu.Lock()
	p.finalAt = at
	p.mu.Unlock()
}

func (p *turnProbe) wrote(at time.Time) {
	p.mu.Lock()
	t := p.finalAt
	p.finalAt = time.Time{}
	p.mu.Unlock()
	if !t.IsZero() {
		p.record(at.Sub(t))
	}
}

// probedCall is a call.Call whose Media reports writes to a turnProbe.
type probedCall struct {
	call.Call
	media probedMedia
}

func newProbedCall(c call.Call, p *turnProbe) *probedCall {
	return &probedCall{Call: c, media: probedMedia{Media: c.Media(), probe: p}}
}

// Media implements call.Call.
func (c *probedCall) Media() call.Media { return &c.media }

// probedMedia is a call.Media that tells its probe when each frame has been queued.
type probedMedia struct {
	call.Media
	probe *turnProbe
}

// Write implements call.Media.
func (m *probedMedia) Write(ctx context.Context, f audio.Frame) error {
	err := m.Media.Write(ctx, f)
	if err == nil {
		m.probe.wrote(time.Now())
	}
	return err
}

// probedASR is an asr.Recognizer that feeds the inner recognizer the call's audio, resampled to rate when rate is
// set and differs, and tells the probe when a final transcript is delivered.
type probedASR struct {
	inner asr.Recognizer
	probe *turnProbe
	rate  int // 0: the call's rate
}

// Start implements asr.Recognizer.
func (r *probedASR) Start(ctx context.Context, c asr.Config) (asr.Stream, error) {
	from, to := c.SampleRate, r.rate
	if to == 0 {
		to = from
	}
	c.SampleRate = to
	in, err := r.inner.Start(ctx, c)
	if err != nil {
		return nil, err
	}
	s := &probedStream{inner: in, probe: r.probe, out: make(chan asr.Result, 16)}
	if from != 0 && to != from {
		s.to = to
		if s.rs, err = audio.NewResampler(from, to); err != nil {
			_ = in.Close()
			return nil, err
		}
	}
	go s.forward()
	return s, nil
}

// probedStream resamples written frames and forwards the inner stream's results.
type probedStream struct {
	inner asr.Stream
	probe *turnProbe
	rs    *audio.Resampler
	to    int // the resampler's output rate
	buf   []int16
	out   chan asr.Result
}

// Write implements asr.Stream.
func (s *probedStream) Write(f audio.Frame) error {
	if s.rs == nil {
		return s.inner.Write(f)
	}
	s.buf = s.rs.Process(s.buf[:0], f.Samples)
	return s.inner.Write(audio.Frame{Rate: s.to, Samples: s.buf})
}

// Results implements asr.Stream.
func (s *probedStream) Results() <-chan asr.Result { return s.out }

// Close implements asr.Stream.
func (s *probedStream) Close() error { return s.inner.Close() }

// forward ends when the inner stream closes its results (after Close or its context's end).
func (s *probedStream) forward() {
	defer close(s.out)
	for r := range s.inner.Results() {
		if r.Final && r.Text != "" {
			s.probe.final(time.Now())
		}
		s.out <- r
	}
}

// roundTrips counts Redis round trips: one per command or pipeline sent. The commands go-redis sends to set up a
// new pool connection (HELLO, CLIENT SETINFO, in one pipeline) are counted apart, in setup.
type roundTrips struct{ n, setup atomic.Int64 }

// DialHook implements redis.Hook.
func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if setupCommand(cmd) {
			h.setup.Add(1)
			return next(ctx, cmd)
		}
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && setupCommand(cmds[0]) {
			h.setup.Add(1)
			return next(ctx, cmds)
		}
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// setupCommand reports a command go-redis sends when it opens a connection, not on behalf of the application.
func setupCommand(c redis.Cmder) bool {
	switch c.Name() {
	case "hello", "client", "auth", "select":
		return true
	}
	return false
}

// samples collects durations from many goroutines.
type samples struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *samples) add(d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
}

// quantiles returns the p50 and p99 (nearest rank) and the count; zeros when empty.
func quantiles(d []time.Duration) (p50, p99 time.Duration, n int) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	d = slices.Clone(d)
	slices.Sort(d)
	q := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	return q(0.50), q(0.99), len(d)
}
