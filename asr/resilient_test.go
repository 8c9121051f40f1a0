package asr_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
)

// fakeRec is a scripted Recognizer: each Start consumes the next behaviour.
type fakeRec struct {
	mu     sync.Mutex
	starts int
	plan   []func(ctx context.Context) (asr.Stream, error)
}

func (f *fakeRec) Start(ctx context.Context, _ asr.Config) (asr.Stream, error) {
	f.mu.Lock()
	i := f.starts
	f.starts++
	f.mu.Unlock()
	if i >= len(f.plan) {
		return nil, errors.New("unplanned start")
	}
	return f.plan[i](ctx)
}

func (f *fakeRec) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts
}

var errRefused = &asr.Error{Provider: "fake", Op: "dial", Err: errors.New("refused"), Transient: true}
var errAuth = &asr.Error{Provider: "fake", Op: "dial", Err: errors.New("401 unauthorized")}

func fail(err error) func(context.Context) (asr.Stream, error) {
	return func(context.Context) (asr.Stream, error) { return nil, err }
}

// hang blocks until its context ends, like a dial to a black-holed address.
func hang(ctx context.Context) (asr.Stream, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// fakeStream echoes one partial per 5 frames and a final on Close; behaviour switches simulate failures.
type fakeStream struct {
	ctx     context.Context
	res     chan asr.Result
	frames  atomic.Int64
	dieAt   int64 // after this many frames the provider "dies": Write errors, Results closes
	silent  bool  // on Close, never end Results (a stalled provider)
	mu      sync.Mutex
	done    bool
	closeCh chan struct{}
}

func newFakeStream(ctx context.Context) *fakeStream {
	s := &fakeStream{ctx: ctx, res: make(chan asr.Result, 64), closeCh: make(chan struct{})}
	return s
}

func (s *fakeStream) Write(f audio.Frame) error {
	n := s.frames.Add(1)
	if s.dieAt > 0 && n >= s.dieAt {
		s.end()
		return &asr.Error{Provider: "fake", Op: "write", Err: errors.New("connection reset"), Transient: true}
	}
	if n%5 == 0 {
		s.res <- asr.Result{Text: fmt.Sprint(n)}
	}
	return nil
}

func (s *fakeStream) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		s.done = true
		close(s.res)
	}
}

func (s *fakeStream) Results() <-chan asr.Result { return s.res }

func (s *fakeStream) Close() error {
	if s.silent {
		return nil
	}
	s.mu.Lock()
	if !s.done {
		s.res <- asr.Result{Text: "final", Final: true}
	}
	s.mu.Unlock()
	s.end()
	return nil
}

func ok(mod func(*fakeStream)) func(context.Context) (asr.Stream, error) {
	return func(ctx context.Context) (asr.Stream, error) {
		s := newFakeStream(ctx)
		if mod != nil {
			mod(s)
		}
		return s, nil
	}
}

func quick(c asr.ResilientConfig) asr.ResilientConfig {
	c.Provider = "fake"
	c.BackoffBase = time.Millisecond
	c.BackoffMax = 2 * time.Millisecond
	if c.StartTimeout == 0 {
		c.StartTimeout = time.Second
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = time.Second
	}
	return c
}

func frame() audio.Frame { return audio.Frame{Rate: 16000, Samples: make([]int16, 320)} }

func drain(t *testing.T, s asr.Stream) []asr.Result {
	t.Helper()
	var out []asr.Result
	timeout := time.After(10 * time.Second)
	for {
		select {
		case r, ok := <-s.Results():
			if !ok {
				return out
			}
			out = append(out, r)
		case <-timeout:
			t.Fatal("Results never closed")
		}
	}
}

func TestResilientRetriesTransient(t *testing.T) {
	f := &fakeRec{plan: []func(context.Context) (asr.Stream, error){fail(errRefused), fail(errRefused), ok(nil)}}
	r := asr.NewResilient(f, quick(asr.ResilientConfig{Retries: 2}))
	s, err := r.Start(t.Context(), asr.Config{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if f.count() != 3 {
		t.Errorf("starts = %d, want 3", f.count())
	}
	for range 10 {
		if err := s.Write(frame()); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	res := drain(t, s)
	if len(res) != 3 || !res[2].Final || res[2].Text != "final" || res[2].Err != nil {
		t.Errorf("results = %+v", res)
	}
}

func TestResilientPermanentNotRetried(t *testing.T) {
	f := &fakeRec{plan: []func(context.Context) (asr.Stream, error){fail(errAuth), ok(nil)}}
	r := asr.NewResilient(f, quick(asr.ResilientConfig{Retries: 3}))
	_, err := r.Start(t.Context(), asr.Config{})
	if err == nil || f.count() != 1 {
		t.Fatalf("err=%v starts=%d, want error after 1 start", err, f.count())
	}
	var e *asr.Error
	if !errors.As(err, &e) || e.Provider != "fake" || asr.IsTransient(err) {
		t.Errorf("error %v does not name the provider or is marked transient", err)
	}
}

func TestResilientStartTimeout(t *testing.T) {
	f := &fakeRec{plan: []func(context.Context) (asr.Stream, error){hang, hang}}
	r := asr.NewResilient(f, quick(asr.ResilientConfig{StartTimeout: 30 * time.Millisecond, Retries: 1}))
	_, err := r.Start(t.Context(), asr.Config{})
	if !errors.Is(err, asr.ErrStartTimeout) {
		t.Fatalf("err = %v, want ErrStartTimeout", err)
	}
	if f.count() != 2 {
		t.Errorf("starts = %d, want 2 (timeout is transient)", f.count())
	}
}

func TestResilientBreaker(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	f := &fakeRec{plan: []func(context.Context) (asr.Stream, error){
		fail(errRefused), fail(errRefused), fail(errRefused), // opens at 3
		fail(errRefused), // half-open probe fails → open again
		ok(nil),          // second probe succeeds → closed
		ok(nil),
	}}
	r := asr.NewResilient(f, quick(asr.ResilientConfig{Retries: -1, BreakerFailures: 3, BreakerCooldown: time.Minute}))
	asr.SetClock(r, clock)
	ctx := t.Context()
	for i := range 3 {
		if r.State() != asr.BreakerClosed {
			t.Fatalf("state before failure %d = %v", i, r.State())
		}
		if _, err := r.Start(ctx, asr.Config{}); err == nil {
			t.Fatal("want failure")
		}
	}
	if r.State() != asr.BreakerOpen {
		t.Fatalf("state = %v, want open", r.State())
	}
	if _, err := r.Start(ctx, asr.Config{}); !errors.Is(err, asr.ErrCircuitOpen) {
		t.Fatalf("open breaker: err = %v", err)
	}
	if f.count() != 3 {
		t.Fatalf("open breaker reached the provider: %d starts", f.count())
	}
	advance(time.Minute)
	if r.State() != asr.BreakerHalfOpen {
		t.Fatalf("after cooldown state = %v", r.State())
	}
	if _, err := r.Start(ctx, asr.Config{}); err == nil || errors.Is(err, asr.ErrCircuitOpen) {
		t.Fatalf("probe: err = %v, want provider failure", err)
	}
	if r.State() != asr.BreakerOpen {
		t.Fatalf("failed probe: state = %v, want open", r.State())
	}
	advance(time.Minute)
	s, err := r.Start(ctx, asr.Config{})
	if err != nil {
		t.Fatalf("second probe: %v", err)
	}
	if r.State() != asr.BreakerClosed {
		t.Fatalf("successful probe: state = %v", r.State())
	}
	s.Close()
	drain(t, s)
}

func TestResilientProviderDiesMidUtterance(t *testing.T) {
	f := &fakeRec{plan: []func(context.Context) (asr.Stream, error){ok(func(s *fakeStream) { s.dieAt = 7 })}}
	r := asr.NewResilient(f, quick(asr.ResilientConfig{}))
	s, err := r.Start(t.Context(), asr.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for range 20 {
		if werr = s.Write(frame()); werr != nil {
			break
		}
	}
	if werr == nil {
		t.Fatal("Write never failed")
	}
	if err := s.Write(frame()); !errors.Is(err, werr) && err.Error() != werr.Error() {
		t.Errorf("second Write err = %v, want the first failure", err)
	}
	res := drain(t, s)
	last := res[len(res)-1]
	if !last.Final || last.Err == nil {
		t.Fatalf("last result = %+v, want final with Err", last)
	}
	var e *asr.Error
	if !errors.As(last.Err, &e) || e.Provider != "fake" {
		t.Errorf("error %v does not name the provider", last.Err)
	}
}

func TestResilientStalledProviderAfterClose(t *testing.T) {
	f := &fakeRec{plan: []func(context.Context) (asr.Stream, error){ok(func(s *fakeStream) { s.silent = true })}}
	r := asr.NewResilient(f, quick(asr.ResilientConfig{CloseTimeout: 50 * time.Millisecond}))
	s, err := r.Start(t.Context(), asr.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.Write(frame())
	s.Close()
	res := drain(t, s)
	if len(res) != 1 || !errors.Is(res[0].Err, asr.ErrCloseTimeout) {
		t.Fatalf("results = %+v, want one ErrCloseTimeout", res)
	}
}

func TestResilientEarlyEnd(t *testing.T) {
	var inner *fakeStream
	f := &fakeRec{plan: []func(context.Context) (asr.Stream, error){ok(func(s *fakeStream) { inner = s })}}
	r := asr.NewResilient(f, quick(asr.ResilientConfig{}))
	s, err := r.Start(t.Context(), asr.Config{})
	if err != nil {
		t.Fatal(err)
	}
	inner.end()
	res := drain(t, s)
	if len(res) != 1 || !errors.Is(res[0].Err, asr.ErrStreamEnded) {
		t.Fatalf("results = %+v, want ErrStreamEnded", res)
	}
}

func TestResilientNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	plan := make([]func(context.Context) (asr.Stream, error), 200)
	for i := range plan {
		plan[i] = ok(nil)
	}
	f := &fakeRec{plan: plan}
	r := asr.NewResilient(f, quick(asr.ResilientConfig{}))
	for range 100 {
		s, err := r.Start(t.Context(), asr.Config{})
		if err != nil {
			t.Fatal(err)
		}
		s.Write(frame())
		s.Close()
		drain(t, s)
	}
	// Streams abandoned by cancelling their context must stop too.
	ctx, cancel := context.WithCancel(t.Context())
	for range 100 {
		if _, err := r.Start(ctx, asr.Config{}); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Errorf("goroutines: %d before, %d after", before, n)
	}
}

func BenchmarkResilientWrite(b *testing.B) {
	for _, wrapped := range []bool{false, true} {
		b.Run(fmt.Sprintf("wrapped=%v", wrapped), func(b *testing.B) {
			ctx := b.Context()
			inner := &nopStream{res: make(chan asr.Result)}
			var s asr.Stream = inner
			if wrapped {
				r := asr.NewResilient(recFunc(func(context.Context, asr.Config) (asr.Stream, error) { return inner, nil }),
					asr.ResilientConfig{})
				var err error
				if s, err = r.Start(ctx, asr.Config{}); err != nil {
					b.Fatal(err)
				}
			}
			f := frame()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := s.Write(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type recFunc func(context.Context, asr.Config) (asr.Stream, error)

func (f recFunc) Start(ctx context.Context, c asr.Config) (asr.Stream, error) { return f(ctx, c) }

type nopStream struct {
	res chan asr.Result
	n   int
}

func (s *nopStream) Write(f audio.Frame) error  { s.n += len(f.Samples); return nil }
func (s *nopStream) Results() <-chan asr.Result { return s.res }
func (s *nopStream) Close() error               { return nil }

func TestResilientNamesProvider(t *testing.T) {
	f := &fakeRec{plan: []func(context.Context) (asr.Stream, error){fail(errors.New("boom"))}}
	r := asr.NewResilient(f, asr.ResilientConfig{Retries: -1})
	_, err := r.Start(t.Context(), asr.Config{})
	if err == nil || err.Error() != "asr asr_test: start: boom" {
		t.Errorf("err = %v, want the provider named after the Recognizer's package", err)
	}
	if asr.IsTransient(err) {
		t.Error("a plain error is not transient")
	}
	if asr.IsTransient(fmt.Errorf("x: %w", context.Canceled)) || !asr.IsTransient(asr.ErrStartTimeout) {
		t.Error("IsTransient misclassifies cancellation or start timeouts")
	}
}
