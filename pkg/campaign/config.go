package campaign

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/outcall/outcall/pkg/call"
)

// Config is one campaign's settings. Validate refuses a campaign whose settings are broken or incomplete: a
// campaign never dials on a guess.
type Config struct {
	ID             string                     // campaign id; keys in Redis carry {ID}; required
	Endpoint       string                     // dial string template, e.g. "PJSIP/{number}@trunk"; required; {number} is E.164 without +, {e164} with
	CallerID       string                     // presented caller ID
	RingTimeout    time.Duration              // default: 30s
	MaxConcurrent  int                        // live calls across all processes; required (> 0)
	CPS            float64                    // new calls per second across all processes; required (> 0)
	TimeZone       string                     // IANA zone for contacts without one; required
	Windows        []Window                   // weekly calling windows in the callee's local time; required (at least one)
	Blackout       []string                   // dates (YYYY-MM-DD, callee local) with no calls: holidays
	MaxAttempts    int                        // per contact over the campaign; default: 3
	MaxPerDay      int                        // attempts per contact per local day; default: 2
	RequireConsent bool                       // dial only contacts with Consent
	Retry          map[call.Outcome]RetryRule // per unanswered outcome; default: DefaultRetry
	RetryMachine   RetryRule                  // answering machines; default: 2h, backoff 2
	Expiry         time.Time                  // no dials after this instant; zero: none
	LeaseTTL       time.Duration              // how long a claimed contact stays owned without renewal; default: 2m
}

// RetryRule says when to try a contact again after an outcome.
type RetryRule struct {
	Delay   time.Duration // first retry after this; zero: do not retry this outcome
	Backoff float64       // multiply the delay per further attempt; default: 1
	MaxWait time.Duration // cap on the delay; default: 24h
}

// DefaultRetry is used for outcomes Config.Retry does not name.
var DefaultRetry = map[call.Outcome]RetryRule{
	call.Busy:       {Delay: 10 * time.Minute, Backoff: 2},
	call.NoAnswer:   {Delay: 30 * time.Minute, Backoff: 2},
	call.Congestion: {Delay: 5 * time.Minute, Backoff: 2},
	call.Failed:     {Delay: 15 * time.Minute, Backoff: 2},
}

// Window is a weekly calling window: on Days, from Start to End in the callee's local time.
type Window struct {
	Days  []time.Weekday // which days; required
	Start string         // "09:00"
	End   string         // "20:30"; after Start (windows across midnight: use two windows)
}

// Validate checks every setting and returns all problems at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	if c.ID == "" || !validID(c.ID) {
		bad("id %q: required, letters, digits and +._- only", c.ID)
	}
	if c.Endpoint == "" || !strings.Contains(c.Endpoint, "{number}") && !strings.Contains(c.Endpoint, "{e164}") {
		bad("endpoint %q: required, with {number} or {e164}", c.Endpoint)
	}
	if c.MaxConcurrent <= 0 {
		bad("max_concurrent must be > 0")
	}
	if c.CPS <= 0 {
		bad("cps must be > 0")
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" {
		bad("time_zone %q: required IANA zone", c.TimeZone)
	}
	if len(c.Windows) == 0 {
		bad("windows: at least one calling window is required")
	}
	for i, w := range c.Windows {
		if err := w.check(); err != nil {
			bad("windows[%d]: %v", i, err)
		}
	}
	for i, d := range c.Blackout {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			bad("blackout[%d] %q: want YYYY-MM-DD", i, d)
		}
	}
	if c.MaxAttempts < 0 || c.MaxPerDay < 0 {
		bad("max_attempts and max_per_day must not be negative")
	}
	for o, r := range c.Retry {
		if r.Delay < 0 || r.Backoff < 0 || r.MaxWait < 0 {
			bad("retry[%s]: negative values", o)
		}
	}
	return errors.Join(errs...)
}

func (c *Config) withDefaults() Config {
	out := *c
	if out.RingTimeout == 0 {
		out.RingTimeout = 30 * time.Second
	}
	if out.MaxAttempts == 0 {
		out.MaxAttempts = 3
	}
	if out.MaxPerDay == 0 {
		out.MaxPerDay = 2
	}
	if out.LeaseTTL == 0 {
		out.LeaseTTL = 2 * time.Minute
	}
	if out.RetryMachine.Delay == 0 {
		out.RetryMachine = RetryRule{Delay: 2 * time.Hour, Backoff: 2}
	}
	return out
}

// retryRule returns the rule for an outcome.
func (c *Config) retryRule(o call.Outcome) RetryRule {
	if r, ok := c.Retry[o]; ok {
		return r
	}
	return DefaultRetry[o]
}

// nextDelay returns the delay before attempt n+1 after attempt n (from 1) ended with rule r; ok false: no retry.
func (r RetryRule) nextDelay(n int) (time.Duration, bool) {
	if r.Delay <= 0 {
		return 0, false
	}
	b := r.Backoff
	if b <= 0 {
		b = 1
	}
	d := float64(r.Delay)
	for i := 1; i < n; i++ {
		d *= b
	}
	limit := r.MaxWait
	if limit == 0 {
		limit = 24 * time.Hour
	}
	if d > float64(limit) {
		d = float64(limit)
	}
	return time.Duration(d), true
}

// DialString renders the endpoint template for an E.164 number.
func (c *Config) DialString(e164 string) string {
	r := strings.NewReplacer("{number}", strings.TrimPrefix(e164, "+"), "{e164}", e164)
	return r.Replace(c.Endpoint)
}

func (w Window) check() error {
	if len(w.Days) == 0 {
		return errors.New("no days")
	}
	for _, d := range w.Days {
		if d < time.Sunday || d > time.Saturday {
			return fmt.Errorf("day %d out of range", d)
		}
	}
	s, err := parseClock(w.Start)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	e, err := parseClock(w.End)
	if err != nil {
		return fmt.Errorf("end: %w", err)
	}
	if e <= s {
		return fmt.Errorf("end %s is not after start %s", w.End, w.Start)
	}
	return nil
}

// parseClock reads "HH:MM" as minutes after midnight (24:00 allowed as the end of day).
func parseClock(s string) (int, error) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%q: want HH:MM", s)
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil {
		return 0, fmt.Errorf("%q: want HH:MM", s)
	}
	if h < 0 || m < 0 || m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, fmt.Errorf("%q: not a time of day", s)
	}
	return h*60 + m, nil
}

// Weekdays is Monday to Friday, for Window.Days.
var Weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}

// EveryDay is all seven days.
var EveryDay = []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}
