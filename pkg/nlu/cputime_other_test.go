//go:build !linux

package nlu

import "time"

// threadCPU is not available here; per-turn CPU percentiles report zero.
func threadCPU() time.Duration { return 0 }
