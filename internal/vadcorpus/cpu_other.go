//go:build !linux

package vadcorpus

import "time"

// ThreadCPU returns 0: the thread's CPU time is read on Linux only.
func ThreadCPU() time.Duration { return 0 }

// ProcessCPU returns 0: the process's CPU time is read on Linux only.
func ProcessCPU() time.Duration { return 0 }
