//go:build unix

package esl_test

import (
	"syscall"
	"time"
)

// processCPU is this process's CPU time (user+system, all threads): on a shared machine it measures our cost where
// wall-clock time mostly measures the other tenants.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
