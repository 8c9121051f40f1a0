package tts

import (
	"context"
	"errors"
	"fmt"
	"github.com/outcall/outcall/internal/breaker"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/pkg/audio"
)

// Sentinel errors of the resilience layer; the errors it returns wrap them (test with errors.Is).
var (
	ErrCircuitOpen       = errors.New("tts: circuit breaker open")       // the provider failed too often; not called
	ErrFirstFrameTimeout = errors.New("tts: no first frame in time")     // one attempt exceeded FirstFrameTimeout
	ErrNoAudio           = errors.New("tts: neither a source nor error") // a provider broke the Synthesizer contract
)

// Error is a failure of a named speech provider: which provider, what it was doing and why.
type Error struct {
	Provider string // "openai", "espeak", ...
	Op       string // "synthesize", "read", "fallback"
	Err      error  // the cause
}

// Error implements error.
func (e *Error) Error() string { return "tts " + e.Provider + ": " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// BreakerState is the state of a Resilient's circuit breaker.
type BreakerState int32

// Breaker states.
const (
	BreakerClosed   BreakerState = iota // requests reach the provider
	BreakerOpen                         // requests go to the fallback (or fail) until the cooldown passes
	BreakerHalfOpen                     // one probe request reaches the provider; its outcome closes or reopens the breaker
)

// String names the state.
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return fmt.Sprintf("BreakerState(%d)", int32(s))
}

// ResilientConfig configures NewResilient.
type ResilientConfig struct {
	Provider          string           // name used in errors and logs; default: the wrapped Synthesizer's Name(), else its package name
	FirstFrameTimeout time.Duration    // limit of one attempt, from Synthesize to its first frame; default 3s
	Retries           int              // further attempts while no audio was delivered; default 1; <0: none
	BackoffBase       time.Duration    // wait before the first retry, doubled each retry, ±20 % jitter; default 50ms
	BackoffMax        time.Duration    // longest wait between retries; default 1s
	BreakerFailures   int              // consecutive failures that open the breaker; default 5
	BreakerCooldown   time.Duration    // time the breaker stays open before a half-open probe; default 10s
	Fallback          Synthesizer      // used when the provider fails or the breaker is open (a cached prompt, espeak); default nil: none
	Transient         func(error) bool // which failures are retried; default: all but a cancelled context
	Logger            zerolog.Logger   // default zerolog.Nop() (the zero Logger logs nothing); texts are never logged
}

// Resilient wraps a Synthesizer with a time limit to the first frame, retries with exponential backoff while no
// audio has reached the caller, a circuit breaker and an optional fallback Synthesizer. Once a frame was delivered
// a failure is not retried (the callee already heard the start): it is returned from Read as an *Error. It is safe
// for concurrent use.
type Resilient struct {
	next Synthesizer
	cfg  ResilientConfig

	b *breaker.Breaker
}

// NewResilient wraps next. Zero fields of c take their defaults.
func NewResilient(next Synthesizer, c ResilientConfig) *Resilient {
	if c.Provider == "" {
		if n, ok := next.(interface{ Name() string }); ok {
			c.Provider = n.Name()
		} else {
			c.Provider = breaker.ProviderName(next)
		}
	}
	if c.FirstFrameTimeout <= 0 {
		c.FirstFrameTimeout = 3 * time.Second
	}
	if c.Retries == 0 {
		c.Retries = 1
	} else if c.Retries < 0 {
		c.Retries = 0
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 50 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = time.Second
	}
	if c.BreakerFailures <= 0 {
		c.BreakerFailures = 5
	}
	if c.BreakerCooldown <= 0 {
		c.BreakerCooldown = 10 * time.Second
	}
	if c.Transient == nil {
		c.Transient = func(err error) bool { return !errors.Is(err, context.Canceled) }
	}
	return &Resilient{next: next, cfg: c, b: breaker.New("tts", c.Provider, c.BreakerFailures, c.BreakerCooldown, c.Logger)}
}

// Name returns the provider name, so that a Cache over a Resilient keys its entries by the provider.
func (r *Resilient) Name() string { return r.cfg.Provider }

// State returns the breaker's state now (an open breaker whose cooldown has passed reports half-open).
func (r *Resilient) State() BreakerState { return BreakerState(r.b.State()) }

// Synthesize renders req with the provider, retrying failures that happen before the first frame; when the
// provider cannot (or the breaker is open) it renders with the Fallback, if any. The returned Source has its
// first frame ready.
func (r *Resilient) Synthesize(ctx context.Context, req Request) (audio.Source, error) {
	src, err := r.primary(ctx, req)
	if err == nil || r.cfg.Fallback == nil || ctx.Err() != nil {
		return src, err
	}
	r.cfg.Logger.Warn().Str("provider", r.cfg.Provider).Err(err).Msg("tts failed; using the fallback")
	fsrc, ferr := r.cfg.Fallback.Synthesize(ctx, req)
	if ferr != nil {
		return nil, &Error{Provider: r.cfg.Provider, Op: "fallback", Err: fmt.Errorf("%w; fallback: %w", err, ferr)}
	}
	return fsrc, nil
}

func (r *Resilient) primary(ctx context.Context, req Request) (audio.Source, error) {
	if err := r.admit(); err != nil {
		return nil, err
	}
	var last error
	for attempt := 0; ; attempt++ {
		src, err := r.attempt(ctx, req)
		if err == nil {
			return src, nil
		}
		last = err
		if ctx.Err() != nil {
			r.release() // the caller gave up; that says nothing about the provider
			return nil, r.wrap("synthesize", err)
		}
		r.failure(err)
		if attempt >= r.cfg.Retries || !r.cfg.Transient(err) || r.admit() != nil {
			break
		}
		wait := r.backoff(attempt)
		r.cfg.Logger.Debug().Str("provider", r.cfg.Provider).Int("attempt", attempt+1).Dur("wait", wait).
			Err(err).Msg("tts failed, retrying")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			r.release()
			return nil, r.wrap("synthesize", ctx.Err())
		case <-t.C:
		}
	}
	return nil, r.wrap("synthesize", last)
}

// attempt runs Synthesize and the first Read under FirstFrameTimeout, in a goroutine so that a provider that
// ignores its context cannot hold the caller. The source's context is cancelled when it ends.
func (r *Resilient) attempt(ctx context.Context, req Request) (audio.Source, error) {
	actx, cancel := context.WithCancel(ctx)
	type first struct {
		src audio.Source
		f   audio.Frame
		err error // io.EOF: an empty rendering
	}
	ch := make(chan first, 1)
	go func() {
		src, err := r.next.Synthesize(actx, req)
		if err == nil && src == nil {
			err = ErrNoAudio
		}
		if err != nil {
			ch <- first{err: err}
			return
		}
		f, err := src.Read(actx)
		ch <- first{src: src, f: f, err: err}
	}()
	t := time.NewTimer(r.cfg.FirstFrameTimeout)
	defer t.Stop()
	select {
	case a := <-ch:
		if a.err != nil && !(a.src != nil && errors.Is(a.err, io.EOF)) {
			cancel()
			return nil, a.err
		}
		r.started()
		s := &resilientSource{r: r, src: a.src, cancel: cancel, format: a.src.Format(), first: a.f, hasFirst: a.err == nil}
		if a.err != nil { // empty rendering: nothing failed
			s.end(nil)
		}
		return s, nil
	case <-t.C:
		cancel() // the attempt sees its context cancelled and ends
		return nil, fmt.Errorf("%w (%v)", ErrFirstFrameTimeout, r.cfg.FirstFrameTimeout)
	}
}

func (r *Resilient) backoff(attempt int) time.Duration {
	return breaker.Backoff(r.cfg.BackoffBase, r.cfg.BackoffMax, attempt)
}

// wrap names the provider in err, unless it already does.
func (r *Resilient) wrap(op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Provider: r.cfg.Provider, Op: op, Err: err}
}

// admit decides whether a call may go to the provider now.
func (r *Resilient) admit() error {
	switch err := r.b.Admit(); {
	case errors.Is(err, breaker.ErrProbing):
		return r.wrap("synthesize", fmt.Errorf("%w (half-open, probe in flight)", ErrCircuitOpen))
	case err != nil:
		return r.wrap("synthesize", ErrCircuitOpen)
	}
	return nil
}

// release gives back a half-open probe slot that ended without a verdict (the caller gave up).
func (r *Resilient) release() { r.b.Release() }

// started closes a half-open breaker: the probe reached the provider.
func (r *Resilient) started() { r.b.Started() }

// success records a call that ended cleanly.
func (r *Resilient) success() { r.b.Success() }

// failure records a failed call.
func (r *Resilient) failure(err error) { r.b.Failure(err) }

// resilientSource hands out the prefetched first frame, then the provider's frames; its end (EOF or failure)
// is reported to the breaker once.
// Duration forwards Sized when the wrapped rendering knows its length (0 otherwise).
func (s *resilientSource) Duration() time.Duration {
	if sz, ok := s.src.(Sized); ok {
		return sz.Duration()
	}
	return 0
}

type resilientSource struct {
	r        *Resilient
	src      audio.Source
	cancel   context.CancelFunc
	format   audio.Format
	first    audio.Frame
	hasFirst bool
	done     bool
	err      error // the end: io.EOF or the wrapped failure
}

func (s *resilientSource) Format() audio.Format { return s.format }

func (s *resilientSource) Read(ctx context.Context) (audio.Frame, error) {
	if s.hasFirst {
		s.hasFirst = false
		f := s.first
		s.first = audio.Frame{}
		return f, nil
	}
	if s.done {
		return audio.Frame{}, s.err
	}
	f, err := s.src.Read(ctx)
	if err != nil {
		if errors.Is(err, io.EOF) {
			s.end(nil)
		} else if ctx.Err() != nil {
			return audio.Frame{}, err // the caller stopped reading; not the provider's failure
		} else {
			s.end(err)
		}
		return audio.Frame{}, s.err
	}
	return f, nil
}

// end records how the rendering ended and frees the attempt's context.
func (s *resilientSource) end(err error) {
	s.done = true
	s.cancel()
	if err == nil {
		s.err = io.EOF
		s.r.success()
		return
	}
	s.err = s.r.wrap("read", err)
	s.r.failure(err)
}
