//go:build !linux

package main

import (
	"time"
)

func processCPU() time.Duration { return 0 }
func procCPU(int) time.Duration { return 0 }
func pidOf(string) int          { return 0 }
func loadAvg1() float64         { return 0 }
func processRSS() int64         { return 0 }
