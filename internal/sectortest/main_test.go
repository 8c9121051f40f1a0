package sectortest

import (
	"flag"
	"os"
	"testing"
)

// TestMain lets every call of the table run at once: the calls wait on real-time audio, not on the CPU, so the
// default -parallel (GOMAXPROCS) would only serialise them. An explicit -test.parallel is kept.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "64")
	}
	os.Exit(m.Run())
}
