package campaign

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/outcall/outcall/internal/redistest"
	"github.com/outcall/outcall/pkg/call"
)

// outage is how long Redis stays away in the Redis-down test; REDIS_DOWN overrides it (e.g. REDIS_DOWN=2s).
func outage(t *testing.T) time.Duration {
	d := 10 * time.Second
	if v := os.Getenv("REDIS_DOWN"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("REDIS_DOWN=%q: %v", v, err)
		}
	}
	return d
}

// TestRedisDownMidCalls kills redis-server (SIGKILL; its append-only file keeps what it acknowledged) while two
// runners have calls up, keeps it away for 10 s, and restarts it on the same port. The calls in progress finish
// and their results are recorded once Redis is back; no contact is claimed or dialed while it is away; after it the
// campaign resumes with every attempt recorded exactly once and no lease expired.
func TestRedisDownMidCalls(t *testing.T) {
	srv := redistest.StartPersistent(t)
	down := outage(t)
	cfg := testCampaign("down")
	cfg.LeaseTTL = down + 5*time.Second // a lease outlives the outage: nobody may take over a live call
	contacts := contactsN(60)
	dialer := newFakeDialer(t, mixedOutcome)
	var mu sync.Mutex
	var dialTimes []time.Time
	inCall := make(chan struct{}, 100)
	release := make(chan struct{})
	timed := dialFunc(func(ctx context.Context, r call.Request) (call.Call, error) {
		mu.Lock()
		dialTimes = append(dialTimes, time.Now())
		mu.Unlock()
		return dialer.Dial(ctx, r)
	})
	handler := func(ctx context.Context, c call.Call, a Attempt) (CallResult, error) {
		select {
		case inCall <- struct{}{}:
		default:
		}
		select { // calls answered before the outage last until Redis is away
		case <-release:
		case <-ctx.Done():
			return CallResult{}, ctx.Err()
		}
		return CallResult{Outcome: "completed"}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*down+60*time.Second)
	defer cancel()
	store := NewStore(srv.Client(t), cfg.ID)
	if _, err := store.Load(ctx, contacts, time.Now()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
		defer rdb.Close()
		r, err := NewRunner(RunnerConfig{Campaign: cfg, Redis: rdb, Dialer: timed, Handler: handler,
			Owner: fmt.Sprintf("proc-%d", i), Slots: 4, Poll: 10 * time.Millisecond})
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
	for i := 0; i < 4; i++ { // calls are up
		<-inCall
	}
	srv.Kill()
	wentDown := time.Now()
	close(release)   // the calls end while Redis is away: their results must wait for it
	time.Sleep(down) // the outage itself, not a synchronisation
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	cameBack := time.Now()
	wg.Wait()
	mu.Lock()
	during := 0
	for _, at := range dialTimes {
		// A dial that had begun (its lease marked dialing) just before the kill may leave a moment after it.
		if at.After(wentDown.Add(500*time.Millisecond)) && at.Before(cameBack) {
			during++
		}
	}
	mu.Unlock()
	if during > 0 {
		t.Errorf("%d calls were dialed while Redis was away: claims must stop with it", during)
	}
	checkExactlyOnce(t, ctx, store, dialer, len(contacts), contacts)
	t.Logf("Redis down %v with calls up; %d dials in all, %d during the outage", cameBack.Sub(wentDown).Round(time.Millisecond), dialer.total, during)
}

type dialFunc func(ctx context.Context, r call.Request) (call.Call, error)

func (f dialFunc) Dial(ctx context.Context, r call.Request) (call.Call, error) { return f(ctx, r) }

// TestRedisFailoverMidCampaign kills the cluster master that holds the campaign while three runners dial it; its
// replica is promoted (cluster node timeout 2 s) and the runners carry on against it. Writes the master
// acknowledged but had not yet sent to its replica are the one thing a failover may lose (Redis replication is
// asynchronous); the figures below say whether any were. (It once found the campaign missing under full-suite
// load: another package's redis-server had been started on the dead master's freed port and the cluster clients
// read its slot map; redistest's Kill now holds a killed node's ports.)
func TestRedisFailoverMidCampaign(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg := testCampaign("failover")
	cfg.LeaseTTL = 10 * time.Second
	contacts := contactsN(300)
	dialer := newFakeDialer(t, mixedOutcome)
	rdb := cl.Client(t)
	store := NewStore(rdb, cfg.ID)
	slot, err := cl.KeySlot(ctx, store.k.due)
	if err != nil {
		t.Fatal(err)
	}
	master, err := cl.SlotOwner(ctx, slot)
	if err != nil {
		t.Fatal(err)
	}
	replica := cl.AddReplica(t, master)
	if n, err := store.Load(ctx, contacts, time.Now()); err != nil || n != len(contacts) {
		t.Fatalf("Load = %d, %v", n, err)
	}
	wg := startRunners(t, ctx, 3, func(i int) RunnerConfig {
		return RunnerConfig{Campaign: cfg, Redis: cl.Client(t), Dialer: dialer, Handler: quickHandler,
			Owner: fmt.Sprintf("proc-%d", i), Slots: 5, Poll: 10 * time.Millisecond,
			Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}
	})
	for {
		n, err := rdb.XLen(ctx, store.k.results).Result()
		if err == nil && n >= 60 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d results before the failover: %v", n, err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	cl.Masters[master].Kill()
	killed := time.Now()
	for { // the replica takes over the master's slots
		info, err := replica.Client(t).Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "role:master") {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("replica never promoted: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	promoted := time.Since(killed)
	wg.Wait()
	// A new client reads the slot map as it is now (the test's own was last loaded before the failover).
	checkExactlyOnce(t, ctx, NewStore(cl.Client(t), cfg.ID), dialer, len(contacts), contacts)
	t.Logf("master %d killed mid-campaign; replica promoted after %v; %d dials", master,
		promoted.Round(time.Millisecond), dialer.total)
}
