package tts_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/ttstest"
	"github.com/outcall/outcall/tts/ttstest/modem"
)

// drain reads src to its end and returns the samples and the error that ended it (nil for io.EOF).
func drain(t *testing.T, ctx context.Context, src audio.Source) ([]int16, error) {
	t.Helper()
	var pcm []int16
	for {
		f, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			return pcm, nil
		}
		if err != nil {
			return pcm, err
		}
		pcm = append(pcm, f.Samples...)
	}
}

// fast keeps retries quick in tests; the values do not matter to the assertions.
func fast(c tts.ResilientConfig) tts.ResilientConfig {
	c.BackoffBase, c.BackoffMax = time.Millisecond, 2*time.Millisecond
	return c
}

func TestResilient(t *testing.T) {
	ctx := t.Context()
	const text = "您好,请问是张先生吗"
	for _, tc := range []struct {
		name      string
		primary   *ttstest.Synthesizer
		cfg       tts.ResilientConfig
		fallback  bool
		wantCalls int64
		wantErr   error  // from Synthesize
		wantRead  error  // from reading the source
		wantText  string // decoded audio, when the rendering completes
	}{
		{name: "healthy", primary: &ttstest.Synthesizer{}, wantCalls: 1, wantText: text},
		{name: "error retried then fails", primary: &ttstest.Synthesizer{Err: ttstest.ErrInjected},
			cfg: tts.ResilientConfig{Retries: 2}, wantCalls: 3, wantErr: ttstest.ErrInjected},
		{name: "no retries", primary: &ttstest.Synthesizer{Err: ttstest.ErrInjected},
			cfg: tts.ResilientConfig{Retries: -1}, wantCalls: 1, wantErr: ttstest.ErrInjected},
		{name: "slow first frame times out", primary: &ttstest.Synthesizer{Delay: time.Hour},
			cfg: tts.ResilientConfig{FirstFrameTimeout: 20 * time.Millisecond}, wantCalls: 2, wantErr: tts.ErrFirstFrameTimeout},
		{name: "failure after audio is not retried", primary: &ttstest.Synthesizer{FailAfter: 3},
			wantCalls: 1, wantRead: ttstest.ErrInjected},
		{name: "fallback on error", primary: &ttstest.Synthesizer{Err: ttstest.ErrInjected}, fallback: true,
			wantCalls: 2, wantText: text},
		{name: "fallback on timeout", primary: &ttstest.Synthesizer{Delay: time.Hour}, fallback: true,
			cfg: tts.ResilientConfig{FirstFrameTimeout: 20 * time.Millisecond, Retries: -1}, wantCalls: 1, wantText: text},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fast(tc.cfg)
			var fb *ttstest.Synthesizer
			if tc.fallback {
				fb = &ttstest.Synthesizer{}
				cfg.Fallback = fb
			}
			r := tts.NewResilient(tc.primary, cfg)
			src, err := r.Synthesize(ctx, tts.Request{Text: text, Rate: 8000})
			if tc.primary.Calls() != tc.wantCalls {
				t.Errorf("provider called %d times, want %d", tc.primary.Calls(), tc.wantCalls)
			}
			if tc.wantErr != nil {
				var te *tts.Error
				if !errors.Is(err, tc.wantErr) || !errors.As(err, &te) || te.Provider != "ttstest" {
					t.Fatalf("err %v, want %v from provider ttstest", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pcm, err := drain(t, ctx, src)
			if tc.wantRead != nil {
				if !errors.Is(err, tc.wantRead) || !strings.Contains(err.Error(), "tts ttstest: read") || len(pcm) != 3*160 {
					t.Fatalf("read %d samples, err %v", len(pcm), err)
				}
				if _, err2 := src.Read(ctx); !errors.Is(err2, tc.wantRead) {
					t.Errorf("Read after the failure: %v", err2)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := modem.Decode(pcm, 8000); err != nil || got != tc.wantText {
				t.Errorf("audio decodes to %q, %v", got, err)
			}
			if tc.fallback && fb.Calls() != 1 {
				t.Errorf("fallback called %d times", fb.Calls())
			}
		})
	}
}

func TestResilientBreaker(t *testing.T) {
	ctx := t.Context()
	primary := &ttstest.Synthesizer{Err: ttstest.ErrInjected}
	fb := &ttstest.Synthesizer{}
	r := tts.NewResilient(primary, fast(tts.ResilientConfig{Retries: -1, BreakerFailures: 2, BreakerCooldown: time.Minute}))
	var mu sync.Mutex
	now := time.Unix(1e9, 0)
	r.SetNow(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })

	for range 2 {
		if _, err := r.Synthesize(ctx, tts.Request{Text: "x"}); !errors.Is(err, ttstest.ErrInjected) {
			t.Fatalf("err %v", err)
		}
	}
	if r.State() != tts.BreakerOpen {
		t.Fatalf("state %v after 2 failures", r.State())
	}
	if _, err := r.Synthesize(ctx, tts.Request{Text: "x"}); !errors.Is(err, tts.ErrCircuitOpen) || primary.Calls() != 2 {
		t.Fatalf("open breaker: err %v, provider calls %d", err, primary.Calls())
	}

	// With a fallback, an open breaker still yields audio, without calling the provider.
	withFB := tts.NewResilient(primary, fast(tts.ResilientConfig{Retries: -1, BreakerFailures: 1, Fallback: fb}))
	for range 3 {
		src, err := withFB.Synthesize(ctx, tts.Request{Text: "hi", Rate: 8000})
		if err != nil {
			t.Fatal(err)
		}
		if pcm, err := drain(t, ctx, src); err != nil || len(pcm) == 0 {
			t.Fatalf("fallback audio %d samples, %v", len(pcm), err)
		}
	}
	if primary.Calls() != 3 || fb.Calls() != 3 {
		t.Fatalf("provider calls %d (want 3: 2 before + 1 to open), fallback calls %d", primary.Calls(), fb.Calls())
	}

	// After the cooldown one probe goes through; a healthy provider closes the breaker.
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if r.State() != tts.BreakerHalfOpen {
		t.Fatalf("state %v after cooldown", r.State())
	}
	primary.Err = nil
	src, err := r.Synthesize(ctx, tts.Request{Text: "ok", Rate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := drain(t, ctx, src); err != nil {
		t.Fatal(err)
	}
	if r.State() != tts.BreakerClosed {
		t.Fatalf("state %v after a good probe", r.State())
	}
}

func TestResilientCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	primary := &ttstest.Synthesizer{Delay: time.Hour}
	r := tts.NewResilient(primary, tts.ResilientConfig{FirstFrameTimeout: time.Hour})
	go func() {
		time.Sleep(10 * time.Millisecond)
		cancel()
	}()
	_, err := r.Synthesize(ctx, tts.Request{Text: "x"})
	if !errors.Is(err, context.Canceled) || primary.Calls() != 1 {
		t.Fatalf("err %v, calls %d", err, primary.Calls())
	}
	if r.State() != tts.BreakerClosed {
		t.Fatalf("a cancelled caller changed the breaker: %v", r.State())
	}
}

// loopSynth renders any text as the same frame forever, with no allocation: the cheapest Synthesizer, so that
// a benchmark over it measures the wrapper's own cost.
type loopSynth struct{ f audio.Frame }

func (l loopSynth) Synthesize(ctx context.Context, r tts.Request) (audio.Source, error) {
	return loopSource(l), nil
}

type loopSource struct{ f audio.Frame }

func (l loopSource) Format() audio.Format                      { return l.f.Format() }
func (l loopSource) Read(context.Context) (audio.Frame, error) { return l.f, nil }

// BenchmarkResilientFrame measures the per-frame cost of reading through a Resilient against reading the
// provider's source directly.
func BenchmarkResilientFrame(b *testing.B) {
	m := loopSynth{audio.Frame{Rate: 8000, Samples: make([]int16, 160)}}
	for _, bc := range []struct {
		name string
		s    tts.Synthesizer
	}{{"direct", m}, {"resilient", tts.NewResilient(m, tts.ResilientConfig{})}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			src, err := bc.s.Synthesize(ctx, tts.Request{Text: "x"})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := src.Read(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
