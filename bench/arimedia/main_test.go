package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/outcall/outcall/ari/aritest"
)

// TestRunOnSimulator runs one small size on the simulator's echo line: every call must be answered, the tone must
// come back, and the per-call figures must be filled in.
func TestRunOnSimulator(t *testing.T) {
	s := aritest.Start(t, aritest.Config{})
	o := options{PBX: "asterisk", URL: s.URL(), User: s.Username(), Pass: s.Password(), App: "media-bench-test",
		Endpoint: "Local/echo@outcall-test", Transport: "rtp", Window: 2 * time.Second, Settle: 500 * time.Millisecond,
		DialConc: 4, PBXPID: os.Getpid()}
	r, err := run(context.Background(), o, 5)
	if err != nil {
		t.Fatal(err)
	}
	if r.Answered != 5 || len(r.Errors) > 0 {
		t.Fatalf("answered %d of 5, errors %v", r.Answered, r.Errors)
	}
	if r.Heard == 0 || r.Expected < 400 || r.Lost > r.Expected {
		t.Fatalf("heard %d of %d expected frames (lost %d): the echoed tone did not come back", r.Heard, r.Expected, r.Lost)
	}
	if r.CPUUsPerCallS <= 0 || r.GoroutinesCall <= 0 {
		t.Fatalf("figures missing: %+v", r)
	}
}

func TestIsTone(t *testing.T) {
	f := toneFrame(8000)
	if !isTone(f.Samples, 8000) {
		t.Fatal("the 1 kHz tone frame is not recognised")
	}
	if isTone(make([]int16, 160), 8000) {
		t.Fatal("silence recognised as the tone")
	}
	other := make([]int16, 160)
	for i := range other {
		other[i] = int16(6000 * ((i/10)%2*2 - 1)) // a 400 Hz square wave
	}
	if isTone(other, 8000) {
		t.Fatal("a 400 Hz square wave recognised as the 1 kHz tone")
	}
}
