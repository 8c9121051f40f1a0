package faulttest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/aritest"
	aridriver "github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/internal/redistest"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/campaign"
)

// roleEnv makes the test binary a campaign controller process instead of a test run.
const roleEnv = "OUTCALL_FAULTTEST_ROLE"

func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) == "controller" {
		if err := controller(); err != nil {
			fmt.Fprintln(os.Stderr, "controller:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const leaseTTL = 1500 * time.Millisecond

// campaignConfig is the campaign every controller process runs.
// On a real Asterisk (FAULTTEST_ENDPOINT set by TestControllerKilledOnRealAsterisk) the campaign dials that
// endpoint, 12 calls at a time, gently for a shared server.
func campaignConfig(id string) campaign.Config {
	endpoint, maxConc, cps := "PJSIP/{number}@trunk", 60, 300.0
	if e := os.Getenv("FAULTTEST_ENDPOINT"); e != "" {
		endpoint, maxConc, cps = e, 12, 30
	}
	return campaign.Config{ID: id, Endpoint: endpoint, MaxConcurrent: maxConc, CPS: cps,
		TimeZone: "Asia/Shanghai", Windows: []campaign.Window{{Days: campaign.EveryDay, Start: "00:00", End: "24:00"}},
		MaxAttempts: 2, MaxPerDay: 2, RingTimeout: 700 * time.Millisecond, LeaseTTL: leaseTTL,
		Retry: map[call.Outcome]campaign.RetryRule{call.Busy: {Delay: 50 * time.Millisecond},
			call.NoAnswer: {Delay: 50 * time.Millisecond}, call.Congestion: {Delay: 50 * time.Millisecond},
			call.Failed: {Delay: 50 * time.Millisecond}}}
}

// controller is one process's share of the campaign: ARI client and driver on the simulator named by the
// environment (the password too: not on the command line, where ps shows it), its own Redis connection, a
// runner. It prints "ready" once connected and runs until the campaign is done or it is killed.
func controller() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	client, err := ari.New(ari.Config{URL: os.Getenv("ARI_URL"), Username: os.Getenv("ARI_USERNAME"),
		Password: os.Getenv("ARI_PASSWORD"), App: os.Getenv("ARI_APP")})
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.Start(ctx); err != nil {
		return err
	}
	driver, err := aridriver.New(client, aridriver.Config{})
	if err != nil {
		return err
	}
	defer driver.Close()
	opt, err := redis.ParseURL(os.Getenv("REDIS_URL"))
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	r, err := campaign.NewRunner(campaign.RunnerConfig{Campaign: campaignConfig(os.Getenv("CAMPAIGN")), Redis: rdb,
		Dialer: driver, Handler: listenBriefly, Owner: os.Getenv("OWNER"), Slots: 20, Poll: 20 * time.Millisecond})
	if err != nil {
		return err
	}
	fmt.Println("ready")
	return r.Run(ctx)
}

// listenBriefly reads 200 ms of the callee (3 s on a real Asterisk), as a script's first turn would, then ends
// the call.
func listenBriefly(ctx context.Context, c call.Call, _ campaign.Attempt) (campaign.CallResult, error) {
	m := c.Media()
	frames := 10
	if os.Getenv("FAULTTEST_ENDPOINT") != "" { // a real Asterisk: calls long enough to be up when the kill comes
		frames = 150
	}
	for i := 0; i < frames; i++ {
		if _, err := m.Read(ctx); err != nil {
			return campaign.CallResult{Outcome: "callee-hangup"}, nil
		}
	}
	return campaign.CallResult{Outcome: "completed"}, nil
}

// proc is a controller child process.
type proc struct {
	cmd  *exec.Cmd
	done chan error
}

// ariTarget is the Asterisk (simulated or real) the controllers talk to.
type ariTarget struct{ url, username, password, endpoint string }

func simTarget(sim *aritest.Server) ariTarget {
	return ariTarget{sim.URL(), sim.Username(), sim.Password(), ""}
}

func startController(t *testing.T, ast ariTarget, rs *redistest.Server, camp, owner string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), roleEnv+"=controller", "ARI_URL="+ast.url, "ARI_USERNAME="+ast.username,
		"ARI_PASSWORD="+ast.password, "ARI_APP=outcall-"+owner, "REDIS_URL="+rs.URL(), "CAMPAIGN="+camp,
		"OWNER="+owner, "FAULTTEST_ENDPOINT="+ast.endpoint)
	cmd.Stderr = &testWriter{t: t, prefix: owner + ": "}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, out)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case <-ready:
	case err := <-p.done:
		t.Fatalf("controller %s exited before it was ready: %v", owner, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("controller %s not ready after 30 s", owner)
	}
	return p
}

type testWriter struct {
	t      *testing.T
	prefix string
}

func (w *testWriter) Write(b []byte) (int, error) {
	w.t.Log(w.prefix + strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// contactsOnSim registers n callees with mixed behaviour on the simulator and returns their contacts.
func contactsOnSim(t *testing.T, sim *aritest.Server, n int) []campaign.Contact {
	t.Helper()
	contacts := make([]campaign.Contact, n)
	for i := range contacts {
		number := fmt.Sprintf("861390000%04d", i)
		contacts[i] = campaign.Contact{ID: fmt.Sprintf("c%04d", i), Phone: "+" + number}
		var s callee.Script
		switch i % 10 {
		case 0, 1:
			s = callee.Script{Answer: callee.Busy}
		case 2:
			s = callee.Script{Answer: callee.NoAnswer}
		case 3:
			s = callee.Script{Answer: callee.Congestion}
		default:
			s = callee.Script{AnswerAfter: 60 * time.Millisecond} // stays up until the app hangs up
		}
		if err := sim.AddCallee(number, s); err != nil {
			t.Fatal(err)
		}
	}
	return contacts
}

// killFigures is what one SIGKILL cost, for docs/reliability.md.
type killFigures struct {
	contacts, lost, concurrentTwice, upAtKill, upAtEnd, abandoned int
	takeover, reapedIn                                            time.Duration
	simCalls, attempts                                            int
	leftChannels, leftBridges                                     []string // on the PBX after the run (GET /channels, /bridges)
}

// TestControllerKilledMidCampaign runs one campaign on three controller processes and SIGKILLs one of them
// mid-way, at two different moments (early: a tenth of the contacts recorded; late: half). 200 contacts by
// default; FAULTTEST_CONTACTS=1000 for the run of docs/reliability.md.
func TestControllerKilledMidCampaign(t *testing.T) {
	n := 200
	if v := os.Getenv("FAULTTEST_CONTACTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	for _, at := range []struct {
		name     string
		fraction float64
	}{{"early", 0.1}, {"late", 0.5}} {
		t.Run(at.name, func(t *testing.T) {
			f := killOne(t, n, at.fraction)
			t.Logf("FIGURES kill=%s contacts=%d lost=%d dialled-twice-concurrently=%d calls-up-at-kill=%d "+
				"reaped-in=%v calls-up-at-end=%d abandoned=%d takeover=%v (lease %v) sim-calls=%d attempts=%d",
				at.name, f.contacts, f.lost, f.concurrentTwice, f.upAtKill, f.reapedIn.Round(time.Millisecond),
				f.upAtEnd, f.abandoned, f.takeover.Round(time.Millisecond), leaseTTL, f.simCalls, f.attempts)
			if f.lost != 0 || f.concurrentTwice != 0 || f.upAtEnd != 0 {
				t.Errorf("lost %d, dialled twice at once %d, calls left up %d: want 0, 0, 0", f.lost, f.concurrentTwice, f.upAtEnd)
			}
			if len(f.leftChannels)+len(f.leftBridges) > 0 {
				t.Errorf("left on the PBX: channels %v, bridges %v", f.leftChannels, f.leftBridges)
			}
			if f.abandoned > 0 && f.takeover > 3*leaseTTL {
				t.Errorf("the survivors took over %v after the kill; the lease is %v", f.takeover, leaseTTL)
			}
		})
	}
}

func killOne(t *testing.T, n int, fraction float64) killFigures {
	rs := redistest.Start(t)
	sim, err := aritest.New(aritest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	contacts := contactsOnSim(t, sim, n)
	camp := "kill-" + strconv.Itoa(int(fraction*100))
	rdb := rs.Client(t)
	store := campaign.NewStore(rdb, camp)
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	if _, err := store.Load(ctx, contacts, time.Now()); err != nil {
		t.Fatal(err)
	}
	procs := make([]*proc, 3)
	for i := range procs {
		procs[i] = startController(t, simTarget(sim), rs, camp, fmt.Sprintf("proc-%d", i))
	}
	waitResults(t, ctx, rdb, camp, int64(fraction*float64(n)))
	if err := procs[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-procs[0].done
	killedAt := time.Now()
	upAtKill := map[string]bool{}
	for _, c := range sim.Calls() {
		if c.End.IsZero() {
			upAtKill[c.ID] = true
		}
	}
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
	f := figures(t, ctx, sim, store, contacts, camp, killedAt, upAtKill)
	f.leftChannels, f.leftBridges = leftovers(t, ctx, simTarget(sim), nil, nil)
	return f
}

// leftovers lists the channels and bridges on the Asterisk that are not in the before sets (nil: none before).
func leftovers(t *testing.T, ctx context.Context, ast ariTarget, chansBefore, bridgesBefore map[string]bool) (chans, bridges []string) {
	t.Helper()
	c, err := ari.New(ari.Config{URL: ast.url, Username: ast.username, Password: ast.password, App: "outcall-witness"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cs, err := c.ListChannels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range cs {
		if !chansBefore[ch.ID] {
			chans = append(chans, ch.ID)
		}
	}
	bs, err := c.ListBridges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if !bridgesBefore[b.ID] {
			bridges = append(bridges, b.ID)
		}
	}
	return chans, bridges
}

func waitResults(t *testing.T, ctx context.Context, rdb *redis.Client, camp string, n int64) {
	t.Helper()
	key := "outcall:camp:{" + camp + "}:results"
	for {
		got, err := rdb.XLen(ctx, key).Result()
		if err == nil && got >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d results of %d before the kill: %v", got, n, errors.Join(err, ctx.Err()))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// figures counts what the kill cost, from the store and from the simulator's own call log.
func figures(t *testing.T, ctx context.Context, sim *aritest.Server, store *campaign.Store, contacts []campaign.Contact,
	camp string, killedAt time.Time, upAtKill map[string]bool) killFigures {
	f := killFigures{contacts: len(contacts), upAtEnd: sim.Active(), simCalls: len(sim.Calls())}
	for _, c := range contacts {
		st, err := store.Contact(ctx, c.ID)
		if err != nil || st.Status != campaign.StatusDone {
			f.lost++
		}
		f.attempts += st.Attempts
		if sim.MaxConcurrent(strings.TrimPrefix(c.Phone, "+")) > 1 {
			f.concurrentTwice++
		}
	}
	results, err := store.Results(ctx)
	if err != nil {
		t.Fatal(err)
	}
	calls := sim.Calls()
	for _, r := range results {
		if r.Outcome != "abandoned" {
			continue
		}
		f.abandoned++
		if d := r.At.Sub(killedAt); f.takeover == 0 || d < f.takeover {
			f.takeover = d
		}
		id := campaign.CallID(camp, r.Contact, r.Fence)
		for _, c := range calls {
			if strings.HasPrefix(c.ID, id) && upAtKill[c.ID] {
				f.upAtKill++
				f.reapedIn = max(f.reapedIn, c.End.Sub(killedAt))
			}
		}
	}
	return f
}
