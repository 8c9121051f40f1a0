//go:build !linux

package main

import (
	"os/exec"
	"time"
)

func processCPU() time.Duration   { return 0 }
func procCPU(int) time.Duration   { return 0 }
func pidOf(string) int            { return 0 }
func loadAvg1() float64           { return 0 }
func dieWithParent(cmd *exec.Cmd) {}
