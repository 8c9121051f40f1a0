package campaign

import (
	"context"
	"fmt"
	"time"
)

// Decision is a gate's verdict on one dial.
type Decision struct {
	Allow    bool
	Gate     string    // which gate decided
	Reason   string    // why, in words fit for the audit trail
	Terminal bool      // the contact must never be dialed again (do-not-call, attempts exhausted, expired)
	RetryAt  time.Time // when to look again, for a refusal that is not terminal
}

// Attempt is what a gate sees: the contact and its history.
type Attempt struct {
	Contact     Contact
	Attempts    int       // attempts made so far
	DayAttempts int       // attempts made on LastDay
	LastDay     string    // callee-local date (YYYY-MM-DD) of the last attempt
	Now         time.Time // the decision's time (injected clock)
}

// Gate decides whether one dial may go ahead. A gate that cannot decide (Redis down, bad zone) refuses: gates fail
// closed.
type Gate interface {
	Name() string
	Check(ctx context.Context, a Attempt) Decision
}

// GateFunc adapts a function to Gate.
type GateFunc struct {
	N string
	F func(ctx context.Context, a Attempt) Decision
}

// Name implements Gate.
func (g GateFunc) Name() string { return g.N }

// Check implements Gate.
func (g GateFunc) Check(ctx context.Context, a Attempt) Decision { return g.F(ctx, a) }

// DNCChecker tells whether a number is on a do-not-call list.
type DNCChecker interface {
	Contains(ctx context.Context, e164 string) (bool, error)
}

// StandardGates returns the gates every campaign runs, in order: expiry, consent, do-not-call, attempt caps,
// calling window.
func StandardGates(cfg *Config, cal *Calendar, dnc DNCChecker) []Gate {
	c := cfg.withDefaults()
	return []Gate{
		GateFunc{"expiry", func(_ context.Context, a Attempt) Decision {
			if !c.Expiry.IsZero() && !a.Now.Before(c.Expiry) {
				return Decision{Reason: "campaign expired", Terminal: true}
			}
			return Decision{Allow: true}
		}},
		GateFunc{"consent", func(_ context.Context, a Attempt) Decision {
			if c.RequireConsent && !a.Contact.Consent {
				return Decision{Reason: "no consent on record", Terminal: true}
			}
			return Decision{Allow: true}
		}},
		GateFunc{"dnc", func(ctx context.Context, a Attempt) Decision {
			if dnc == nil {
				return Decision{Allow: true}
			}
			on, err := dnc.Contains(ctx, a.Contact.Phone)
			if err != nil {
				return Decision{Reason: "do-not-call list unavailable: " + err.Error(), RetryAt: a.Now.Add(time.Minute)}
			}
			if on {
				return Decision{Reason: "number on do-not-call list", Terminal: true}
			}
			return Decision{Allow: true}
		}},
		GateFunc{"attempts", func(_ context.Context, a Attempt) Decision {
			if a.Attempts >= c.MaxAttempts {
				return Decision{Reason: fmt.Sprintf("%d of %d attempts made", a.Attempts, c.MaxAttempts), Terminal: true}
			}
			loc, err := cal.Location(a.Contact.TZ)
			if err != nil {
				return Decision{Reason: err.Error(), Terminal: true}
			}
			today := a.Now.In(loc).Format(time.DateOnly)
			if a.LastDay == today && a.DayAttempts >= c.MaxPerDay {
				lt := a.Now.In(loc)
				tomorrow := time.Date(lt.Year(), lt.Month(), lt.Day()+1, 0, 0, 0, 0, loc)
				next, ok := cal.Next(tomorrow, loc)
				if !ok {
					return Decision{Reason: "daily cap reached and no window ahead", Terminal: true}
				}
				return Decision{Reason: fmt.Sprintf("daily cap of %d reached", c.MaxPerDay), RetryAt: next}
			}
			return Decision{Allow: true}
		}},
		GateFunc{"window", func(_ context.Context, a Attempt) Decision {
			loc, err := cal.Location(a.Contact.TZ)
			if err != nil {
				return Decision{Reason: err.Error(), Terminal: true}
			}
			if cal.Open(a.Now, loc) {
				return Decision{Allow: true}
			}
			next, ok := cal.Next(a.Now, loc)
			if !ok {
				return Decision{Reason: "no calling window ahead", Terminal: true}
			}
			return Decision{Reason: "outside calling window (callee local " + a.Now.In(loc).Format("Mon 15:04") + ")", RetryAt: next}
		}},
	}
}

// CheckAll runs gates in order and returns the first refusal, or an Allow decision.
func CheckAll(ctx context.Context, gates []Gate, a Attempt) Decision {
	for _, g := range gates {
		d := safeCheck(ctx, g, a)
		d.Gate = g.Name()
		if !d.Allow {
			if !d.Terminal && d.RetryAt.IsZero() {
				d.RetryAt = a.Now.Add(time.Minute)
			}
			return d
		}
	}
	return Decision{Allow: true}
}

// safeCheck turns a panicking gate into a refusal: a broken gate never lets a dial through.
func safeCheck(ctx context.Context, g Gate, a Attempt) (d Decision) {
	defer func() {
		if r := recover(); r != nil {
			d = Decision{Reason: fmt.Sprintf("gate failed: %v", r), RetryAt: a.Now.Add(time.Minute)}
		}
	}()
	return g.Check(ctx, a)
}
