//go:build unix

package ari

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user+system, all threads) this process has used; benchmarks report it per op because
// on a shared machine wall-clock time per op mostly measures the other tenants.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
