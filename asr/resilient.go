package asr

import (
	"context"
	"errors"
	"fmt"
	"github.com/outcall/outcall/internal/breaker"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/pkg/audio"
)

// Sentinel errors of the resilience layer; the errors it returns wrap them (test with errors.Is).
var (
	ErrCircuitOpen  = errors.New("circuit breaker open")                   // the provider failed too often; Start refused
	ErrStartTimeout = errors.New("start timed out")                        // one Start attempt exceeded StartTimeout
	ErrStreamEnded  = errors.New("provider ended the stream unexpectedly") // Results closed before Close
	ErrCloseTimeout = errors.New("no end of results after close")          // the provider sent no end within CloseTimeout
	ErrClosed       = errors.New("stream closed")                          // Write after Close
)

// Error is a failure of a named speech provider: which provider, what it was doing and why. Providers return it so
// that the resilience layer can tell transient failures (network, overload, timeouts) from permanent ones.
type Error struct {
	Provider  string // "funasr", "vosk", "openai", ...
	Op        string // "dial", "start", "write", "read", "transcribe", ...
	Err       error  // the cause
	Transient bool   // a retry may succeed
}

// Error implements error.
func (e *Error) Error() string {
	return "asr " + e.Provider + ": " + e.Op + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// IsTransient reports whether err is worth retrying: an *Error marked Transient, a network timeout, a refused or
// reset connection, or a StartTimeout. A cancelled context is never transient.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var e *Error
	if errors.As(err, &e) && e.Transient {
		return true
	}
	if errors.Is(err, ErrStartTimeout) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// BreakerState is the state of a circuit breaker.
type BreakerState int32

// Breaker states.
const (
	BreakerClosed   BreakerState = iota // calls flow
	BreakerOpen                         // calls are refused until the cooldown passes
	BreakerHalfOpen                     // one probe call is allowed; its outcome closes or reopens the breaker
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
	Provider        string           // name used in errors and logs; default: the Recognizer's package name
	StartTimeout    time.Duration    // limit of one Start attempt; default 5s
	Retries         int              // further Start attempts after a transient failure; default 2; <0: none
	BackoffBase     time.Duration    // wait before the first retry, doubled each retry, ±20 % jitter; default 100ms
	BackoffMax      time.Duration    // longest wait between retries; default 2s
	BreakerFailures int              // consecutive failures that open the breaker; default 5
	BreakerCooldown time.Duration    // time the breaker stays open before a half-open probe; default 10s
	CloseTimeout    time.Duration    // after Close, how long to wait for the provider to end Results; default 5s
	Transient       func(error) bool // which failures are retried; default IsTransient
	Logger          zerolog.Logger   // default zerolog.Nop() (the zero Logger logs nothing)
}

// Resilient wraps a Recognizer with a start time limit, retries with exponential backoff, a circuit breaker and a
// stream guard: a stream whose provider fails or stalls delivers a final Result with Err set and closes Results, so
// a caller never hangs. It is safe for concurrent use.
type Resilient struct {
	r   Recognizer
	cfg ResilientConfig

	b *breaker.Breaker
}

// NewResilient wraps r. Zero fields of c take their defaults.
func NewResilient(r Recognizer, c ResilientConfig) *Resilient {
	if c.Provider == "" {
		c.Provider = breaker.ProviderName(r)
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 5 * time.Second
	}
	if c.Retries == 0 {
		c.Retries = 2
	} else if c.Retries < 0 {
		c.Retries = 0
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 100 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 2 * time.Second
	}
	if c.BreakerFailures <= 0 {
		c.BreakerFailures = 5
	}
	if c.BreakerCooldown <= 0 {
		c.BreakerCooldown = 10 * time.Second
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = 5 * time.Second
	}
	if c.Transient == nil {
		c.Transient = IsTransient
	}
	return &Resilient{r: r, cfg: c, b: breaker.New("asr", c.Provider, c.BreakerFailures, c.BreakerCooldown, c.Logger)}
}

// State returns the breaker's state now (an open breaker whose cooldown has passed reports half-open).
func (r *Resilient) State() BreakerState { return BreakerState(r.b.State()) }

// Start starts a stream on the wrapped Recognizer, retrying transient failures. The stream lives until ctx ends or
// its Results are closed.
func (r *Resilient) Start(ctx context.Context, c Config) (Stream, error) {
	if err := r.admit(); err != nil {
		return nil, err
	}
	var last error
	for attempt := 0; ; attempt++ {
		s, cancel, err := r.startOnce(ctx, c)
		if err == nil {
			r.started()
			return newGuard(r, s, cancel, ctx), nil
		}
		last = err
		if ctx.Err() != nil {
			// The caller gave up; that says nothing about the provider.
			r.release()
			return nil, r.wrap("start", err, false)
		}
		r.failure(err)
		if attempt >= r.cfg.Retries || !r.cfg.Transient(err) {
			break
		}
		if r.admit() != nil {
			break
		}
		wait := r.backoff(attempt)
		r.cfg.Logger.Debug().Str("provider", r.cfg.Provider).Int("attempt", attempt+1).Dur("wait", wait).
			Err(err).Msg("asr start failed, retrying")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			r.release()
			return nil, r.wrap("start", ctx.Err(), false)
		case <-t.C:
		}
	}
	return nil, r.wrap("start", last, r.cfg.Transient(last))
}

// startOnce runs one Start attempt under StartTimeout. The stream gets its own context, cancelled when the attempt
// times out or, on success, when the guarded stream ends.
func (r *Resilient) startOnce(ctx context.Context, c Config) (Stream, context.CancelFunc, error) {
	sctx, cancel := context.WithCancel(ctx)
	type result struct {
		s   Stream
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := r.r.Start(sctx, c)
		ch <- result{s, err}
	}()
	t := time.NewTimer(r.cfg.StartTimeout)
	defer t.Stop()
	select {
	case res := <-ch:
		if res.err == nil && res.s == nil {
			res.err = errors.New("Start returned neither a stream nor an error")
		}
		if res.err != nil {
			cancel()
			return nil, nil, res.err
		}
		return res.s, cancel, nil
	case <-t.C:
		cancel()
		// The attempt sees its context cancelled; if it still yields a stream, close it.
		go func() {
			if res := <-ch; res.s != nil {
				_ = res.s.Close()
			}
		}()
		return nil, nil, fmt.Errorf("%w after %v", ErrStartTimeout, r.cfg.StartTimeout)
	}
}

func (r *Resilient) backoff(attempt int) time.Duration {
	return breaker.Backoff(r.cfg.BackoffBase, r.cfg.BackoffMax, attempt)
}

// wrap names the provider in err, unless a provider already did.
func (r *Resilient) wrap(op string, err error, transient bool) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Provider: r.cfg.Provider, Op: op, Err: err, Transient: transient}
}

// admit decides whether a call may go to the provider now.
func (r *Resilient) admit() error {
	switch err := r.b.Admit(); {
	case errors.Is(err, breaker.ErrProbing):
		return r.wrap("start", fmt.Errorf("%w (half-open, probe in flight)", ErrCircuitOpen), false)
	case err != nil:
		return r.wrap("start", ErrCircuitOpen, false)
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

// guard is the stream the Resilient hands out. Write is a pass-through plus one atomic load; a pump goroutine
// forwards results and turns provider failure, silence after Close or an early end into a final error Result.
type guard struct {
	r      *Resilient
	inner  Stream
	cancel context.CancelFunc
	ctx    context.Context
	out    chan Result

	failed atomic.Pointer[error] // first failure seen by Write
	fail   chan struct{}         // closed by Write on failure
	closed chan struct{}         // closed by Close
	once   sync.Once
	fonce  sync.Once
}

func newGuard(r *Resilient, s Stream, cancel context.CancelFunc, ctx context.Context) *guard {
	g := &guard{
		r: r, inner: s, cancel: cancel, ctx: ctx,
		out:    make(chan Result, 8),
		fail:   make(chan struct{}),
		closed: make(chan struct{}),
	}
	go g.pump()
	return g
}

// Write passes f to the provider. After a failure it returns that failure without calling the provider.
func (g *guard) Write(f audio.Frame) error {
	if p := g.failed.Load(); p != nil {
		return *p
	}
	if err := g.inner.Write(f); err != nil {
		select {
		case <-g.closed:
			return g.r.wrap("write", fmt.Errorf("%w: %w", ErrClosed, err), false)
		default:
		}
		werr := g.r.wrap("write", err, g.r.cfg.Transient(err))
		g.fonce.Do(func() {
			g.failed.Store(&werr)
			close(g.fail)
		})
		return werr
	}
	return nil
}

// Results delivers the provider's results; it is closed after the stream ends, with a final error Result first if
// the provider failed.
func (g *guard) Results() <-chan Result { return g.out }

// Close ends the audio; the provider's last results still arrive on Results, which is closed within CloseTimeout.
func (g *guard) Close() error {
	var err error
	g.once.Do(func() {
		close(g.closed)
		if e := g.inner.Close(); e != nil {
			err = g.r.wrap("close", e, false)
		}
	})
	return err
}

func (g *guard) pump() {
	defer close(g.out)
	defer g.cancel()
	in := g.inner.Results()
	closed := g.closed
	var deadline <-chan time.Time
	var sawErr bool
	for {
		select {
		case res, ok := <-in:
			if !ok {
				select {
				case <-g.closed:
					if !sawErr {
						g.r.success()
					}
				default:
					if !sawErr {
						g.finish(ErrStreamEnded, true)
					}
				}
				return
			}
			if res.Err != nil {
				sawErr = true
				res.Final = true
				res.Err = g.r.wrap("recognize", res.Err, g.r.cfg.Transient(res.Err))
				g.r.failure(res.Err)
			}
			if !g.send(res) {
				return
			}
		case <-g.fail:
			if !sawErr { // the provider may have reported the same failure already
				g.finish(*g.failed.Load(), true)
			}
			_ = g.inner.Close()
			return
		case <-closed:
			closed = nil
			t := time.NewTimer(g.r.cfg.CloseTimeout)
			defer t.Stop()
			deadline = t.C
		case <-deadline:
			g.finish(fmt.Errorf("%w within %v", ErrCloseTimeout, g.r.cfg.CloseTimeout), true)
			return
		case <-g.ctx.Done():
			return
		}
	}
}

// finish records a failure and delivers it as the final Result.
func (g *guard) finish(err error, record bool) {
	err = g.r.wrap("recognize", err, g.r.cfg.Transient(err))
	if record {
		g.r.failure(err)
	}
	g.send(Result{Final: true, Err: err})
}

func (g *guard) send(res Result) bool {
	select {
	case g.out <- res:
		return true
	case <-g.ctx.Done():
		return false
	}
}
