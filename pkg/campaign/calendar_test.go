package campaign

import (
	"container/heap"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func weekCampaign() Config {
	return Config{ID: "week", Endpoint: "PJSIP/{number}@trunk", MaxConcurrent: 10, CPS: 5, TimeZone: "Asia/Shanghai",
		Windows: []Window{
			{Days: Weekdays, Start: "09:00", End: "12:00"},
			{Days: Weekdays, Start: "13:30", End: "20:00"},
			{Days: []time.Weekday{time.Saturday}, Start: "10:00", End: "16:00"},
		},
		Blackout:    []string{"2026-11-03"},
		MaxAttempts: 5, MaxPerDay: 2}
}

func TestConfigRefusesMalformedWindows(t *testing.T) {
	cases := map[string]func(c *Config){
		"end before start": func(c *Config) { c.Windows[0].End = "08:00" },
		"bad clock":        func(c *Config) { c.Windows[1].Start = "9am" },
		"25 o'clock":       func(c *Config) { c.Windows[1].End = "25:00" },
		"no days":          func(c *Config) { c.Windows[2].Days = nil },
		"no windows":       func(c *Config) { c.Windows = nil },
		"bad zone":         func(c *Config) { c.TimeZone = "Mars/Olympus" },
		"bad blackout":     func(c *Config) { c.Blackout = []string{"11/03/2026"} },
		"no endpoint var":  func(c *Config) { c.Endpoint = "PJSIP/trunk" },
		"no cps":           func(c *Config) { c.CPS = 0 },
	}
	for name, breakIt := range cases {
		c := weekCampaign()
		c.Windows = append([]Window(nil), c.Windows...)
		breakIt(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted a broken config", name)
		}
		if _, err := NewRunner(RunnerConfig{Campaign: c, Owner: "p"}); err == nil || !strings.Contains(err.Error(), "refuses to start") {
			t.Errorf("%s: NewRunner = %v, want a refusal to start", name, err)
		}
	}
	good := weekCampaign()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestWeekAcrossZonesNeverDialsOutsideWindows drives 10,000 contacts in five time zones through a simulated week
// that spans the end of US daylight saving time (2026-11-01), with an injected clock. Each "dial" is a no-answer,
// retried after 30-90 minutes; every dial's callee-local time must fall in a window and outside the blackout date.
func TestWeekAcrossZonesNeverDialsOutsideWindows(t *testing.T) {
	cfg := weekCampaign()
	camp := cfg.withDefaults()
	cal, err := NewCalendar(&camp)
	if err != nil {
		t.Fatal(err)
	}
	gates := StandardGates(&camp, cal, NewMemoryDNC())
	zones := []string{"", "America/New_York", "Europe/London", "America/Los_Angeles", "Australia/Sydney"}
	start := time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC) // Saturday; US DST ends Sunday 2026-11-01
	end := start.Add(7 * 24 * time.Hour)

	q := &timeHeap{}
	for i := 0; i < 10000; i++ {
		c := Contact{ID: fmt.Sprint(i), Phone: fmt.Sprintf("+86139%08d", i), TZ: zones[i%len(zones)]}
		heap.Push(q, &weekItem{at: start.Add(time.Duration(i%600) * time.Minute), c: c})
	}
	dials, refusals := 0, 0
	for q.Len() > 0 {
		it := heap.Pop(q).(*weekItem)
		if it.at.After(end) {
			continue
		}
		d := CheckAll(context.Background(), gates, Attempt{Contact: it.c, Attempts: it.attempts, DayAttempts: it.dayN,
			LastDay: it.day, Now: it.at})
		if !d.Allow {
			refusals++
			if !d.Terminal {
				if !d.RetryAt.After(it.at) {
					t.Fatalf("gate %s gave a retry time %v not after now %v", d.Gate, d.RetryAt, it.at)
				}
				it.at = d.RetryAt
				heap.Push(q, it)
			}
			continue
		}
		dials++
		loc, _ := cal.Location(it.c.TZ)
		lt := it.at.In(loc)
		if !inWeekWindow(lt) {
			t.Fatalf("dialed contact %s at callee-local %s (%s), outside every window", it.c.ID, lt.Format("Mon 2006-01-02 15:04 MST"), loc)
		}
		today := lt.Format(time.DateOnly)
		if it.day == today {
			it.dayN++
		} else {
			it.day, it.dayN = today, 1
		}
		if it.dayN > camp.MaxPerDay {
			t.Fatalf("contact %s dialed %d times on %s", it.c.ID, it.dayN, today)
		}
		it.attempts++
		it.at = it.at.Add(time.Duration(30+it.attempts*20) * time.Minute)
		heap.Push(q, it)
	}
	if dials < 10000 {
		t.Fatalf("only %d dials in a week for 10,000 contacts (refusals %d): windows too strict?", dials, refusals)
	}
	t.Logf("%d dials, %d refusals, none outside a window", dials, refusals)
}

// inWeekWindow restates weekCampaign's windows independently of Calendar.
func inWeekWindow(lt time.Time) bool {
	if lt.Format(time.DateOnly) == "2026-11-03" {
		return false
	}
	m := lt.Hour()*60 + lt.Minute()
	switch lt.Weekday() {
	case time.Saturday:
		return m >= 600 && m < 960
	case time.Sunday:
		return false
	}
	return m >= 540 && m < 720 || m >= 810 && m < 1200
}

type weekItem struct {
	at             time.Time
	c              Contact
	attempts, dayN int
	day            string
}

type timeHeap []*weekItem

func (h timeHeap) Len() int           { return len(h) }
func (h timeHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timeHeap) Push(x any)        { *h = append(*h, x.(*weekItem)) }
func (h *timeHeap) Pop() any          { old := *h; x := old[len(old)-1]; *h = old[:len(old)-1]; return x }
func TestCalendarDSTGap(t *testing.T) {
	cfg := weekCampaign()
	cfg.Windows = []Window{{Days: EveryDay, Start: "02:30", End: "03:30"}} // inside the US spring-forward gap
	cfg.TimeZone = "America/New_York"
	cfg.Blackout = nil
	cal, err := NewCalendar(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := cal.Location("")
	// 2026-03-08 02:00 local does not exist in New York.
	from := time.Date(2026, 3, 8, 1, 0, 0, 0, loc)
	next, ok := cal.Next(from, loc)
	if !ok || !cal.Open(next, loc) {
		t.Fatalf("Next(%v) = %v, %v; must be an open instant", from, next, ok)
	}
}
