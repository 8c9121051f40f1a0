// Package breaker is the circuit breaker the speech provider wrappers (asr.Resilient, tts.Resilient) share.
package breaker

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// State is a breaker's state.
type State int32

// States, in the order asr.BreakerState and tts.BreakerState number them.
const (
	Closed   State = iota // calls flow
	Open                  // calls are refused until the cooldown passes
	HalfOpen              // one probe call is allowed; its outcome closes or reopens the breaker
)

// Errors Admit returns.
var (
	ErrOpen    = errors.New("breaker open")               // the cooldown has not passed
	ErrProbing = errors.New("half-open, probe in flight") // another call is the probe
)

// Breaker opens after Failures consecutive failures, refuses calls for Cooldown, then lets one probe through.
// A started probe closes it; a failed probe reopens it. Safe for concurrent use.
type Breaker struct {
	kind, provider string // for logs: "asr"/"tts" and the provider's name
	limit          int
	cooldown       time.Duration
	log            zerolog.Logger

	mu       sync.Mutex
	now      func() time.Time
	state    State
	failures int
	openedAt time.Time
	probing  bool
}

// New returns a closed breaker.
func New(kind, provider string, failures int, cooldown time.Duration, log zerolog.Logger) *Breaker {
	return &Breaker{kind: kind, provider: provider, limit: failures, cooldown: cooldown, log: log, now: time.Now}
}

// SetClock replaces the clock, for tests of the cooldown.
func (b *Breaker) SetClock(now func() time.Time) {
	b.mu.Lock()
	b.now = now
	b.mu.Unlock()
}

// State returns the state now (an open breaker whose cooldown has passed reports half-open).
func (b *Breaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Open && b.now().Sub(b.openedAt) >= b.cooldown {
		return HalfOpen
	}
	return b.state
}

// Admit decides whether a call may go to the provider now: nil, ErrOpen or ErrProbing.
func (b *Breaker) Admit() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case Open:
		if b.now().Sub(b.openedAt) < b.cooldown {
			return ErrOpen
		}
		b.state, b.probing = HalfOpen, true
		b.log.Info().Str("provider", b.provider).Msg(b.kind + " breaker half-open: probing")
	case HalfOpen:
		if b.probing {
			return ErrProbing
		}
		b.probing = true
	}
	return nil
}

// Release gives back a half-open probe slot that ended without a verdict (the caller's context ended).
func (b *Breaker) Release() {
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

// Started closes a half-open breaker: the probe reached the provider. In the closed state the failure count stays,
// so that a provider whose calls start and then die still opens the breaker.
func (b *Breaker) Started() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if b.state == HalfOpen {
		b.state, b.failures = Closed, 0
		b.log.Info().Str("provider", b.provider).Msg(b.kind + " breaker closed")
	}
}

// Success records a call that ended cleanly.
func (b *Breaker) Success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != Closed {
		b.log.Info().Str("provider", b.provider).Msg(b.kind + " breaker closed")
	}
	b.state, b.failures, b.probing = Closed, 0, false
}

// Failure records a failed call; it opens the breaker after the limit, or at once when it was the probe.
func (b *Breaker) Failure(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	b.probing = false
	if b.state == HalfOpen || (b.state == Closed && b.failures >= b.limit) {
		b.state, b.openedAt = Open, b.now()
		b.log.Warn().Str("provider", b.provider).Int("failures", b.failures).Err(err).Msg(b.kind + " breaker open")
	}
}

// ProviderName names a provider after the package of its type, for errors, logs and metrics:
// "*funasr.Recognizer" → "funasr".
func ProviderName(v any) string {
	name := strings.TrimLeft(fmt.Sprintf("%T", v), "*")
	if i := strings.IndexByte(name, '.'); i > 0 {
		name = name[:i]
	}
	return name
}

// Backoff is the wait before retry attempt (0 for the first retry): base doubled per attempt up to max, then
// spread by ±20 % so that many calls retrying after one outage do not hit the provider in step.
func Backoff(base, max time.Duration, attempt int) time.Duration {
	d := base << attempt
	if d > max || d <= 0 {
		d = max
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
