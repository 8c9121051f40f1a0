package campaign

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/outcall/outcall/pkg/call"
)

// CallResult is what a Handler reports about an answered call.
type CallResult struct {
	Outcome string    // e.g. "completed", "transferred", "optout", "callback", "machine", "wrong-person"
	RetryAt time.Time // non-zero: call again then (a callback the callee asked for, a machine to retry)
	OptOut  bool      // the callee asked not to be called again: the number goes on the do-not-call list
	Data    any       // stored with the attempt in the results stream (dialog tags, slots, transcript summary)
}

// Handler runs an answered call: answer classification, then the dialog. It must return when ctx ends (the lease
// was lost or the runner is stopping). The runner hangs up after it returns.
type Handler func(ctx context.Context, c call.Call, a Attempt) (CallResult, error)

// Reaper hangs up a call by the id the runner gave it in call.Request.ID, wherever it is: a process that died
// mid-call leaves its call up on the PBX, and the process that takes its contact over ends that call before dialing
// the number again. The ari and esl drivers implement it; a "not found" is not an error.
type Reaper interface {
	HangupCall(ctx context.Context, callID string) error
}

// CallID is the id the runner gives the call of a lease: campaign, contact and fencing token, so a stale call can be
// found again by whoever reclaims the contact.
func CallID(campaignID, contactID string, token int64) string {
	id := campaignID + "-" + contactID + "-" + strconv.FormatInt(token, 10)
	return strings.NewReplacer("+", "p", "/", "_").Replace(id)
}

// DNCAdder is a do-not-call list that opt-outs are added to.
type DNCAdder interface {
	DNCChecker
	Add(ctx context.Context, e164 ...string) error
}

// RunnerConfig configures one process's share of a campaign.
type RunnerConfig struct {
	Campaign   Config                             // the campaign; validated by NewRunner
	Redis      redis.UniversalClient              // where the campaign lives; required
	Dialer     call.Dialer                        // places calls; required
	Handler    Handler                            // runs answered calls; required
	DNC        DNCAdder                           // do-not-call list; default: a Redis DNC named "default"
	Owner      string                             // this process's name in leases and results; required, unique per process
	Slots      int                                // calls this process runs at once; default: Campaign.MaxConcurrent
	Gates      []Gate                             // default: StandardGates
	Now        func() time.Time                   // default: time.Now
	Poll       time.Duration                      // idle wait between claims; default: 200ms
	OnDecision func(contactID string, d Decision) // every gate decision, for the audit trail
	Metrics    Metrics                            // counts dials, outcomes, refusals (pkg/metrics); default: none
	Logger     zerolog.Logger                     // default: zerolog.Nop()
}

// Runner dials a campaign's contacts from one process. Several Runners (in several processes) share one campaign.
type Runner struct {
	cfg   RunnerConfig
	camp  Config
	store *Store
	cal   *Calendar
	gates []Gate
	log   zerolog.Logger
}

// NewRunner checks the configuration: a broken campaign refuses to start.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	if err := cfg.Campaign.Validate(); err != nil {
		return nil, fmt.Errorf("campaign %q refuses to start: %w", cfg.Campaign.ID, err)
	}
	if cfg.Redis == nil || cfg.Dialer == nil || cfg.Handler == nil || cfg.Owner == "" {
		return nil, errors.New("campaign: Redis, Dialer, Handler and Owner are required")
	}
	camp := cfg.Campaign.withDefaults()
	cal, err := NewCalendar(&camp)
	if err != nil {
		return nil, err
	}
	if cfg.DNC == nil {
		cfg.DNC = NewDNC(cfg.Redis, "")
	}
	if cfg.Slots <= 0 {
		cfg.Slots = camp.MaxConcurrent
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	gates := cfg.Gates
	if gates == nil {
		gates = StandardGates(&camp, cal, cfg.DNC)
	}
	return &Runner{cfg: cfg, camp: camp, store: NewStore(cfg.Redis, camp.ID), cal: cal, gates: gates,
		log: cfg.Logger.With().Str("campaign", camp.ID).Str("owner", cfg.Owner).Logger()}, nil
}

// Store returns the runner's campaign store.
func (r *Runner) Store() *Store { return r.store }

// Run claims and dials contacts until the campaign has nothing left to do (every contact terminal), it is stopped,
// or ctx ends. Calls in progress are waited for.
func (r *Runner) Run(ctx context.Context) error {
	sem := make(chan struct{}, r.cfg.Slots)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		free := r.cfg.Slots - len(sem)
		var leases []Lease
		var err error
		if free > 0 {
			leases, err = r.store.Claim(ctx, r.cfg.Owner, free, r.camp.MaxConcurrent, r.camp.LeaseTTL, r.cfg.Now())
		}
		switch {
		case errors.Is(err, ErrNotRunning):
			st, _ := r.store.State(ctx)
			switch st {
			case "stopped":
				return nil
			case "missing":
				return fmt.Errorf("campaign %q has no contacts loaded (Store.Load first)", r.camp.ID)
			}
			if !sleep(ctx, r.cfg.Poll) {
				return ctx.Err()
			}
			continue
		case err != nil:
			r.redisFailed()
			r.log.Error().Err(err).Msg("claim failed; dialing paused until Redis answers")
			if !sleep(ctx, r.cfg.Poll*5) {
				return ctx.Err()
			}
			continue
		}
		for _, l := range leases {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				r.attempt(ctx, l)
			}()
		}
		if len(leases) > 0 {
			continue
		}
		if len(sem) == 0 {
			p, err := r.store.Progress(ctx)
			if err == nil && p.Pending == 0 && p.InFlight == 0 {
				return nil
			}
		}
		if !sleep(ctx, r.cfg.Poll) {
			return ctx.Err()
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// attempt runs one leased contact: gates, pacing, dial, handler, result.
func (r *Runner) attempt(ctx context.Context, l Lease) {
	log := r.log.With().Str("contact", l.Contact.ID).Int64("fence", l.Token).Logger()
	now := r.cfg.Now()
	if l.StaleToken != 0 {
		// A dead process's call may still be up, a callee hearing silence: end it first, whatever the gates say
		// now. Until that is done the contact keeps its stale token, so whoever holds it next tries again.
		if err := r.reap(ctx, l); err != nil {
			log.Warn().Err(err).Msg("a stale call of a dead process may still be up: not dialing")
			r.complete(ctx, l, Completion{Outcome: "refused:stale-call", NextAt: now.Add(r.camp.LeaseTTL),
				Result: map[string]string{"gate": "stale-call", "reason": err.Error()}}, log)
			return
		}
	}
	a := Attempt{Contact: l.Contact, Attempts: l.Attempts, DayAttempts: l.DayAttempts, LastDay: l.LastDay, Now: now}
	d := CheckAll(ctx, r.gates, a)
	if r.cfg.OnDecision != nil {
		r.cfg.OnDecision(l.Contact.ID, d)
	}
	if !d.Allow {
		r.cfg.Metrics.GateRefused(d.Gate)
		log.Debug().Str("gate", d.Gate).Str("reason", d.Reason).Msg("gate refused")
		r.complete(ctx, l, Completion{Outcome: "refused:" + d.Gate, Terminal: d.Terminal, NextAt: d.RetryAt,
			Result: map[string]string{"gate": d.Gate, "reason": d.Reason}}, log)
		return
	}
	lock, err := r.lockNumber(ctx, l)
	if err != nil || !lock {
		reason := "number already in a live call"
		if err != nil {
			reason = "live-call lock unavailable: " + err.Error()
		}
		r.cfg.Metrics.GateRefused("live")
		// The lock lasts a lease unless its call renews it: by then it is free, or its call is still going. (A fixed
		// minute left a contact reclaimed from a dead process waiting for a lock that expired a moment later.)
		r.complete(ctx, l, Completion{Outcome: "refused:live", NextAt: now.Add(r.camp.LeaseTTL),
			Result: map[string]string{"gate": "live", "reason": reason}}, log)
		return
	}
	defer r.unlockNumber(l)
	if !r.begin(ctx, l, now, log) {
		return
	}

	callCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopRenew := r.keepLease(callCtx, cancel, l, log)
	defer stopRenew()

	answered, ended := r.cfg.Metrics.CallStarted()
	defer ended()
	started := r.cfg.Now()
	c, err := r.cfg.Dialer.Dial(callCtx, call.Request{
		ID:        CallID(r.camp.ID, l.Contact.ID, l.Token),
		Endpoint:  r.camp.DialString(l.Contact.Phone),
		CallerID:  r.camp.CallerID,
		Timeout:   r.camp.RingTimeout,
		Variables: map[string]string{"OUTCALL_CAMPAIGN": r.camp.ID, "OUTCALL_CONTACT": l.Contact.ID},
	})
	attempts := l.Attempts + 1
	if err != nil {
		o := call.OutcomeOfError(err)
		r.cfg.Metrics.Outcome(o.String())
		comp := Completion{Outcome: o.String(), Counted: true, Result: map[string]any{"error": err.Error(),
			"ring_ms": r.cfg.Now().Sub(started).Milliseconds()}}
		r.schedule(&comp, r.camp.retryRule(o), attempts, o == call.Unallocated)
		r.complete(ctx, l, comp, log)
		return
	}
	answered()
	res, herr := r.cfg.Handler(callCtx, c, a)
	hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if err := c.Hangup(hctx, call.CauseNormal); err != nil && !errors.Is(err, call.ErrHungUp) {
		log.Debug().Err(err).Msg("hangup after handler")
	}
	hcancel()
	if res.Outcome == "" {
		res.Outcome = "completed"
		if herr != nil {
			res.Outcome = "error"
		}
	}
	if res.OptOut {
		if err := r.cfg.DNC.Add(context.WithoutCancel(ctx), l.Contact.Phone); err != nil {
			log.Error().Err(err).Msg("opt-out not added to the do-not-call list")
		}
	}
	r.cfg.Metrics.Outcome(res.Outcome)
	result := map[string]any{"call_id": c.ID(), "duration_ms": r.cfg.Now().Sub(started).Milliseconds(), "data": res.Data}
	if herr != nil {
		result["error"] = herr.Error()
	}
	comp := Completion{Outcome: res.Outcome, Counted: true, Result: result, Terminal: true}
	switch {
	case res.OptOut:
	case !res.RetryAt.IsZero() && attempts < r.camp.MaxAttempts:
		comp.Terminal, comp.NextAt = false, res.RetryAt
	case res.Outcome == "machine" || res.Outcome == "silence":
		r.schedule(&comp, r.camp.RetryMachine, attempts, false)
	}
	r.complete(ctx, l, comp, log)
}

// reap hangs up the call of a reclaimed lease and then clears the contact's stale token. A dialer that cannot
// reap (no Reaper) is trusted to have ended its calls with its process.
func (r *Runner) reap(ctx context.Context, l Lease) error {
	if reaper, ok := r.cfg.Dialer.(Reaper); ok {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := reaper.HangupCall(rctx, CallID(r.camp.ID, l.Contact.ID, l.StaleToken))
		cancel()
		if err != nil {
			return err
		}
	}
	return r.persist(ctx, func(ctx context.Context) error { return r.store.Reaped(ctx, l) })
}

// schedule sets a retry for an unanswered or machine outcome, or makes the completion terminal.
func (r *Runner) schedule(c *Completion, rule RetryRule, attempts int, final bool) {
	delay, ok := rule.nextDelay(attempts)
	if final || !ok || attempts >= r.camp.MaxAttempts {
		c.Terminal = true
		return
	}
	c.NextAt = r.cfg.Now().Add(delay)
}

// begin waits for the shared CPS budget and marks the lease as dialing. False: do not dial (the lease was lost, ctx
// ended, or Redis stayed unreachable for a lease; the contact is then reclaimed once its lease expires).
func (r *Runner) begin(ctx context.Context, l Lease, now time.Time, log zerolog.Logger) bool {
	loc, _ := r.cal.Location(l.Contact.TZ)
	day := now.In(loc).Format(time.DateOnly)
	for {
		var wait time.Duration
		err := r.persist(ctx, func(ctx context.Context) (err error) {
			wait, err = r.store.Begin(ctx, l, r.camp.CPS, day, r.camp.LeaseTTL, r.cfg.Now())
			return err
		})
		if err != nil {
			log.Warn().Err(err).Msg("could not start the attempt")
			return false
		}
		if wait == 0 {
			return true
		}
		if !sleep(ctx, wait) {
			return false
		}
	}
}

func (r *Runner) complete(ctx context.Context, l Lease, c Completion, log zerolog.Logger) {
	// Record even when ctx is ending: the attempt happened. A lost lease means another process already did. A
	// result dropped on a Redis error would make the contact's lease expire "while dialing" and the number be
	// dialed again, so it is retried for as long as the lease can hold (Complete is safe to repeat).
	err := r.persist(context.WithoutCancel(ctx), func(ctx context.Context) error {
		return r.store.Complete(ctx, l, r.cfg.Owner, c, r.cfg.Now())
	})
	if err != nil {
		log.Warn().Err(err).Str("outcome", c.Outcome).Msg("result not recorded")
	}
}

// persist runs a lease write until it succeeds, the lease is lost (ErrStaleLease), ctx ends, or a lease's time has
// passed: a Redis restart, failover or cluster resharding (TRYAGAIN, MOVED past the client's redirections) is
// waited out instead of dropping the write.
func (r *Runner) persist(ctx context.Context, op func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, max(r.camp.LeaseTTL, 5*time.Second))
	defer cancel()
	backoff := 20 * time.Millisecond
	for {
		octx, ocancel := context.WithTimeout(ctx, 5*time.Second)
		err := op(octx)
		ocancel()
		if err == nil || errors.Is(err, ErrStaleLease) {
			return err
		}
		r.redisFailed()
		if !sleep(ctx, backoff) {
			return fmt.Errorf("%w (gave up after %v: %w)", err, max(r.camp.LeaseTTL, 5*time.Second), ctx.Err())
		}
		backoff = min(2*backoff, time.Second)
	}
}

// keepLease renews the lease while the call lasts; losing it cancels the call.
func (r *Runner) keepLease(ctx context.Context, cancel context.CancelFunc, l Lease, log zerolog.Logger) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(r.camp.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				_ = relockScript.Run(ctx, r.cfg.Redis, []string{liveKey(l.Contact.Phone)}, r.lockValue(l),
					r.camp.LeaseTTL.Milliseconds()).Err()
				if err := r.store.Renew(ctx, l, r.camp.LeaseTTL, r.cfg.Now()); err != nil {
					if errors.Is(err, ErrStaleLease) {
						log.Warn().Msg("lease lost: ending the call")
						cancel()
						return
					}
					r.redisFailed()
					log.Warn().Err(err).Msg("lease renewal failed")
				}
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// redisFailed asks a cluster client to reload its slot map after an error: go-redis reloads it only on MOVED/ASK or
// once a minute, so after a failover it kept sending every command to the dead master for up to a minute (the
// promoted replica served the slots after 3-4 s). The client coalesces reloads, so calling this per error is cheap.
func (r *Runner) redisFailed() {
	if c, ok := r.cfg.Redis.(interface{ ReloadState(context.Context) }); ok {
		c.ReloadState(context.Background())
	}
}

// One live call per number across every campaign and process: a lock key per number, renewed with the lease. The
// key holds a digest of the number, not the number: key names show up in monitoring, slow logs and SCAN output.
func liveKey(phone string) string {
	sum := sha256.Sum256([]byte("outcall:live:" + phone))
	return "outcall:live:{" + hex.EncodeToString(sum[:12]) + "}"
}

func (r *Runner) lockValue(l Lease) string {
	return r.cfg.Owner + "/" + r.camp.ID + "/" + fmt.Sprint(l.Token)
}

func (r *Runner) lockNumber(ctx context.Context, l Lease) (bool, error) {
	return r.cfg.Redis.SetNX(ctx, liveKey(l.Contact.Phone), r.lockValue(l), r.camp.LeaseTTL).Result()
}

var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

var relockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

func (r *Runner) unlockNumber(l Lease) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = unlockScript.Run(ctx, r.cfg.Redis, []string{liveKey(l.Contact.Phone)}, r.lockValue(l)).Err()
}
