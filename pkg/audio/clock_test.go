package audio

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"
)

// fakeClock is simulated time: WaitUntil jumps to the deadline plus a deterministic wake-up lateness, and, when
// gate is set, first waits for the test to allow the tick.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	n     int
	late  func(n int) time.Duration
	gate  chan struct{}
	waits int
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) WaitUntil(ctx context.Context, t time.Time) bool {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return false
		}
	}
	if ctx.Err() != nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.After(f.now) {
		f.now = t
	}
	if f.late != nil {
		f.now = f.now.Add(f.late(f.n))
	}
	f.n++
	return true
}

type tickRecord struct {
	sched, actual time.Time
	first         int16
	streams       int
}

// recordSender records each batch; onBatch, if set, runs inside SendBatch.
type recordSender struct {
	mu      sync.Mutex
	now     func() time.Time
	ticks   []tickRecord
	onBatch func(out []Outgoing)
}

func (r *recordSender) SendBatch(tick time.Time, out []Outgoing) {
	r.mu.Lock()
	rec := tickRecord{sched: tick, actual: r.now(), streams: len(out)}
	if len(out) > 0 && len(out[0].Frame.Samples) > 0 {
		rec.first = out[0].Frame.Samples[0]
	}
	r.ticks = append(r.ticks, rec)
	r.mu.Unlock()
	if r.onBatch != nil {
		r.onBatch(out)
	}
}

func (r *recordSender) snapshot() []tickRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]tickRecord(nil), r.ticks...)
}

func frameN(n int) Frame {
	s := make([]int16, 160)
	s[0] = int16(n)
	return Frame{Rate: 8000, Samples: s}
}

// TestClockNoDriftSimulated runs 10,000 frames on simulated time whose wake-ups are late by 0-3.9 ms (and 15 ms
// every 1000th tick): frame N must carry tick start+N×20 ms exactly and go out no later than that wake-up
// lateness, i.e. lateness never accumulates.
func TestClockNoDriftSimulated(t *testing.T) {
	const frames = 10000
	start := time.Unix(1_700_000_000, 0)
	fc := &fakeClock{now: start, late: func(n int) time.Duration {
		if n%1000 == 999 {
			return 15 * time.Millisecond
		}
		return time.Duration((n*7919)%40) * 100 * time.Microsecond
	}}
	c := NewClock(ClockConfig{})
	c.src = fc
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rs := &recordSender{now: fc.Now}
	g := c.NewGroup(rs)
	s, err := g.NewPlayout(PlayoutConfig{Depth: 4})
	if err != nil {
		t.Fatal(err)
	}
	next := 0
	for ; next < 4; next++ {
		if err := s.Write(ctx, frameN(next)); err != nil {
			t.Fatal(err)
		}
	}
	rs.onBatch = func([]Outgoing) {
		if next < frames {
			if err := s.Write(ctx, frameN(next)); err != nil {
				t.Error(err)
			}
			next++
		}
		if s.Stats().Sent == frames {
			cancel()
		}
	}
	if err := c.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	ticks := rs.snapshot()
	if len(ticks) != frames {
		t.Fatalf("%d batches, want %d", len(ticks), frames)
	}
	for n, tk := range ticks {
		want := start.Add(time.Duration(n) * FrameDuration)
		if !tk.sched.Equal(want) {
			t.Fatalf("tick %d scheduled %v, want %v", n, tk.sched.Sub(start), want.Sub(start))
		}
		if tk.first != int16(n) {
			t.Fatalf("tick %d carried frame %d", n, tk.first)
		}
		// Each send is late by exactly that tick's wake-up lateness: nothing carries over from earlier ticks.
		if late := tk.actual.Sub(want); late != fc.late(n) {
			t.Fatalf("tick %d lateness %v, want %v: drift accumulated", n, late, fc.late(n))
		}
	}
	if st := c.Stats(); st.Ticks != frames || st.Skipped != 0 || st.Sends != frames || st.Max != 15*time.Millisecond {
		t.Fatalf("stats %+v", st)
	}
}

// TestClockStallSkips checks that after a stall longer than MaxCatchUp periods the clock skips the excess ticks
// and stays on the start + N×Period grid.
func TestClockStallSkips(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	fc := &fakeClock{now: start, late: func(n int) time.Duration {
		if n == 10 {
			return 205 * time.Millisecond // tick 10 wakes up 10.25 periods late
		}
		return 0
	}}
	c := NewClock(ClockConfig{MaxCatchUp: 3})
	c.src = fc
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rs := &recordSender{now: fc.Now}
	g := c.NewGroup(rs)
	s, _ := g.NewPlayout(PlayoutConfig{Depth: 1})
	n := 0
	s.Write(ctx, frameN(n))
	rs.onBatch = func([]Outgoing) {
		n++
		s.Write(ctx, frameN(n))
		if n == 20 {
			cancel()
		}
	}
	c.Run(ctx)
	ticks := rs.snapshot()
	// 205 ms late at tick 10 → 10 whole periods late; keep 3 overdue ticks, skip 8.
	if st := c.Stats(); st.Skipped != 8 {
		t.Fatalf("skipped %d ticks, want 8", st.Skipped)
	}
	for i, tk := range ticks {
		off := tk.sched.Sub(start)
		if off%FrameDuration != 0 {
			t.Fatalf("tick %d off the grid: %v", i, off)
		}
		if i > 0 && !tk.sched.After(ticks[i-1].sched) {
			t.Fatalf("tick %d not after previous", i)
		}
	}
	if got := ticks[10].sched.Sub(start); got != 18*FrameDuration {
		t.Fatalf("first tick after stall at %v, want %v", got, 18*FrameDuration)
	}
	// Ticks 18 and 19 run 45 and 25 ms after their schedule (a burst, back to back); tick 20 is 5 ms late.
	if late := s.Stats().Late; late != 2 {
		t.Fatalf("%d frames counted late, want 2 (the catch-up burst)", late)
	}
}

// TestClockRealTimeDrift runs 10,000 ticks of the real monotonic clock at a 500 µs period (5 s) and fits actual
// send time against tick number: the slope error over 10,000 frames must stay under 1 ms.
func TestClockRealTimeDrift(t *testing.T) {
	if testing.Short() {
		t.Skip("5 s real-time run; skipped with -short")
	}
	const frames = 10000
	period := 500 * time.Microsecond
	c := NewClock(ClockConfig{Period: period, MaxCatchUp: 1 << 20})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rs := &recordSender{now: time.Now}
	g := c.NewGroup(rs)
	s, _ := g.NewPlayout(PlayoutConfig{Depth: 2})
	next := 0
	for ; next < 2; next++ {
		s.Write(ctx, frameN(next))
	}
	rs.onBatch = func([]Outgoing) {
		s.Write(ctx, frameN(next))
		next++
		if s.Stats().Sent == frames {
			cancel()
		}
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	<-done
	ticks := rs.snapshot()
	if len(ticks) != frames {
		t.Fatalf("%d batches, want %d", len(ticks), frames)
	}
	t0 := ticks[0].sched
	for n, tk := range ticks {
		if want := t0.Add(time.Duration(n) * period); !tk.sched.Equal(want) {
			t.Fatalf("tick %d scheduled off grid by %v", n, tk.sched.Sub(want))
		}
	}
	// Lateness on a shared machine is noisy, so compare the least lateness of the first and last 1,000 ticks: a
	// clock that accumulates error shifts the whole distribution, noise only its tail.
	minLate := func(ts []tickRecord) time.Duration {
		m := time.Duration(math.MaxInt64)
		for _, tk := range ts {
			m = min(m, tk.actual.Sub(tk.sched))
		}
		return m
	}
	first, last := minLate(ticks[:1000]), minLate(ticks[frames-1000:])
	drift := last - first
	st := c.Stats()
	t.Logf("drift over %d frames %v (least lateness %v → %v); lateness p50 %v p99 %v max %v",
		frames, drift, first, last, st.P50, st.P99, st.Max)
	if drift.Abs() >= time.Millisecond {
		t.Fatalf("cumulative drift %v over %d frames", drift, frames)
	}
}

func TestPlayoutFlushAndStats(t *testing.T) {
	fc := &fakeClock{now: time.Unix(0, 0), gate: make(chan struct{})}
	c := NewClock(ClockConfig{})
	c.src = fc
	ctx, cancel := context.WithCancel(context.Background())
	rs := &recordSender{now: fc.Now}
	g := c.NewGroup(rs)
	s, _ := g.NewPlayout(PlayoutConfig{Depth: 10})
	idle, _ := g.NewPlayout(PlayoutConfig{}) // never written: must never appear in a batch
	for i := range 10 {
		if err := s.Write(ctx, frameN(i)); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for range 3 {
		fc.gate <- struct{}{}
	}
	waitFor(t, func() bool { return c.Stats().Ticks == 3 })
	if played := s.Flush(); played != 60*time.Millisecond {
		t.Fatalf("Flush reported %v played, want 60ms", played)
	}
	st := s.Stats()
	if st.Queued != 10 || st.Sent != 3 || st.Dropped != 7 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
	if played := s.Flush(); played != 0 {
		t.Fatalf("second Flush %v, want 0", played)
	}
	fc.gate <- struct{}{} // a tick with nothing queued: no batch
	waitFor(t, func() bool { return c.Stats().Ticks == 4 })
	for _, tk := range rs.snapshot() {
		if tk.streams != 1 {
			t.Fatalf("batch with %d streams; the idle stream must be skipped", tk.streams)
		}
	}
	if n := len(rs.snapshot()); n != 3 {
		t.Fatalf("%d batches, want 3", n)
	}
	_ = idle
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), frameN(0)); !errors.Is(err, ErrClockStopped) {
		t.Fatalf("Write after stop = %v", err)
	}
}

func TestPlayoutWriteBlocksAndClose(t *testing.T) {
	c := NewClock(ClockConfig{})
	g := c.NewGroup(&recordSender{now: time.Now})
	s, _ := g.NewPlayout(PlayoutConfig{Depth: 2})
	ctx := context.Background()
	s.Write(ctx, frameN(0))
	s.Write(ctx, frameN(1))
	tctx, tcancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer tcancel()
	if err := s.Write(tctx, frameN(2)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write on full queue = %v, want deadline exceeded", err)
	}
	blocked := make(chan error, 1)
	go func() { blocked <- s.Write(ctx, frameN(3)) }()
	time.Sleep(5 * time.Millisecond) // most often the Write is blocked by now; if not, it meets a closed Playout: both are checked
	s.Close()
	if err := <-blocked; err != nil && !errors.Is(err, ErrPlayoutClosed) {
		t.Fatalf("blocked Write after Close = %v", err)
	}
	if err := s.Write(ctx, frameN(4)); !errors.Is(err, ErrPlayoutClosed) {
		t.Fatalf("Write after Close = %v", err)
	}
	g.mu.Lock()
	n := len(g.streams)
	g.mu.Unlock()
	if n != 0 {
		t.Fatalf("closed stream still registered (%d)", n)
	}
	g.Close()
	if _, err := g.NewPlayout(PlayoutConfig{}); !errors.Is(err, ErrPlayoutClosed) {
		t.Fatalf("NewPlayout on closed group = %v", err)
	}
	if err := c.Run(canceledCtx()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run on canceled ctx = %v", err)
	}
	if err := c.Run(ctx); !errors.Is(err, ErrClockRunning) {
		t.Fatalf("second Run = %v", err)
	}
}

// TestClockManyStreamsNoLeak runs 200 calls' streams, each fed by its own producer goroutine, then hangs them up
// and stops the clock: every goroutine must end.
func TestClockManyStreamsNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	c := NewClock(ClockConfig{Period: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var sent sync.Map
	sender := senderFunc(func(_ time.Time, out []Outgoing) {
		for _, o := range out {
			v, _ := sent.LoadOrStore(o.Playout, new(int))
			*(v.(*int))++ // only the clock goroutine writes
		}
	})
	groups := []*Group{c.NewGroup(sender), c.NewGroup(sender)}
	var wg sync.WaitGroup
	var streams []*Playout
	for i := range 200 {
		s, _ := groups[i%2].NewPlayout(PlayoutConfig{Depth: 3})
		streams = append(streams, s)
		wg.Go(func() {
			for n := 0; ; n++ {
				if err := s.Write(ctx, frameN(n)); err != nil {
					return
				}
			}
		})
	}
	runDone := make(chan struct{})
	go func() { c.Run(ctx); close(runDone) }()
	waitFor(t, func() bool { return c.Stats().Ticks >= 20 })
	for _, s := range streams[:100] {
		s.Close()
	}
	cancel()
	wg.Wait()
	<-runDone
	for _, s := range streams {
		if st := s.Stats(); st.Sent == 0 {
			t.Fatal("a stream never got a frame out")
		}
	}
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before })
}

type senderFunc func(time.Time, []Outgoing)

func (f senderFunc) SendBatch(t time.Time, out []Outgoing) { f(t, out) }

func canceledCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPlayoutHoldRelease(t *testing.T) {
	fc := &fakeClock{now: time.Unix(0, 0), gate: make(chan struct{})}
	c := NewClock(ClockConfig{})
	c.src = fc
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rs := &recordSender{now: fc.Now}
	g := c.NewGroup(rs)
	s, _ := g.NewPlayout(PlayoutConfig{Depth: 10})
	for i := range 6 {
		if err := s.Write(ctx, frameN(i)); err != nil {
			t.Fatal(err)
		}
	}
	go func() { _ = c.Run(ctx) }()
	tick := func(n uint64) {
		t.Helper()
		fc.gate <- struct{}{}
		waitFor(t, func() bool { return c.Stats().Ticks == n })
	}
	tick(1)
	tick(2)
	s.Hold()
	if !s.Held() {
		t.Fatal("Held() = false after Hold")
	}
	tick(3)
	tick(4)
	if n := len(rs.snapshot()); n != 2 {
		t.Fatalf("%d batches with the stream held after 2 sent, want 2", n)
	}
	if st := s.Stats(); st.Pending != 4 {
		t.Fatalf("pending %d while held, want 4 (nothing lost)", st.Pending)
	}
	s.Release()
	tick(5)
	recs := rs.snapshot()
	if len(recs) != 3 || recs[2].first != frameN(2).Samples[0] {
		t.Fatalf("after Release: %d batches, last first sample %v; want frame 2 next", len(recs), recs[len(recs)-1].first)
	}
	s.Hold()
	if played := s.Flush(); played != 60*time.Millisecond {
		t.Fatalf("Flush while held reported %v played, want 60ms", played)
	}
	if st := s.Stats(); st.Pending != 0 || st.Dropped != 3 {
		t.Fatalf("after Flush: %+v", st)
	}
}

func TestClockNextTick(t *testing.T) {
	fc := &fakeClock{now: time.Unix(0, 0), gate: make(chan struct{})}
	c := NewClock(ClockConfig{})
	c.src = fc
	if _, _, ok := c.NextTick(); ok {
		t.Fatal("NextTick ok before Run")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var at time.Time
	var tick <-chan struct{}
	waitFor(t, func() bool {
		var ok bool
		at, tick, ok = c.NextTick()
		return ok
	})
	if !at.Equal(time.Unix(0, 0)) {
		t.Fatalf("first tick at %v, want the clock's start", at)
	}
	select {
	case <-tick:
		t.Fatal("tick channel closed before the tick ran")
	default:
	}
	fc.gate <- struct{}{}
	<-tick
	next, tick2, ok := c.NextTick()
	if !ok || next.Sub(at) != FrameDuration {
		t.Fatalf("after a tick: next at %v (ok %v), want %v later", next, ok, FrameDuration)
	}
	cancel()
	select {
	case <-tick2: // closed when the clock stops: a waiter never hangs
	case <-time.After(2 * time.Second):
		t.Fatal("a waiter for the next tick was not woken when the clock stopped")
	}
	<-done
	if _, _, ok := c.NextTick(); ok {
		t.Fatal("NextTick ok after the clock stopped")
	}
}
