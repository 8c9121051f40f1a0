//go:build !linux

package main

import (
	"os/exec"
	"time"
)

// processCPU is not measured on this platform.
func processCPU() time.Duration { return 0 }

// processRSS is not measured on this platform.
func processRSS() int64 { return 0 }

// dieWithParent is a no-op on this platform.
func dieWithParent(*exec.Cmd) {}
