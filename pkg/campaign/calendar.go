package campaign

import (
	"fmt"
	"sync"
	"time"
)

// Calendar answers "may this callee be called now?" in the callee's local time, and "when next?".
type Calendar struct {
	windows  []clockWindow
	blackout map[string]bool
	def      *time.Location
	mu       sync.RWMutex
	zones    map[string]*time.Location
}

type clockWindow struct {
	days       [7]bool
	start, end int // minutes after local midnight
}

// NewCalendar builds the calendar of a validated Config.
func NewCalendar(c *Config) (*Calendar, error) {
	def, err := time.LoadLocation(c.TimeZone)
	if err != nil || c.TimeZone == "" {
		return nil, fmt.Errorf("campaign: time zone %q: %v", c.TimeZone, err)
	}
	cal := &Calendar{def: def, blackout: map[string]bool{}, zones: map[string]*time.Location{c.TimeZone: def}}
	if len(c.Windows) == 0 {
		return nil, fmt.Errorf("campaign: no calling windows")
	}
	for i, w := range c.Windows {
		if err := w.check(); err != nil {
			return nil, fmt.Errorf("campaign: windows[%d]: %w", i, err)
		}
		var cw clockWindow
		for _, d := range w.Days {
			cw.days[d] = true
		}
		cw.start, _ = parseClock(w.Start)
		cw.end, _ = parseClock(w.End)
		cal.windows = append(cal.windows, cw)
	}
	for _, d := range c.Blackout {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return nil, fmt.Errorf("campaign: blackout date %q: want YYYY-MM-DD", d)
		}
		cal.blackout[d] = true
	}
	return cal, nil
}

// Location returns the zone for a contact's tz ("" → the campaign's). An unknown zone is an error: the gate fails
// closed rather than guess the callee's local time.
func (cal *Calendar) Location(tz string) (*time.Location, error) {
	if tz == "" {
		return cal.def, nil
	}
	cal.mu.RLock()
	loc, ok := cal.zones[tz]
	cal.mu.RUnlock()
	if ok {
		return loc, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("campaign: contact time zone %q: %w", tz, err)
	}
	cal.mu.Lock()
	cal.zones[tz] = loc
	cal.mu.Unlock()
	return loc, nil
}

// Open reports whether t falls inside a calling window in loc.
func (cal *Calendar) Open(t time.Time, loc *time.Location) bool {
	lt := t.In(loc)
	if cal.blackout[lt.Format(time.DateOnly)] {
		return false
	}
	min := lt.Hour()*60 + lt.Minute()
	for _, w := range cal.windows {
		if w.days[lt.Weekday()] && min >= w.start && min < w.end {
			return true
		}
	}
	return false
}

// Next returns the first instant at or after t when a window is open in loc, searching 400 days ahead.
func (cal *Calendar) Next(t time.Time, loc *time.Location) (time.Time, bool) {
	if cal.Open(t, loc) {
		return t, true
	}
	lt := t.In(loc)
	for day := 0; day < 400; day++ {
		d := time.Date(lt.Year(), lt.Month(), lt.Day()+day, 0, 0, 0, 0, loc)
		if cal.blackout[d.Format(time.DateOnly)] {
			continue
		}
		best := time.Time{}
		for _, w := range cal.windows {
			if !w.days[d.Weekday()] {
				continue
			}
			start := time.Date(d.Year(), d.Month(), d.Day(), w.start/60, w.start%60, 0, 0, loc)
			// A start inside a DST gap is moved by time.Date; accept it only if the window is really open then.
			if !start.After(t) || !cal.Open(start, loc) {
				continue
			}
			if best.IsZero() || start.Before(best) {
				best = start
			}
		}
		if !best.IsZero() {
			return best, true
		}
	}
	return time.Time{}, false
}
