package asr

import "time"

// SetClock replaces the breaker's clock in tests.
func SetClock(r *Resilient, now func() time.Time) { r.b.SetClock(now) }
