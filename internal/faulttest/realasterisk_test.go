package faulttest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/internal/redistest"
	"github.com/outcall/outcall/pkg/campaign"
)

// TestControllerKilledOnRealAsterisk is TestControllerKilledMidCampaign on a real Asterisk: 60 contacts dialled
// through Local/{number}@outcall-echo (docs/real-pbx.md) by three controller processes, one SIGKILLed after 15
// results. A witness lists GET /channels every 100 ms during the run: the same contact with two calls up at once is
// a double dial; channels still up at the end that were not there before are leftovers. Run it by hand, holding
// the Asterisk lock:
//
//	OUTCALL_ARI_URL=http://127.0.0.1:8088 OUTCALL_ARI_USERNAME=outcall OUTCALL_ARI_PASSWORD=change-me \
//	  flock /tmp/asterisk.lock go test -run TestControllerKilledOnRealAsterisk -v ./internal/faulttest
func TestControllerKilledOnRealAsterisk(t *testing.T) {
	url := os.Getenv("OUTCALL_ARI_URL")
	if url == "" {
		t.Skip("no real Asterisk: set OUTCALL_ARI_URL, OUTCALL_ARI_USERNAME, OUTCALL_ARI_PASSWORD (docs/real-pbx.md)")
	}
	n := 60
	ast := ariTarget{url, os.Getenv("OUTCALL_ARI_USERNAME"), os.Getenv("OUTCALL_ARI_PASSWORD"), "Local/{number}@outcall-echo"}
	witness, err := ari.New(ari.Config{URL: ast.url, Username: ast.username, Password: ast.password, App: "outcall-witness"})
	if err != nil {
		t.Fatal(err)
	}
	defer witness.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	before, err := witness.ListChannels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	baseline, bridgesBefore := map[string]bool{}, map[string]bool{}
	for _, c := range before {
		baseline[c.ID] = true
	}
	bridges, err := witness.ListBridges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bridges {
		bridgesBefore[b.ID] = true
	}
	camp := fmt.Sprintf("realkill%d", time.Now().Unix())
	contacts := make([]campaign.Contact, n)
	for i := range contacts {
		contacts[i] = campaign.Contact{ID: fmt.Sprintf("r%03d", i), Phone: fmt.Sprintf("+8613900002%03d", i)}
	}
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	store := campaign.NewStore(rdb, camp)
	if _, err := store.Load(ctx, contacts, time.Now()); err != nil {
		t.Fatal(err)
	}
	w := watchChannels(ctx, witness, camp)
	procs := make([]*proc, 3)
	for i := range procs {
		procs[i] = startController(t, ast, rs, camp, fmt.Sprintf("%s-p%d", camp, i))
	}
	waitResults(t, ctx, rdb, camp, 10)
	dialing := waitDialing(t, ctx, rdb, camp, fmt.Sprintf("%s-p0", camp), 3)
	if err := procs[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-procs[0].done
	killedAt := time.Now()
	atKill, err := witness.ListChannels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	owner0 := map[string]bool{} // calls of the killed process up at the kill: its leases are the abandoned ones
	for i, p := range procs[1:] {
		select {
		case err := <-p.done:
			if err != nil {
				t.Fatalf("controller %d: %v", i+1, err)
			}
		case <-ctx.Done():
			t.Fatalf("controller %d still running: %v", i+1, ctx.Err())
		}
	}
	w.stop()
	results, err := store.Results(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var abandoned int
	var takeover time.Duration
	byOwner := map[string]int{}
	for _, r := range results {
		byOwner[r.Owner]++
		if r.Outcome == "abandoned" {
			abandoned++
			owner0[campaign.CallID(camp, r.Contact, r.Fence)] = true
			if d := r.At.Sub(killedAt); takeover == 0 || d < takeover {
				takeover = d
			}
		}
	}
	upAtKill, reapedIn := 0, time.Duration(0)
	for _, c := range atKill {
		call := strings.TrimSuffix(c.ID, "-a")
		if call == c.ID || !owner0[call] {
			continue
		}
		upAtKill++
		reapedIn = max(reapedIn, w.lastSeen(c.ID).Sub(killedAt))
	}
	lost, attempts := 0, 0
	for _, c := range contacts {
		st, err := store.Contact(ctx, c.ID)
		if err != nil || st.Status != campaign.StatusDone {
			lost++
		}
		attempts += st.Attempts
	}
	left, leftBridges := leftovers(t, ctx, ast, baseline, bridgesBefore)
	for _, id := range left { // leave the shared server clean
		_ = witness.Hangup(ctx, id, "normal")
	}
	for _, id := range leftBridges {
		_ = witness.DestroyBridge(ctx, id)
	}
	t.Logf("FIGURES real-asterisk contacts=%d lost=%d dialled-twice-concurrently=%d calls-up-at-kill=%d "+
		"(process holding %d) reaped-in<=%v left-up-at-end=%d bridges-left=%d abandoned=%d takeover=%v (lease %v) dials-seen=%d attempts=%d polls=%d",
		n, lost, len(w.doubles()), upAtKill, dialing, reapedIn.Round(100*time.Millisecond), len(left), len(leftBridges), abandoned,
		takeover.Round(time.Millisecond), leaseTTL, w.dials(), attempts, w.polls)
	t.Logf("results by owner: %v", byOwner)
	if lost != 0 || len(w.doubles()) != 0 || len(left)+len(leftBridges) != 0 {
		t.Errorf("lost %d, dialled twice at once %v, left up: channels %v, bridges %v: want none", lost, w.doubles(),
			left, leftBridges)
	}
}

// waitDialing waits until owner has at least k contacts in status dialing (calls being placed or up) and returns
// how many it has: the moment to kill it.
func waitDialing(t *testing.T, ctx context.Context, rdb *redis.Client, camp, owner string, k int) int {
	t.Helper()
	p := "outcall:camp:{" + camp + "}:"
	for {
		ids, err := rdb.ZRange(ctx, p+"leases", 0, -1).Result()
		n := 0
		for _, id := range ids {
			v, err := rdb.HMGet(ctx, p+"c:"+id, "status", "owner").Result()
			if err == nil && v[0] == "dialing" && v[1] == owner {
				n++
			}
		}
		if err == nil && n >= k {
			return n
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never had %d calls up: %v", owner, k, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// channelWatch lists the channels every 100 ms and keeps, per call of the campaign, when its "-a" channel (the
// dialled leg) was last seen, and which contacts had two calls up in one listing.
type channelWatch struct {
	mu     sync.Mutex
	seen   map[string]time.Time // channel id -> last listing that held it
	double map[string]bool      // contact id -> seen with two calls at once
	polls  int
	camp   string
	cancel context.CancelFunc
	done   chan struct{}
}

func watchChannels(ctx context.Context, c *ari.Client, camp string) *channelWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &channelWatch{seen: map[string]time.Time{}, double: map[string]bool{}, camp: camp, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			chans, err := c.ListChannels(ctx)
			now := time.Now()
			if err == nil {
				w.record(chans, camp, now)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *channelWatch) record(chans []ari.Channel, camp string, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.polls++
	calls := map[string]int{} // contact -> dialled legs up in this listing
	for _, ch := range chans {
		w.seen[ch.ID] = now
		call, ok := strings.CutSuffix(ch.ID, "-a")
		rest, mine := strings.CutPrefix(call, camp+"-")
		if !ok || !mine {
			continue
		}
		contact, _, _ := strings.Cut(rest, "-")
		if calls[contact]++; calls[contact] > 1 {
			w.double[contact] = true
		}
	}
}

func (w *channelWatch) stop() { w.cancel(); <-w.done }

func (w *channelWatch) lastSeen(id string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen[id]
}

func (w *channelWatch) doubles() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for c := range w.double {
		out = append(out, c)
	}
	return out
}

// dials is how many distinct dialled legs the listings saw.
func (w *channelWatch) dials() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for id := range w.seen {
		if strings.HasPrefix(id, w.camp+"-") && strings.HasSuffix(id, "-a") {
			n++
		}
	}
	return n
}
