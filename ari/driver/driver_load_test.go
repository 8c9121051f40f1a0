package driver_test

import (
	"context"
	"math"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
)

// TestLoadDriverMedia carries OUTCALL_LOAD_CALLS concurrent echo calls through the driver and the simulator for
// OUTCALL_LOAD_SECONDS (default 10), every call sending a tone and reading the echo, and reports the playout
// clock's send lateness (p50/p99/max), the read cadence, and CPU per call-second. It is a measurement, gated so
// the ordinary suite stays fast:
//
//	OUTCALL_LOAD_CALLS=1000 go test -run TestLoadDriverMedia -v ./ari/
func TestLoadDriverMedia(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("OUTCALL_LOAD_CALLS"))
	if n <= 0 {
		t.Skip("OUTCALL_LOAD_CALLS not set: set it (e.g. 1000) to measure many concurrent calls' media")
	}
	secs, _ := strconv.Atoi(os.Getenv("OUTCALL_LOAD_SECONDS"))
	if secs <= 0 {
		secs = 10
	}
	e := newSimDriver(t, driver.Config{PlayoutDepth: 5})
	calls := make([]call.Call, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	var failed atomic.Int32
	setupStart := time.Now()
	for i := range calls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := e.driver.Dial(ctx, call.Request{Endpoint: "Local/echo@outcall-test"})
			if err != nil {
				failed.Add(1)
				t.Errorf("dial %d: %v", i, err)
				return
			}
			calls[i] = c
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d dials failed", failed.Load(), n)
	}
	t.Logf("%d calls answered and bridged in %v", n, time.Since(setupStart))

	ctx, cancel := context.WithCancel(context.Background())
	var frames, toneFrames, lateReads atomic.Int64
	var gapMu sync.Mutex
	var gaps []time.Duration
	measuring := atomic.Bool{}
	for _, c := range calls {
		m := c.Media()
		wg.Add(2)
		go func() { // the bot talks: a 1 kHz tone, paced by Write blocking on the playout queue
			defer wg.Done()
			k := 0
			for ctx.Err() == nil {
				f := audio.Frame{Rate: 8000, Samples: make([]int16, 160)}
				for j := range f.Samples {
					f.Samples[j] = int16(6000 * math.Sin(2*math.Pi*1000*float64(k)/8000))
					k++
				}
				if m.Write(ctx, f) != nil {
					return
				}
			}
		}()
		go func() { // the bot listens
			defer wg.Done()
			var local []time.Duration
			last := time.Time{}
			for {
				f, err := m.Read(ctx)
				if err != nil {
					break
				}
				now := time.Now()
				if measuring.Load() {
					frames.Add(1)
					if toneRatio(f.Samples, 8000, 1000) > 0.5 {
						toneFrames.Add(1)
					}
					if !last.IsZero() {
						gap := now.Sub(last)
						local = append(local, gap)
						if gap > 60*time.Millisecond {
							lateReads.Add(1)
						}
					}
				}
				last = now
			}
			gapMu.Lock()
			gaps = append(gaps, local...)
			gapMu.Unlock()
		}()
	}
	time.Sleep(2 * time.Second) // settle
	e.driver.Clock().ResetStats()
	rtp0 := e.driver.RTPStats()
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	measuring.Store(true)
	start := time.Now()
	// Baseline: how late a bare timer wakes up in this process on this machine, measured alongside.
	var probe []time.Duration
	for next := start.Add(20 * time.Millisecond); time.Since(start) < time.Duration(secs)*time.Second; next = next.Add(20 * time.Millisecond) {
		time.Sleep(time.Until(next))
		probe = append(probe, time.Since(next))
	}
	measuring.Store(false)
	elapsed := time.Since(start)
	sort.Slice(probe, func(i, j int) bool { return probe[i] < probe[j] })
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cs := e.driver.Clock().Stats()
	rtp1 := e.driver.RTPStats()
	cancel()
	wg.Wait()

	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	callSeconds := float64(n) * elapsed.Seconds()
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	q := func(p float64) time.Duration {
		if len(gaps) == 0 {
			return 0
		}
		return gaps[int(p*float64(len(gaps)-1))]
	}
	t.Logf("calls=%d window=%v", n, elapsed.Round(time.Millisecond))
	t.Logf("playout clock send lateness: p50=%v p99=%v max=%v ticks=%d skipped=%d sends=%d", cs.P50, cs.P99, cs.Max, cs.Ticks, cs.Skipped, cs.Sends)
	t.Logf("baseline bare-timer wake-up lateness in the same window: p50=%v p99=%v max=%v",
		probe[len(probe)/2], probe[len(probe)*99/100], probe[len(probe)-1])
	t.Logf("read cadence: frames=%d (%.1f/call/s) tone=%.1f%% gap p50=%v p99=%v max=%v gaps>60ms=%d",
		frames.Load(), float64(frames.Load())/callSeconds, 100*float64(toneFrames.Load())/float64(max(1, frames.Load())),
		q(0.5), q(0.99), q(1), lateReads.Load())
	t.Logf("rtp: received=%d sent=%d unknown=%d wrongPT=%d malformed=%d sendErrors=%d",
		rtp1.Received-rtp0.Received, rtp1.Sent-rtp0.Sent, rtp1.UnknownSource-rtp0.UnknownSource,
		rtp1.WrongPayload-rtp0.WrongPayload, rtp1.Malformed-rtp0.Malformed, rtp1.SendErrors-rtp0.SendErrors)
	t.Logf("process CPU (driver + simulator + test callers): %.2f cores, %.0f µs per call-second",
		cpu.Seconds()/elapsed.Seconds(), float64(cpu.Microseconds())/callSeconds)

	hctx, hcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer hcancel()
	for _, c := range calls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := c.Hangup(hctx, call.CauseNormal); err != nil {
				t.Errorf("hangup: %v", err)
			}
		}()
	}
	wg.Wait()
	waitNoResources(t, e)
	if cs.P99 >= 5*time.Millisecond {
		t.Errorf("playout p99 lateness %v, target < 5ms", cs.P99)
	}
}
