package campaign

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/aritest"
	aridriver "github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/internal/redistest"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
)

// TestCampaignOnSimulatorOneProcessKilled is the distributed test of issue 6 on the Asterisk simulator: three
// controller "processes" (each its own ARI app, driver, media socket and Redis connection) share one campaign of
// 1,000 contacts with mixed callee behaviours; one is killed mid-run without clean-up. The simulator's own call log
// is the witness: no number is ever in two calls at once, every call it saw is an attempt recorded exactly once, and
// every contact ends terminal.
func TestCampaignOnSimulatorOneProcessKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 simulated calls; run without -short")
	}
	rs := redistest.Start(t)
	sim, err := aritest.New(aritest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()

	n := 1000
	if v := os.Getenv("SIMN"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	contacts := make([]Contact, n)
	for i := range contacts {
		number := fmt.Sprintf("861390000%04d", i) // the dial string carries E.164 without "+"
		contacts[i] = Contact{ID: fmt.Sprintf("c%04d", i), Phone: "+" + number}
		var s callee.Script
		switch i % 10 {
		case 0, 1:
			s = callee.Script{Answer: callee.Busy}
		case 2:
			s = callee.Script{Answer: callee.NoAnswer}
		case 3:
			s = callee.Script{Answer: callee.Congestion}
		case 4:
			s = callee.Script{Answer: callee.Unallocated}
		case 5:
			s = callee.Script{AnswerAfter: 100 * time.Millisecond, HangupAfterSteps: true,
				Steps: []callee.Step{{Action: callee.Silence, When: callee.Now, Duration: 150 * time.Millisecond}}}
		default:
			s = callee.Script{AnswerAfter: 60 * time.Millisecond}
		}
		if err := sim.AddCallee(number, s); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{ID: "sim1000", Endpoint: "PJSIP/{number}@trunk", MaxConcurrent: 90, CPS: 400, TimeZone: "Asia/Shanghai",
		Windows: []Window{{Days: EveryDay, Start: "00:00", End: "24:00"}}, MaxAttempts: 2, MaxPerDay: 2,
		RingTimeout: 700 * time.Millisecond, LeaseTTL: 1500 * time.Millisecond,
		Retry: map[call.Outcome]RetryRule{call.Busy: {Delay: 50 * time.Millisecond}, call.NoAnswer: {Delay: 50 * time.Millisecond},
			call.Congestion: {Delay: 50 * time.Millisecond}, call.Failed: {Delay: 50 * time.Millisecond}}}
	store := NewStore(rs.Client(t), cfg.ID)
	if _, err := store.Load(context.Background(), contacts, time.Now()); err != nil {
		t.Fatal(err)
	}
	handler := func(ctx context.Context, c call.Call, a Attempt) (CallResult, error) {
		// Listen briefly, as a script's first turn would, then end the call.
		m := c.Media()
		for i := 0; i < 10; i++ {
			if _, err := m.Read(ctx); err != nil {
				return CallResult{Outcome: "callee-hangup"}, nil
			}
		}
		return CallResult{Outcome: "completed"}, nil
	}

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	type proc struct {
		client *ari.Client
		driver *aridriver.Driver
		rdb    *redis.Client
		ctx    context.Context
		kill   context.CancelFunc
	}
	procs := make([]*proc, 3)
	for i := range procs {
		pctx, kill := context.WithCancel(ctx)
		client, err := ari.New(ari.Config{URL: sim.URL(), Username: sim.Username(), Password: sim.Password(),
			App: fmt.Sprintf("outcall-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if err := client.Start(pctx); err != nil {
			t.Fatal(err)
		}
		driver, err := aridriver.New(client, aridriver.Config{})
		if err != nil {
			t.Fatal(err)
		}
		procs[i] = &proc{client: client, driver: driver, ctx: pctx, kill: kill,
			rdb: redis.NewClient(&redis.Options{Addr: rs.Addr, MaxRetries: -1})}
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	var victimBusy <-chan struct{}
	for i, p := range procs {
		h := handler
		if i == 0 {
			h, victimBusy = inFlight(handler, 3)
		}
		r, err := NewRunner(RunnerConfig{Campaign: cfg, Redis: p.rdb, Dialer: p.driver, Handler: h,
			Owner: fmt.Sprintf("proc-%d", i), Slots: 30, Poll: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = r.Run(p.ctx) }()
	}
	// Kill process 0 once it has calls up: its Redis connection dies first (nothing more recorded), then its
	// calls and sockets.
	select {
	case <-victimBusy:
	case <-ctx.Done():
		t.Fatal("process 0 never had 3 calls up")
	}
	procs[0].rdb.Close()
	procs[0].kill()
	procs[0].driver.Close()
	procs[0].client.Close()
	wg.Wait()
	for _, p := range procs[1:] {
		p.driver.Close()
		p.client.Close()
		p.rdb.Close()
	}
	for i, err := range errs[1:] {
		if err != nil {
			t.Fatalf("process %d: %v", i+1, err)
		}
	}

	p, err := store.Progress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pending != 0 || p.InFlight != 0 || p.Total() != int64(n) {
		res, _ := store.Results(ctx)
		fails := map[string]int{}
		for _, r := range res {
			if r.Outcome == "failed" {
				fails[string(r.Result)]++
			}
		}
		t.Logf("failed attempts: %v", fails)
		t.Fatalf("progress %+v: want every contact terminal", p)
	}
	results, err := store.Results(ctx)
	if err != nil {
		t.Fatal(err)
	}
	abandoned := 0
	abandonedBy := map[string]int{}
	failures := map[string]int{}
	for _, r := range results {
		if r.Outcome == "failed" {
			failures[string(r.Result)]++
		}
		if r.Outcome == "abandoned" {
			abandoned++
			abandonedBy[r.Contact]++
		}
	}
	simCalls := map[string]int{}
	for _, c := range sim.Calls() {
		simCalls[c.Number]++
	}
	total := 0
	for i := 0; i < n; i++ {
		number := fmt.Sprintf("861390000%04d", i)
		if mc := sim.MaxConcurrent(number); mc > 1 {
			t.Fatalf("number %s was in %d calls at once", number, mc)
		}
		st, err := store.Contact(ctx, contacts[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != StatusDone {
			t.Fatalf("contact %s status %s", contacts[i].ID, st.Status)
		}
		// Every call the simulator saw is recorded once; the only attempts without a call are ones the killed
		// process had begun (abandoned: whether its originate left the process is unknowable).
		if st.Attempts < simCalls[number] || st.Attempts > simCalls[number]+abandonedBy[contacts[i].ID] {
			t.Fatalf("number %s: simulator saw %d calls, the campaign recorded %d attempts (%d abandoned)",
				number, simCalls[number], st.Attempts, abandonedBy[contacts[i].ID])
		}
		total += st.Attempts
	}
	t.Logf("failed attempts: %v", failures)
	t.Logf("%d calls on the simulator, %d attempts abandoned by the killed process; done %v", total, abandoned, p.Done)
}
