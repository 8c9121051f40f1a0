package campaign

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outcall/outcall/internal/redistest"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
)

// fakeDialer stands in for a PBX in runner tests that are about leases and Redis, not media. It records every dial
// and fails the test if one number is ever dialed twice at once.
type fakeDialer struct {
	t       *testing.T
	mu      sync.Mutex
	live    map[string]bool
	dials   map[string]int
	total   int
	outcome func(number string) call.Outcome
}

func newFakeDialer(t *testing.T, outcome func(string) call.Outcome) *fakeDialer {
	return &fakeDialer{t: t, live: map[string]bool{}, dials: map[string]int{}, outcome: outcome}
}

func (d *fakeDialer) Dial(ctx context.Context, r call.Request) (call.Call, error) {
	number := r.Endpoint[strings.Index(r.Endpoint, "/")+1 : strings.Index(r.Endpoint, "@")]
	d.mu.Lock()
	if d.live[number] {
		d.mu.Unlock()
		d.t.Errorf("number %s dialed twice concurrently", number)
		return nil, &call.Error{Outcome: call.Failed}
	}
	d.live[number] = true
	d.dials[number]++
	d.total++
	d.mu.Unlock()
	o := d.outcome(number)
	if o != call.Answered {
		defer d.end(number)
		select {
		case <-time.After(time.Duration(2+rand.IntN(8)) * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return nil, &call.Error{Outcome: o, Cause: call.CauseUserBusy}
	}
	return &fakeCall{id: "call-" + number, end: func() { d.end(number) }}, nil
}

func (d *fakeDialer) end(number string) {
	d.mu.Lock()
	delete(d.live, number)
	d.mu.Unlock()
}

type fakeCall struct {
	id   string
	once sync.Once
	end  func()
}

func (c *fakeCall) ID() string                                  { return c.id }
func (c *fakeCall) Media() call.Media                           { return nil }
func (c *fakeCall) Events() <-chan call.Event                   { return nil }
func (c *fakeCall) Transfer(context.Context, call.Target) error { return nil }
func (c *fakeCall) SendDTMF(context.Context, string) error      { return nil }
func (c *fakeCall) Hangup(context.Context, call.Cause) error {
	c.once.Do(c.end)
	return nil
}

var _ = audio.Frame{}

func testCampaign(id string) Config {
	return Config{ID: id, Endpoint: "PJSIP/{number}@trunk", MaxConcurrent: 40, CPS: 2000, TimeZone: "UTC",
		Windows:     []Window{{Days: EveryDay, Start: "00:00", End: "24:00"}},
		MaxAttempts: 3, MaxPerDay: 3, LeaseTTL: 600 * time.Millisecond,
		Retry: map[call.Outcome]RetryRule{
			call.Busy:     {Delay: 20 * time.Millisecond},
			call.NoAnswer: {Delay: 20 * time.Millisecond},
		}}
}

func contactsN(n int) []Contact {
	out := make([]Contact, n)
	for i := range out {
		out[i] = Contact{ID: fmt.Sprintf("c%04d", i), Phone: fmt.Sprintf("+86138%08d", i)}
	}
	return out
}

// behaviour by number: mixed answered, busy, no answer, unallocated.
func mixedOutcome(number string) call.Outcome {
	switch number[len(number)-1] {
	case '1', '2':
		return call.Busy
	case '3':
		return call.NoAnswer
	case '4':
		return call.Unallocated
	}
	return call.Answered
}

// TestThreeProcessesOneKilled runs one campaign of 1,000 contacts on three runners (each with its own Redis
// connection, as separate processes have), kills one mid-run without any clean-up, and checks that every contact
// ends terminal, every attempt is recorded exactly once, and no number is dialed twice at once.
func TestThreeProcessesOneKilled(t *testing.T) {
	srv := redistest.Start(t)
	cfg := testCampaign("k3")
	dialer := newFakeDialer(t, mixedOutcome)
	handler := func(ctx context.Context, c call.Call, a Attempt) (CallResult, error) {
		select {
		case <-time.After(time.Duration(5+rand.IntN(20)) * time.Millisecond):
		case <-ctx.Done():
			return CallResult{}, ctx.Err()
		}
		if strings.HasSuffix(a.Contact.Phone, "7") {
			return CallResult{Outcome: "optout", OptOut: true}, nil
		}
		return CallResult{Outcome: "completed"}, nil
	}
	store := NewStore(srv.Client(t), cfg.ID)
	if n, err := store.Load(context.Background(), contactsN(1000), time.Now()); err != nil || n != 1000 {
		t.Fatalf("Load = %d, %v", n, err)
	}
	if n, _ := store.Load(context.Background(), contactsN(1000), time.Now()); n != 0 {
		t.Fatalf("reloading added %d contacts; Load must be idempotent", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	victimCtx, killVictim := context.WithCancel(ctx)
	var victimRedis *redis.Client
	var victimBusy <-chan struct{}
	for i := 0; i < 3; i++ {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
		rctx := ctx
		if i == 0 {
			victimRedis, rctx = rdb, victimCtx
		} else {
			defer rdb.Close()
		}
		h := handler
		if i == 0 {
			h, victimBusy = inFlight(handler, 5)
		}
		r, err := NewRunner(RunnerConfig{Campaign: cfg, Redis: rdb, Dialer: dialer, Handler: h,
			Owner: fmt.Sprintf("proc-%d", i), Slots: 15, Poll: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = r.Run(rctx) }()
	}
	// Kill process 0 once it has calls in flight: its Redis connection dies first, so it records nothing more.
	select {
	case <-victimBusy:
	case <-ctx.Done():
		t.Fatal("process 0 never had 5 calls in flight")
	}
	victimRedis.Close()
	killVictim()
	wg.Wait()
	for i, err := range errs[1:] {
		if err != nil {
			t.Fatalf("runner %d: %v", i+1, err)
		}
	}

	p, err := store.Progress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pending != 0 || p.InFlight != 0 || p.Total() != 1000 {
		t.Fatalf("progress %+v: want all 1000 contacts terminal", p)
	}
	results, err := store.Results(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]int{}
	abandonedBy := map[string]int{}
	abandoned := 0
	for _, r := range results {
		if r.Counted {
			counted[r.Contact]++
		}
		if r.Outcome == "abandoned" {
			abandoned++
			abandonedBy[r.Contact]++
		}
	}
	for _, c := range contactsN(1000) {
		st, err := store.Contact(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != StatusDone {
			t.Fatalf("contact %s status %s", c.ID, st.Status)
		}
		if st.Attempts != counted[c.ID] {
			t.Fatalf("contact %s: %d attempts on record, %d in the results stream", c.ID, st.Attempts, counted[c.ID])
		}
		phone := strings.TrimPrefix(c.Phone, "+")
		dialer.mu.Lock()
		seen := dialer.dials[phone]
		dialer.mu.Unlock()
		if st.Attempts < seen || st.Attempts > seen+abandonedBy[c.ID] {
			t.Fatalf("contact %s: PBX saw %d dials, %d attempts recorded (%d abandoned)", c.ID, seen, st.Attempts, abandonedBy[c.ID])
		}
		if st.Attempts > cfg.MaxAttempts {
			t.Fatalf("contact %s: %d attempts > max %d", c.ID, st.Attempts, cfg.MaxAttempts)
		}
	}
	// Every dial the PBX saw is recorded; the only attempts recorded without a dial are ones the killed process
	// had begun ("abandoned": whether its dial left the process is unknowable, so it counts against the caps).
	total := 0
	for _, n := range counted {
		total += n
	}
	if total < dialer.total || total > dialer.total+abandoned {
		t.Fatalf("PBX saw %d dials, results record %d attempts (%d abandoned)", dialer.total, total, abandoned)
	}

	t.Logf("%d dials, %d abandoned by the killed process and reclaimed; done: %v", dialer.total, abandoned, p.Done)
}

func TestStaleLeaseCannotRecord(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := NewStore(rdb, "stale")
	ctx := context.Background()
	now := time.Now()
	if _, err := s.Load(ctx, contactsN(1), now); err != nil {
		t.Fatal(err)
	}
	a, err := s.Claim(ctx, "A", 1, 10, 50*time.Millisecond, now)
	if err != nil || len(a) != 1 {
		t.Fatalf("claim A: %v %v", a, err)
	}
	if _, err := s.Begin(ctx, a[0], 100, "2026-11-23", 50*time.Millisecond, now); err != nil {
		t.Fatal(err)
	}
	// A stalls past its lease; B reclaims (recording A's attempt as abandoned) and takes the contact.
	later := now.Add(time.Second)
	b, err := s.Claim(ctx, "B", 1, 10, time.Minute, later)
	if err != nil || len(b) != 1 || b[0].Token <= a[0].Token {
		t.Fatalf("claim B: %v %v", b, err)
	}
	if err := s.Complete(ctx, a[0], "A", Completion{Outcome: "completed", Terminal: true, Counted: true}, later); !errors.Is(err, ErrStaleLease) {
		t.Fatalf("stale Complete = %v, want ErrStaleLease", err)
	}
	if err := s.Renew(ctx, a[0], time.Minute, later); !errors.Is(err, ErrStaleLease) {
		t.Fatalf("stale Renew = %v", err)
	}
	if err := s.Complete(ctx, b[0], "B", Completion{Outcome: "completed", Terminal: true, Counted: true}, later); err != nil {
		t.Fatal(err)
	}
	res, _ := s.Results(ctx)
	if len(res) != 2 || res[0].Outcome != "abandoned" || res[0].Owner != "A" || res[1].Owner != "B" {
		t.Fatalf("results = %+v; want A's abandoned attempt then B's", res)
	}
	st, _ := s.Contact(ctx, "c0000")
	if st.Attempts != 2 || st.Status != StatusDone {
		t.Fatalf("contact state %+v", st)
	}
}

func TestPauseResumeStop(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	cfg := testCampaign("pause")
	dialer := newFakeDialer(t, func(string) call.Outcome { return call.Answered })
	r, err := NewRunner(RunnerConfig{Campaign: cfg, Redis: rdb, Dialer: dialer, Owner: "p", Poll: 5 * time.Millisecond,
		Handler: func(ctx context.Context, c call.Call, a Attempt) (CallResult, error) { return CallResult{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := r.Store().Load(ctx, contactsN(50), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := r.Store().SetState(ctx, "paused"); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	hook := commandHook{seen: make(chan struct{}, 1)}
	rdb.AddHook(hook)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	// While paused the runner polls (a refused claim, then the state): 20 commands are several polls, none of
	// which may dial.
	for range 20 {
		select {
		case <-hook.seen:
		case <-runCtx.Done():
			t.Fatal("the paused runner stopped polling")
		}
	}
	dialer.mu.Lock()
	paused := dialer.total
	dialer.mu.Unlock()
	if paused != 0 {
		t.Fatalf("%d dials while paused", paused)
	}
	r.Store().SetState(ctx, "running")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if dialer.total != 50 {
		t.Fatalf("dialed %d, want 50", dialer.total)
	}
	r.Store().SetState(ctx, "stopped")
	if err := r.Run(runCtx); err != nil {
		t.Fatalf("Run on a stopped campaign = %v, want nil at once", err)
	}
}

func TestOptOutBlocksNextAttempt(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	dialer := newFakeDialer(t, func(string) call.Outcome { return call.Answered })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	same := []Contact{{ID: "x", Phone: "+8613800138000"}}
	var decisions []Decision
	var mu sync.Mutex
	run := func(id string, res CallResult) {
		r, err := NewRunner(RunnerConfig{Campaign: testCampaign(id), Redis: rdb, Dialer: dialer, Owner: "p",
			Poll:       5 * time.Millisecond,
			Handler:    func(context.Context, call.Call, Attempt) (CallResult, error) { return res, nil },
			OnDecision: func(_ string, d Decision) { mu.Lock(); decisions = append(decisions, d); mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		r.Store().Load(ctx, same, time.Now())
		if err := r.Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	run("first", CallResult{Outcome: "optout", OptOut: true})
	run("second", CallResult{Outcome: "completed"})
	if dialer.total != 1 {
		t.Fatalf("number dialed %d times; the opt-out must block the second campaign", dialer.total)
	}
	last := decisions[len(decisions)-1]
	if last.Allow || last.Gate != "dnc" || !last.Terminal {
		t.Fatalf("second decision = %+v, want a terminal dnc refusal", last)
	}
}

func TestDNCImportMillion(t *testing.T) {
	srv := redistest.Start(t)
	d := NewDNC(srv.Client(t), "big")
	var b strings.Builder
	b.Grow(13 << 20)
	for i := 0; i < 1_000_000; i++ {
		fmt.Fprintf(&b, "13%09d\n", i)
	}
	b.WriteString("not-a-number\n")
	n, bad, err := d.Import(context.Background(), strings.NewReader(b.String()), "CN")
	if err != nil {
		t.Fatal(err)
	}
	if n != 1_000_000 || len(bad) != 1 || bad[0].Line != 1_000_001 {
		t.Fatalf("imported %d, bad %v", n, bad)
	}
	if l, _ := d.Len(context.Background()); l != 1_000_000 {
		t.Fatalf("list holds %d numbers", l)
	}
	if on, _ := d.Contains(context.Background(), "+8613000999999"); !on {
		t.Fatal("an imported number is not on the list")
	}
}

func TestGatesFailClosed(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	cfg := testCampaign("closed")
	camp := cfg.withDefaults()
	cal, _ := NewCalendar(&camp)
	gates := StandardGates(&camp, cal, NewDNC(rdb, ""))
	srv.Kill()
	d := CheckAll(context.Background(), gates, Attempt{Contact: Contact{ID: "a", Phone: "+8613800138000"}, Now: time.Now()})
	if d.Allow || d.Gate != "dnc" || d.Terminal || d.RetryAt.IsZero() {
		t.Fatalf("with Redis down: %+v; want a non-terminal dnc refusal", d)
	}
	panicky := append([]Gate{GateFunc{"broken", func(context.Context, Attempt) Decision { panic("bug") }}}, gates...)
	if d := CheckAll(context.Background(), panicky, Attempt{Now: time.Now()}); d.Allow {
		t.Fatal("a panicking gate let the dial through")
	}
	c2 := testCampaign("zone")
	camp2 := c2.withDefaults()
	cal2, _ := NewCalendar(&camp2)
	g2 := StandardGates(&camp2, cal2, NewMemoryDNC())
	if d := CheckAll(context.Background(), g2, Attempt{Contact: Contact{TZ: "Nowhere/Zone"}, Now: time.Now()}); d.Allow {
		t.Fatal("a contact with an unknown time zone was allowed")
	}
}

// TestLiveKeyHoldsNoNumber: the live-call lock is one key per number, shared by every campaign and process, but its
// name holds a digest of the number: key names show up in monitoring, slow logs and SCAN output.
func TestLiveKeyHoldsNoNumber(t *testing.T) {
	a, b := liveKey("+8613800138000"), liveKey("+8613800138001")
	if strings.Contains(a, "13800138000") || a == b || a != liveKey("+8613800138000") || !strings.HasPrefix(a, "outcall:live:{") {
		t.Errorf("live keys %q, %q", a, b)
	}
}

// completingRunner is a runner of cfg polling every 10 ms whose handler completes every answered call at once.
func completingRunner(t *testing.T, cfg Config, rdb *redis.Client, d call.Dialer, owner string) *Runner {
	t.Helper()
	r, err := NewRunner(RunnerConfig{Campaign: cfg, Redis: rdb, Dialer: d, Owner: owner, Poll: 10 * time.Millisecond,
		Handler: func(ctx context.Context, c call.Call, a Attempt) (CallResult, error) {
			return CallResult{Outcome: "completed"}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestLiveLockLeftByADeadProcess: a number whose live-call lock a dead process left behind is tried again once
// that lock has lapsed (a lease), not a minute later: TestThreeProcessesOneKilled hit it whenever a contact was
// reclaimed a moment before the dead process's lock expired, and timed out.
func TestLiveLockLeftByADeadProcess(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	cfg := testCampaign("dead-lock")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := Contact{ID: "c1", Phone: "+8613800000005"}
	if err := rdb.Set(ctx, liveKey(c.Phone), "dead/other/1", cfg.LeaseTTL).Err(); err != nil {
		t.Fatal(err)
	}
	r := completingRunner(t, cfg, rdb, newFakeDialer(t, mixedOutcome), "p")
	if _, err := r.Store().Load(ctx, []Contact{c}, time.Now()); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := r.Run(ctx); err != nil {
		t.Fatalf("Run: %v after %v", err, time.Since(t0))
	}
	p, err := r.Store().Progress(ctx)
	if err != nil || p.Done["completed"] != 1 {
		t.Errorf("progress %+v, %v", p, err)
	}
	if took := time.Since(t0); took > 10*cfg.LeaseTTL {
		t.Errorf("the contact waited %v for a lock that lapsed after %v", took, cfg.LeaseTTL)
	}
}

// inFlight wraps h to report, by closing the returned channel, the moment n of its calls run at once: a test
// that kills a process mid-run waits for that instead of sleeping.
func inFlight(h Handler, n int) (Handler, <-chan struct{}) {
	var mu sync.Mutex
	live := 0
	reached := make(chan struct{})
	return func(ctx context.Context, c call.Call, a Attempt) (CallResult, error) {
		mu.Lock()
		live++
		if live == n {
			select {
			case <-reached:
			default:
				close(reached)
			}
		}
		mu.Unlock()
		defer func() { mu.Lock(); live--; mu.Unlock() }()
		return h(ctx, c, a)
	}, reached
}

// commandHook sends on seen after every command the client processed (non-blocking), so a test can wait for a
// runner to have polled Redis rather than sleep.
type commandHook struct{ seen chan struct{} }

func (h commandHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h commandHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		select {
		case h.seen <- struct{}{}:
		default:
		}
		return err
	}
}
func (h commandHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// reapingDialer is a fakeDialer that can reap (Reaper) and logs hang-ups and dials in order.
type reapingDialer struct {
	*fakeDialer
	mu  sync.Mutex
	log []string
}

func (d *reapingDialer) HangupCall(_ context.Context, id string) error {
	d.mu.Lock()
	d.log = append(d.log, "reap "+id)
	d.mu.Unlock()
	return nil
}

func (d *reapingDialer) Dial(ctx context.Context, r call.Request) (call.Call, error) {
	d.mu.Lock()
	d.log = append(d.log, "dial "+r.ID)
	d.mu.Unlock()
	return d.fakeDialer.Dial(ctx, r)
}

// TestStaleCallReapedDespiteLiveLock: a process dies mid-call; its lease expires while the live-call lock on the
// number is still held, so the first survivor to claim the contact is refused by the lock. The dead process's
// call must still be hung up before the number is dialed again. (The refusal used to clear the contact's stale
// token: the next claim dialed the number while the dead call was still up, seen in internal/faulttest.)
func TestStaleCallReapedDespiteLiveLock(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	cfg := testCampaign("stale-lock")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := Contact{ID: "c1", Phone: "+8613800000006"}
	store := NewStore(rdb, cfg.ID)
	t0 := time.Now()
	if _, err := store.Load(ctx, []Contact{c}, t0); err != nil {
		t.Fatal(err)
	}
	dead, err := store.Claim(ctx, "dead", 1, 10, cfg.LeaseTTL, t0)
	if err != nil || len(dead) != 1 {
		t.Fatalf("claim: %v, %v", dead, err)
	}
	if _, err := store.Begin(ctx, dead[0], 100, t0.Format(time.DateOnly), cfg.LeaseTTL, t0); err != nil {
		t.Fatal(err)
	}
	// The dead process's lock outlives its lease (it renewed both a moment apart).
	if err := rdb.Set(ctx, liveKey(c.Phone), "dead/other/1", 3*cfg.LeaseTTL).Err(); err != nil {
		t.Fatal(err)
	}
	d := &reapingDialer{fakeDialer: newFakeDialer(t, func(string) call.Outcome { return call.Answered })}
	r := completingRunner(t, cfg, rdb, d, "survivor")
	if err := r.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	d.mu.Lock()
	log := append([]string(nil), d.log...)
	d.mu.Unlock()
	want := "reap " + CallID(cfg.ID, c.ID, dead[0].Token)
	for _, e := range log {
		if e == want {
			return
		}
		if strings.HasPrefix(e, "dial ") {
			t.Fatalf("%s before the dead process's call was reaped (%s); log %v", e, want, log)
		}
	}
	t.Fatalf("the dead process's call was never reaped; log %v", log)
}
