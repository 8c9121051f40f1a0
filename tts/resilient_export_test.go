package tts

import "time"

// SetNow replaces the Resilient's clock, for tests of the breaker's cooldown.
func (r *Resilient) SetNow(now func() time.Time) { r.b.SetClock(now) }
