package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/ari/aritest"
)

// TestOursOnSimulator runs this project's side of the comparison on the simulator: every call must reach
// StasisStart and be hung up, and the row must carry the figures the table prints.
func TestOursOnSimulator(t *testing.T) {
	s := aritest.Start(t, aritest.Config{})
	w := workload{URL: s.URL(), User: s.Username(), Pass: s.Password(), App: "bench-test",
		Endpoint: "Local/echo@outcall-test", N: 20, C: 5, CallTimeout: 10 * time.Second}
	res, err := runOurs(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != w.N || res.Errors != 0 || len(res.LatUs) != w.N {
		t.Fatalf("ok %d errors %d (%s) latencies %d, want %d calls set up", res.OK, res.Errors, res.FirstErr, len(res.LatUs), w.N)
	}
	for i := 1; i < len(res.LatUs); i++ {
		if res.LatUs[i] < res.LatUs[i-1] || res.LatUs[i-1] <= 0 {
			t.Fatalf("latencies not positive and sorted: %v", res.LatUs)
		}
	}
	if err := waitNoChannels(w, 10*time.Second); err != nil {
		t.Fatalf("calls not hung up: %v", err)
	}
	var b strings.Builder
	printTable(&b, []row{{clientResult: res, Server: "aritest", CallsPerS: 1}})
	if !strings.Contains(b.String(), "| aritest | outcall/ari | 5 | 20 / 20 |") {
		t.Fatalf("table row missing:\n%s", b.String())
	}
}

func TestPct(t *testing.T) {
	v := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if got := pct(v, 0.5); got != 5 {
		t.Fatalf("p50 = %v, want 5", got)
	}
	if got := pct(v, 0.99); got != 10 {
		t.Fatalf("p99 = %v, want 10", got)
	}
	if got := pct(nil, 0.5); got != 0 {
		t.Fatalf("p50 of nothing = %v", got)
	}
}
