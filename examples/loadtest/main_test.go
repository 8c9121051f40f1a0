package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestMain lets the test binary serve as the simulator process: Run re-executes it with -sim, as the command does
// with itself.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-sim" {
		fs := flag.NewFlagSet("sim", flag.ExitOnError)
		fs.Bool("sim", true, "")
		turns := fs.Int("turns", 3, "")
		_ = fs.Parse(os.Args[1:])
		if err := serveSim(os.Stdin, os.Stdout, *turns, zerolog.Nop()); err != nil {
			fmt.Fprintln(os.Stderr, "sim:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestShortRun runs the harness in short mode — 20 calls of 2 turns each with a barge-in, the simulator in its own
// process, a real redis-server — and checks that every call completes as scripted and every figure is produced.
// It asserts no timing: the numbers depend on the machine.
func TestShortRun(t *testing.T) {
	const calls, turns = 20, 2
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The command's own redis-server launcher, so that the test needs nothing of the repository's internals and
	// runs in a copy of the directory too.
	srv, err := startRedis(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	g0 := runtime.NumGoroutine()
	// A 500 ms jitter buffer: under `make test` the two processes share the cores with every other package's tests,
	// and a starved simulator sends its packets in bursts later than the default 60 ms buffer waits for; the fake
	// recognizer cannot survive a lost frame (BENCHMARKS.md).
	res, err := Run(ctx, Config{Calls: calls, Rate: 20, Turns: turns, For: 3 * time.Second, WholeRun: true,
		JitterDepth: 25, RedisURL: srv.url, Sim: []string{exe, "-sim"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", *res)
	if res.Started != calls || res.Completed != calls || res.Errors != 0 {
		t.Fatalf("started %d, completed %d, errors %d (%v); want %d, %d, 0", res.Started, res.Completed, res.Errors,
			res.ErrorList, calls, calls)
	}
	// Every call journals its opening, each utterance and the hang-up, one Redis round trip each.
	if want := int64(calls * (turns + 2)); res.JournalTurns != want || res.RedisRoundTrips != want {
		t.Errorf("journal turns %d, Redis round trips %d; want %d each", res.JournalTurns, res.RedisRoundTrips, want)
	}
	figures := []struct {
		name string
		ok   bool
	}{
		{"controller CPU", res.CPUCores > 0 && res.CPUPerCallUs > 0},
		{"controller RSS", res.RSSMiB > 0},
		{"goroutines per call", res.GoroutinesPerCall > 0},
		{"playout jitter", res.JitterP99Ms > 0 && res.JitterP99Ms >= res.JitterP50Ms},
		{"turn latency samples (callee)", res.TurnN >= calls*turns/2},
		{"turn processing samples (controller)", res.ProcN >= calls*turns/2 && res.ProcP99Us > 0},
		{"barge-in stops", res.BargeN == calls && res.BargeP99Ms > 0},
		{"Redis round trips per turn", res.RedisPerTurn == 1},
		{"RTP both ways", res.RTPInPerCallS > 0 && res.RTPOutPerCallS > 0},
		{"live calls", res.LiveMean > 0},
		{"simulator CPU", res.SimCPUCores > 0 && res.SimRSSMiB > 0},
	}
	for _, f := range figures {
		if !f.ok {
			t.Errorf("figure missing: %s", f.name)
		}
	}
	// Every goroutine of the run has ended (the driver, the client and the calls are closed by Run).
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > g0+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > g0+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines left after the run, %d before:\n%s", n, g0, buf[:runtime.Stack(buf, true)])
	}
}

// TestTableNamesMissedTargets: a missed target is marked with the target it missed, not a bare ✗.
func TestTableNamesMissedTargets(t *testing.T) {
	var b strings.Builder
	printTable(&b, []*Result{{Calls: 500, RSSPerCallKiB: 300, JitterP99Ms: 1, ProcP99Us: 6000, BargeP99Ms: 80, RedisPerTurn: 1}})
	row := strings.Split(strings.TrimSpace(b.String()), "\n")[2]
	for _, want := range []string{"300 KiB ✗ (target ≤ 256 KiB)", "6000 µs ✗ (target p99 < 5,000 µs)", "1.00 ms ✓", "1.00 ✓"} {
		if !strings.Contains(row, want) {
			t.Errorf("row lacks %q: %s", want, row)
		}
	}
	if strings.Contains(row, "✗ |") {
		t.Errorf("a bare ✗: %s", row)
	}
}
