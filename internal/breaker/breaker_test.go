package breaker

import (
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestBreakerCycle(t *testing.T) {
	now := time.Unix(0, 0)
	b := New("asr", "fake", 2, 10*time.Second, zerolog.Nop())
	b.SetClock(func() time.Time { return now })
	boom := errors.New("boom")
	b.Failure(boom)
	if b.Admit() != nil || b.State() != Closed {
		t.Fatal("one failure of two opened the breaker")
	}
	b.Failure(boom)
	if err := b.Admit(); !errors.Is(err, ErrOpen) || b.State() != Open {
		t.Fatalf("after two failures: Admit %v, state %v", err, b.State())
	}
	now = now.Add(10 * time.Second)
	if b.State() != HalfOpen || b.Admit() != nil {
		t.Fatal("the cooldown did not let a probe through")
	}
	if err := b.Admit(); !errors.Is(err, ErrProbing) {
		t.Fatalf("a second call during the probe: %v", err)
	}
	b.Failure(boom) // the probe failed: open again at once
	if err := b.Admit(); !errors.Is(err, ErrOpen) {
		t.Fatalf("after a failed probe: %v", err)
	}
	now = now.Add(10 * time.Second)
	_ = b.Admit()
	b.Started()
	if b.State() != Closed || b.Admit() != nil {
		t.Fatal("a started probe did not close the breaker")
	}
}

func TestProviderNameAndBackoff(t *testing.T) {
	type recognizer struct{}
	if got := ProviderName(&recognizer{}); got != "breaker" {
		t.Fatalf("ProviderName = %q, want the package name", got)
	}
	for attempt, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second} {
		for range 20 {
			d := Backoff(100*time.Millisecond, time.Second, attempt)
			if d < want*8/10 || d > want*12/10 {
				t.Fatalf("attempt %d: %v, want %v ± 20 %%", attempt, d, want)
			}
		}
	}
	if d := Backoff(time.Second, 2*time.Second, 70); d < 1600*time.Millisecond || d > 2400*time.Millisecond {
		t.Fatalf("an overflowing shift must cap at max: %v", d)
	}
}
