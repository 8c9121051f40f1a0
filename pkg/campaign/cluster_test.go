package campaign

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/internal/redistest"
	"github.com/outcall/outcall/pkg/call"
)

// quickHandler answers every call in a few milliseconds; numbers ending in 7 opt out.
func quickHandler(ctx context.Context, c call.Call, a Attempt) (CallResult, error) {
	select {
	case <-time.After(time.Duration(2+rand.IntN(6)) * time.Millisecond):
	case <-ctx.Done():
		return CallResult{}, ctx.Err()
	}
	if strings.HasSuffix(a.Contact.Phone, "7") {
		return CallResult{Outcome: "optout", OptOut: true}, nil
	}
	return CallResult{Outcome: "completed"}, nil
}

// checkExactlyOnce asserts that all loaded contacts ended terminal and that every dial the PBX saw of contacts is
// recorded once in the results stream, with nothing abandoned: no process died, so no attempt may be lost or made
// twice.
func checkExactlyOnce(t *testing.T, ctx context.Context, s *Store, d *fakeDialer, loaded int, contacts []Contact) {
	t.Helper()
	p, err := s.Progress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pending != 0 || p.InFlight != 0 || p.Total() != int64(loaded) {
		t.Fatalf("progress %+v: want all %d contacts terminal", p, loaded)
	}
	results, err := s.Results(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]int{}
	for _, r := range results {
		if r.Outcome == "abandoned" {
			t.Errorf("contact %s abandoned (%s): a lease expired though no process died", r.Contact, r.Owner)
		}
		if r.Counted {
			counted[r.Contact]++
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range contacts {
		st, err := s.Contact(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		dials := d.dials[strings.TrimPrefix(c.Phone, "+")]
		if st.Status != StatusDone || st.Attempts != counted[c.ID] || dials != counted[c.ID] {
			t.Errorf("contact %s: status %s, %d attempts on record, %d in the stream, %d dials seen", c.ID,
				st.Status, st.Attempts, counted[c.ID], dials)
		}
	}
}

// TestCampaignOnRedisCluster runs a campaign, its DNC list and opt-outs on a 3-master Redis Cluster with the
// same code as on one server.
func TestCampaignOnRedisCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := testCampaign("cluster")
	contacts := contactsN(200)
	dialer := newFakeDialer(t, mixedOutcome)
	rdb := cl.Client(t)
	dnc := NewDNC(rdb, "cluster")
	if err := dnc.Add(ctx, contacts[0].Phone); err != nil {
		t.Fatal(err)
	}
	store := NewStore(rdb, cfg.ID)
	if n, err := store.Load(ctx, contacts, time.Now()); err != nil || n != len(contacts) {
		t.Fatalf("Load = %d, %v", n, err)
	}
	wg := startRunners(t, ctx, 2, func(i int) RunnerConfig {
		return RunnerConfig{Campaign: cfg, Redis: cl.Client(t), Dialer: dialer, Handler: quickHandler,
			DNC: NewDNC(cl.Client(t), "cluster"), Owner: fmt.Sprintf("proc-%d", i), Slots: 10, Poll: 10 * time.Millisecond}
	})
	wg.Wait()
	st, err := store.Contact(ctx, contacts[0].ID)
	if err != nil || st.Outcome != "refused:dnc" {
		t.Errorf("contact on the DNC list: %+v, %v; want refused:dnc", st, err)
	}
	if n := dialer.dials[strings.TrimPrefix(contacts[0].Phone, "+")]; n != 0 {
		t.Errorf("the number on the DNC list was dialed %d times", n)
	}
	checkExactlyOnce(t, ctx, store, dialer, len(contacts), contacts[1:])
	if on, err := dnc.Contains(ctx, "+86138"+fmt.Sprintf("%08d", 7)); err != nil || !on {
		t.Errorf("opt-out of +8613800000007 not on the DNC list: %v, %v", on, err)
	}
}

// TestCampaignSlotMovedMidCampaign reshards the campaign's slot to another master while three runners dial it, as
// redis-cli --cluster reshard does: keys move a few at a time, so claims, begins and completions meet ASK
// redirections and, while the slot's keys are split across two nodes, TRYAGAIN replies (Redis refuses a multi-key
// command then). No contact may be lost, dialed twice at once, or dialed again after its attempt was made.
func TestCampaignSlotMovedMidCampaign(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg := testCampaign("reshard")
	cfg.LeaseTTL = 2 * time.Second
	contacts := contactsN(400)
	dialer := newFakeDialer(t, mixedOutcome)
	rdb := cl.Client(t)
	store := NewStore(rdb, cfg.ID)
	if n, err := store.Load(ctx, contacts, time.Now()); err != nil || n != len(contacts) {
		t.Fatalf("Load = %d, %v", n, err)
	}
	wg := startRunners(t, ctx, 3, func(i int) RunnerConfig {
		return RunnerConfig{Campaign: cfg, Redis: cl.Client(t), Dialer: dialer, Handler: quickHandler,
			Owner: fmt.Sprintf("proc-%d", i), Slots: 5, Poll: 10 * time.Millisecond,
			Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}
	})
	slot, err := cl.KeySlot(ctx, store.k.due)
	if err != nil {
		t.Fatal(err)
	}
	from, err := cl.SlotOwner(ctx, slot)
	if err != nil {
		t.Fatal(err)
	}
	resultsAfter := func(n int64) {
		for {
			got, err := rdb.XLen(ctx, store.k.results).Result()
			if err == nil && got > n {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("the campaign stopped recording results at %d mid-move (%v)", got, err)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	resultsAfter(50)
	move, err := cl.BeginMove(ctx, slot, (from+1)%3)
	if err != nil {
		t.Fatal(err)
	}
	moved, steps := 0, 0
	for {
		n, err := move.Step(ctx, 5)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		moved += n
		steps++
	}
	if err := move.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	mid, _ := rdb.XLen(ctx, store.k.results).Result()
	wg.Wait()
	checkExactlyOnce(t, ctx, store, dialer, len(contacts), contacts)
	if end, _ := rdb.XLen(ctx, store.k.results).Result(); mid >= end {
		t.Errorf("the campaign was over (%d results) when the slot move ended: it did not move mid-campaign", end)
	}
	t.Logf("moved slot %d (%d keys in %d steps) from master %d to %d mid-campaign; %d results when it finished; %d dials",
		slot, moved, steps, from, (from+1)%3, mid, dialer.total)
}

// TestClaimWithSlotSplit claims while the campaign's slot is half moved: the campaign-wide keys on the new master,
// the contacts still on the old one. The claim script reaches contact keys it cannot declare (it learns their ids
// as it runs); it must either be refused (Redis answers TRYAGAIN) or return whole contacts, and the move must then
// finish (no contact key created on the new master behind the migration's back) with every contact intact.
func TestClaimWithSlotSplit(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rdb := cl.Client(t)
	s := NewStore(rdb, "split")
	now := time.Now()
	contacts := contactsN(6)
	if _, err := s.Load(ctx, contacts, now); err != nil {
		t.Fatal(err)
	}
	// One finished contact, so that every key the claim declares exists (the stats and results too).
	first, err := s.Claim(ctx, "p", 1, 10, time.Minute, now)
	if err != nil || len(first) != 1 {
		t.Fatalf("claim: %v, %v", first, err)
	}
	if err := s.Complete(ctx, first[0], "p", Completion{Outcome: "completed", Terminal: true, Counted: true}, now); err != nil {
		t.Fatal(err)
	}
	slot, _ := cl.KeySlot(ctx, s.k.due)
	from, _ := cl.SlotOwner(ctx, slot)
	move, err := cl.BeginMove(ctx, slot, (from+1)%3)
	if err != nil {
		t.Fatal(err)
	}
	if err := move.Migrate(ctx, s.k.ctl, s.k.due, s.k.leases, s.k.fence, s.k.results, s.k.stats, s.k.all); err != nil {
		t.Fatal(err)
	}
	leases, claimErr := s.Claim(ctx, "p", 5, 10, time.Minute, now)
	t.Logf("claim mid-move: %d leases, %v", len(leases), claimErr)
	if err := move.Finish(ctx); err != nil {
		t.Fatalf("finishing the move after a claim mid-move: %v", err)
	}
	if claimErr == nil {
		for _, l := range leases {
			if l.Contact.Phone == "" {
				t.Errorf("lease %+v holds no contact", l)
			}
		}
	}
	for _, c := range contacts {
		st, err := s.Contact(ctx, c.ID)
		if err != nil || st.Contact.Phone != c.Phone {
			t.Errorf("contact %s after the move: %+v, %v", c.ID, st, err)
		}
	}
}

// TestBeginAndCompleteRepeatable: the runner retries Begin and Complete after a Redis error whose reply it never
// saw (a restart, a failover, a reshard); running either twice must count, pace and record the attempt once.
func TestBeginAndCompleteRepeatable(t *testing.T) {
	srv := redistest.Start(t)
	s := NewStore(srv.Client(t), "again")
	ctx := context.Background()
	now := time.Now()
	if _, err := s.Load(ctx, contactsN(2), now); err != nil {
		t.Fatal(err)
	}
	leases, err := s.Claim(ctx, "p", 2, 10, time.Minute, now)
	if err != nil || len(leases) != 2 {
		t.Fatalf("claim: %v, %v", leases, err)
	}
	for _, l := range leases {
		for i := 0; i < 2; i++ {
			if wait, err := s.Begin(ctx, l, 1000, "2026-12-03", time.Minute, now); err != nil || wait != 0 {
				t.Fatalf("Begin #%d = %v, %v", i+1, wait, err)
			}
		}
	}
	done := Completion{Outcome: "completed", Terminal: true, Counted: true}
	retry := Completion{Outcome: "busy", Counted: true, NextAt: now.Add(time.Hour)}
	for i := 0; i < 2; i++ {
		if err := s.Complete(ctx, leases[0], "p", done, now); err != nil {
			t.Fatalf("Complete (terminal) #%d: %v", i+1, err)
		}
		if err := s.Complete(ctx, leases[1], "p", retry, now); err != nil {
			t.Fatalf("Complete (retry later) #%d: %v", i+1, err)
		}
	}
	res, err := s.Results(ctx)
	if err != nil || len(res) != 2 {
		t.Fatalf("results %+v, %v; want one per contact", res, err)
	}
	for _, c := range contactsN(2) {
		h, err := s.rdb.HGetAll(ctx, s.k.prefix+c.ID).Result()
		if err != nil || h["attempts"] != "1" || h["day_attempts"] != "1" {
			t.Errorf("contact %s: attempts %s, day_attempts %s, %v; want 1 and 1", c.ID, h["attempts"], h["day_attempts"], err)
		}
	}
	p, _ := s.Progress(ctx)
	if p.Done["completed"] != 1 || p.Pending != 1 {
		t.Errorf("progress %+v; want 1 completed, 1 pending", p)
	}
}

// TestStaleCallReclaimedFirst: a contact whose lease expired while dialing (its process died; its call may still
// be up on the PBX) goes to the head of the schedule, so the next claim reaps that call at once. It was queued at
// the time of the reclaim, behind every contact already due: with 1,000 contacts the dead process's calls stayed
// up 25-36 s after the SIGKILL (internal/faulttest).
func TestStaleCallReclaimedFirst(t *testing.T) {
	srv := redistest.Start(t)
	s := NewStore(srv.Client(t), "first")
	ctx := context.Background()
	t0 := time.Now()
	if _, err := s.Load(ctx, contactsN(20), t0); err != nil {
		t.Fatal(err)
	}
	a, err := s.Claim(ctx, "dead", 1, 10, time.Second, t0)
	if err != nil || len(a) != 1 {
		t.Fatalf("claim: %v, %v", a, err)
	}
	if _, err := s.Begin(ctx, a[0], 100, "2026-12-03", time.Second, t0); err != nil {
		t.Fatal(err)
	}
	b, err := s.Claim(ctx, "survivor", 1, 10, time.Second, t0.Add(2*time.Second))
	if err != nil || len(b) != 1 {
		t.Fatalf("claim after expiry: %v, %v", b, err)
	}
	if b[0].Contact.ID != a[0].Contact.ID || b[0].StaleToken != a[0].Token {
		t.Fatalf("survivor claimed %s (stale token %d); want %s with stale token %d first", b[0].Contact.ID,
			b[0].StaleToken, a[0].Contact.ID, a[0].Token)
	}
}

// startRunners runs n runners of one campaign until ctx ends, runner i configured by cfg(i); a runner that fails
// is reported on t. Wait on the returned group.
func startRunners(t *testing.T, ctx context.Context, n int, cfg func(i int) RunnerConfig) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		r, err := NewRunner(cfg(i))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx); err != nil {
				t.Errorf("runner %d: %v", i, err)
			}
		}()
	}
	return &wg
}
