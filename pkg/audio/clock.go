package audio

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// BatchSender transmits one tick's due frames for a group of streams, for example as one sendmmsg batch on a
// shared UDP socket. The clock calls SendBatch from its single goroutine, so it must not block: a slow sender
// delays every call on the clock. out is reused after SendBatch returns and must not be retained; each Frame in
// it belongs to the sender. tick is the scheduled (not the actual) time of the tick.
type BatchSender interface {
	SendBatch(tick time.Time, out []Outgoing)
}

// Outgoing is one stream's frame due on a tick.
type Outgoing struct {
	Playout *Playout
	Frame   Frame
}

// ClockConfig configures a playout clock.
type ClockConfig struct {
	Period     time.Duration  // tick interval; default: FrameDuration (20 ms)
	MaxCatchUp int            // after a stall, at most this many overdue ticks are sent back to back; older ticks are skipped; default: 3
	Logger     zerolog.Logger // default: zerolog.Nop()
}

// PlayoutConfig configures one stream of a playout clock.
type PlayoutConfig struct {
	Depth int // frames queued before Write blocks; default: 10 (200 ms)
	Value any // opaque value for the BatchSender, such as the call's RTP session; default: nil
}

// Clock is the one shared playout clock: a single goroutine (Run) that, every Period, hands each group's due
// frames to the group's BatchSender. Tick N is scheduled at start + N×Period on the monotonic clock, so lateness
// never accumulates into drift. Create streams with NewGroup and Group.NewPlayout.
type Clock struct {
	cfg ClockConfig
	src clockSource

	mu     sync.Mutex
	groups []*Group

	running atomic.Bool
	stopped chan struct{} // closed when Run returns
	ticks   atomic.Uint64
	skipped atomic.Uint64

	latMu sync.Mutex
	lat   latencyHist

	nextMu sync.Mutex
	nextAt time.Time     // scheduled time of the next tick
	nextCh chan struct{} // closed once that tick's frames are sent; nil while the clock is not running
}

// NewClock returns a stopped clock; start it with Run.
func NewClock(cfg ClockConfig) *Clock {
	if cfg.Period <= 0 {
		cfg.Period = FrameDuration
	}
	if cfg.MaxCatchUp <= 0 {
		cfg.MaxCatchUp = 3
	}
	return &Clock{cfg: cfg, src: realClock{}, stopped: make(chan struct{})}
}

// Run drives the clock until ctx ends, then returns ctx.Err(). A clock runs once: later Writes on its streams
// return ErrClockStopped.
func (c *Clock) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrClockRunning
	}
	defer close(c.stopped)
	defer c.endTicks()
	log := c.cfg.Logger
	period := c.cfg.Period
	start := c.src.Now()
	var active []*Group
	for n := int64(0); ; n++ {
		sched := start.Add(time.Duration(n) * period)
		c.scheduleTick(sched)
		if !c.src.WaitUntil(ctx, sched) {
			return ctx.Err()
		}
		if late := c.src.Now().Sub(sched); late > time.Duration(c.cfg.MaxCatchUp)*period {
			skip := int64(late/period) - int64(c.cfg.MaxCatchUp) + 1
			n += skip
			c.skipped.Add(uint64(skip))
			sched = start.Add(time.Duration(n) * period)
			log.Warn().Dur("late", late).Int64("skipped_ticks", skip).Msg("playout clock stalled; skipping ticks")
		}
		c.scheduleTick(sched) // after a skip
		active = c.tick(sched, active[:0])
		c.fireTick()
	}
}

// NextTick returns the scheduled time of the clock's next tick and a channel closed once that tick's frames have
// been handed to the senders, so any number of goroutines can pace themselves on the clock (the drivers' receive
// side does) without a timer each. ok is false when the clock is not running; a channel returned just before the
// clock stops is closed when it stops.
func (c *Clock) NextTick() (at time.Time, tick <-chan struct{}, ok bool) {
	c.nextMu.Lock()
	defer c.nextMu.Unlock()
	if c.nextCh == nil {
		return time.Time{}, nil, false
	}
	return c.nextAt, c.nextCh, true
}

// scheduleTick publishes the next tick's time.
func (c *Clock) scheduleTick(at time.Time) {
	c.nextMu.Lock()
	c.nextAt = at
	if c.nextCh == nil {
		c.nextCh = make(chan struct{})
	}
	c.nextMu.Unlock()
}

// fireTick wakes the goroutines waiting for the tick just run.
func (c *Clock) fireTick() {
	c.nextMu.Lock()
	ch := c.nextCh
	c.nextCh = make(chan struct{})
	c.nextAt = c.nextAt.Add(c.cfg.Period)
	c.nextMu.Unlock()
	close(ch)
}

// endTicks wakes every waiter for good: the clock has stopped.
func (c *Clock) endTicks() {
	c.nextMu.Lock()
	ch := c.nextCh
	c.nextCh = nil
	c.nextMu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// tick hands each group its due frames, one group at a time: collect under the group's lock, send without it (so
// a sender may close streams).
func (c *Clock) tick(sched time.Time, active []*Group) []*Group {
	c.mu.Lock()
	active = append(active, c.groups...)
	c.mu.Unlock()
	c.ticks.Add(1)
	// A tick run a whole period or more after its schedule is part of a catch-up burst: its frames reach the far
	// end back to back with the previous tick's, and a short receive queue there (FreeSWITCH's loopback keeps 3)
	// may drop them. Each stream counts them (PlayoutStats.Late).
	late := c.src.Now().Sub(sched) >= c.cfg.Period
	c.latMu.Lock()
	for _, g := range active {
		g.mu.Lock()
		g.out = g.out[:0]
		for _, s := range g.streams {
			if f, ok := s.pop(late); ok {
				g.out = append(g.out, Outgoing{Playout: s, Frame: f})
			}
		}
		g.mu.Unlock()
		if len(g.out) > 0 {
			c.lat.add(c.src.Now().Sub(sched))
			g.sender.SendBatch(sched, g.out)
			clear(g.out) // drop frame references held by the reused batch
		}
	}
	c.latMu.Unlock()
	clear(active)
	return active[:0]
}

// ClockStats describes a clock's ticks and how late its sends were against schedule.
type ClockStats struct {
	Ticks   uint64        // ticks run
	Skipped uint64        // ticks skipped after stalls longer than MaxCatchUp periods
	Sends   uint64        // SendBatch calls measured
	P50     time.Duration // median send lateness (actual − scheduled)
	P99     time.Duration // 99th percentile send lateness
	Max     time.Duration // largest send lateness
}

// Stats returns tick counts and the send-lateness distribution since the last ResetStats.
func (c *Clock) Stats() ClockStats {
	c.latMu.Lock()
	defer c.latMu.Unlock()
	return ClockStats{
		Ticks: c.ticks.Load(), Skipped: c.skipped.Load(), Sends: c.lat.n,
		P50: c.lat.quantile(0.50), P99: c.lat.quantile(0.99), Max: c.lat.max,
	}
}

// ResetStats clears the lateness distribution (tick counters keep counting).
func (c *Clock) ResetStats() {
	c.latMu.Lock()
	c.lat = latencyHist{}
	c.latMu.Unlock()
}

// Group is a set of streams sent through one BatchSender.
type Group struct {
	c      *Clock
	sender BatchSender
	out    []Outgoing // reused per tick; owned by the clock goroutine

	mu      sync.Mutex
	streams []*Playout
	closed  bool
}

// NewGroup registers a sender; each tick it receives one SendBatch call with the due frames of the group's
// streams (none when no stream has a frame queued).
func (c *Clock) NewGroup(sender BatchSender) *Group {
	g := &Group{c: c, sender: sender}
	c.mu.Lock()
	c.groups = append(c.groups, g)
	c.mu.Unlock()
	return g
}

// Close removes the group and closes its streams.
func (g *Group) Close() {
	c := g.c
	c.mu.Lock()
	for i, x := range c.groups {
		if x == g {
			c.groups = append(c.groups[:i], c.groups[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	g.mu.Lock()
	g.closed = true
	streams := g.streams
	g.streams = nil
	g.mu.Unlock()
	for _, s := range streams {
		s.markClosed()
		s.Flush()
	}
}

// NewPlayout adds a stream (one call's outgoing audio) to the group.
func (g *Group) NewPlayout(cfg PlayoutConfig) (*Playout, error) {
	if cfg.Depth <= 0 {
		cfg.Depth = 10
	}
	s := &Playout{g: g, value: cfg.Value, q: make([]Frame, cfg.Depth), space: make(chan struct{}, 1),
		done: make(chan struct{})}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, fmt.Errorf("new stream: group closed: %w", ErrPlayoutClosed)
	}
	g.streams = append(g.streams, s)
	return s, nil
}

// Playout is one call's outgoing audio on a playout clock: a bounded queue the clock drains one frame per tick.
// It implements Sink.
type Playout struct {
	g     *Group
	value any
	done  chan struct{}
	once  sync.Once
	space chan struct{} // signalled when a waiting writer may retry

	mu      sync.Mutex
	q       []Frame // ring
	head, n int
	waiting bool // a writer is blocked on a full queue
	held    bool // Hold: the clock sends nothing until Release

	queued  atomic.Uint64
	sent    atomic.Uint64
	late    atomic.Uint64
	dropped atomic.Uint64
	emitted atomic.Int64 // nanoseconds of audio handed to the sender since the last Flush
}

var _ Sink = (*Playout)(nil)

// Value returns PlayoutConfig.Value.
func (s *Playout) Value() any { return s.value }

// Write queues f for playout, blocking while the queue is full. It returns ctx.Err(), ErrPlayoutClosed or
// ErrClockStopped (wrapped) when the frame cannot be queued. The stream takes ownership of f.Samples.
func (s *Playout) Write(ctx context.Context, f Frame) error {
	for {
		select {
		case <-s.done:
			return fmt.Errorf("write: %w", ErrPlayoutClosed)
		case <-s.g.c.stopped:
			return fmt.Errorf("write: %w", ErrClockStopped)
		default:
		}
		s.mu.Lock()
		if s.n < len(s.q) {
			s.q[(s.head+s.n)%len(s.q)] = f
			s.n++
			s.mu.Unlock()
			s.queued.Add(1)
			return nil
		}
		s.waiting = true
		s.mu.Unlock()
		select {
		case <-s.space:
		case <-s.done:
			return fmt.Errorf("write: %w", ErrPlayoutClosed)
		case <-s.g.c.stopped:
			return fmt.Errorf("write: %w", ErrClockStopped)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// pop takes the next frame for the clock, counting it as late when the tick is. A blocked writer is woken only
// once the queue is half empty, so the clock does not wake every producer on every tick.
func (s *Playout) pop(late bool) (Frame, bool) {
	s.mu.Lock()
	if s.n == 0 || s.held {
		s.mu.Unlock()
		return Frame{}, false
	}
	f := s.q[s.head]
	s.q[s.head] = Frame{}
	s.head = (s.head + 1) % len(s.q)
	s.n--
	wake := s.waiting && s.n <= len(s.q)/2
	if wake {
		s.waiting = false
	}
	s.mu.Unlock()
	if wake {
		select {
		case s.space <- struct{}{}:
		default:
		}
	}
	s.sent.Add(1)
	if late {
		s.late.Add(1)
	}
	s.emitted.Add(int64(f.Duration()))
	return f, true
}

// Flush drops every queued frame (barge-in) and returns how much audio the clock handed to the sender since the
// previous Flush, that is, what the callee actually got. Stop the producer before flushing: a Write blocked on a
// full queue completes into the emptied queue.
func (s *Playout) Flush() time.Duration {
	s.mu.Lock()
	dropped := s.n
	for i := range s.n {
		s.q[(s.head+i)%len(s.q)] = Frame{}
	}
	s.head, s.n = 0, 0
	wake := s.waiting
	s.waiting = false
	s.mu.Unlock()
	if wake {
		select {
		case s.space <- struct{}{}:
		default:
		}
	}
	s.dropped.Add(uint64(dropped))
	return time.Duration(s.emitted.Swap(0))
}

// Hold stops the clock sending the stream's frames while keeping them queued, so playout can continue from the
// same frame after Release: the bot falls silent within one tick the moment the callee may be interrupting it,
// and carries on with nothing lost if it was only a cough or a backchannel. Writes still queue (and block when the
// queue is full). Flush drops the held frames; Flush does not release the hold.
func (s *Playout) Hold() {
	s.mu.Lock()
	s.held = true
	s.mu.Unlock()
}

// Release resumes sending after Hold, starting with the oldest queued frame on the next tick.
func (s *Playout) Release() {
	s.mu.Lock()
	s.held = false
	s.mu.Unlock()
}

// Held reports whether the stream is on Hold.
func (s *Playout) Held() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// Close removes the stream from its clock (at hang-up) and drops what is queued. Further Writes fail with
// ErrPlayoutClosed. Close is idempotent.
func (s *Playout) Close() {
	g := s.g
	g.mu.Lock()
	for i, x := range g.streams {
		if x == s {
			last := len(g.streams) - 1
			g.streams[i] = g.streams[last]
			g.streams[last] = nil
			g.streams = g.streams[:last]
			break
		}
	}
	g.mu.Unlock()
	s.markClosed()
	s.Flush()
}

func (s *Playout) markClosed() { s.once.Do(func() { close(s.done) }) }

// Done is closed when the stream is closed.
func (s *Playout) Done() <-chan struct{} { return s.done }

// PlayoutStats counts a stream's frames.
type PlayoutStats struct {
	Queued  uint64 // frames accepted by Write
	Sent    uint64 // frames handed to the sender
	Late    uint64 // of which sent a period or more after their tick's schedule (a catch-up burst after a stall)
	Dropped uint64 // frames discarded by Flush or Close
	Pending int    // frames waiting now
}

// Stats returns the stream's frame counters.
func (s *Playout) Stats() PlayoutStats {
	s.mu.Lock()
	n := s.n
	s.mu.Unlock()
	return PlayoutStats{Queued: s.queued.Load(), Sent: s.sent.Load(), Late: s.late.Load(), Dropped: s.dropped.Load(), Pending: n}
}

// clockSource is the time base of a Clock; tests substitute a simulated one.
type clockSource interface {
	Now() time.Time
	// WaitUntil blocks until t (returning true) or until ctx ends (returning false).
	WaitUntil(ctx context.Context, t time.Time) bool
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) WaitUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// latencyHist is a fixed-bucket histogram of durations: 10 µs buckets up to 100 ms, then one overflow bucket.
type latencyHist struct {
	buckets [latBuckets + 1]uint64
	n       uint64
	max     time.Duration
}

const (
	latBucket  = 10 * time.Microsecond
	latBuckets = 10000
)

func (h *latencyHist) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := int(d / latBucket)
	if i > latBuckets {
		i = latBuckets
	}
	h.buckets[i]++
	h.n++
	if d > h.max {
		h.max = d
	}
}

// quantile returns the upper edge of the bucket holding quantile q (the max for the overflow bucket).
func (h *latencyHist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n-1)) + 1
	var seen uint64
	for i, c := range h.buckets {
		seen += c
		if seen >= rank {
			if i == latBuckets {
				return h.max
			}
			return min(time.Duration(i+1)*latBucket, h.max)
		}
	}
	return h.max
}
