package esl_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outcall/outcall/internal/mediatest"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/esl"
	"github.com/outcall/outcall/pkg/esl/esltest"
)

// The media suite runs the same checks on the fake FreeSWITCH (TestDriverMediaSuite) and on a real one
// (TestIntegrationMedia): a tone through echo comes back at its frequency, fake speech round-trips, DTMF arrives,
// Flush stops the bot within 60 ms, a transfer to an extension and to an agent, hang-ups from both sides, and
// nothing left in `show channels`.

// eslEnv is a driver on the fake or on a real FreeSWITCH, with the dial string of a test extension.
type eslEnv struct {
	c    *esl.Client
	d    *esl.Driver
	dial func(exten string) string
	fake *esltest.Server // nil on a real FreeSWITCH
}

func (e *eslEnv) call(t *testing.T, exten string) call.Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := e.d.Dial(ctx, call.Request{Endpoint: e.dial(exten), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("dial %s: %v", exten, err)
	}
	return c
}

func endCall(t *testing.T, c call.Call) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Hangup(ctx, call.CauseNormal); err != nil && !errors.Is(err, call.ErrHungUp) {
		t.Errorf("hangup: %v", err)
	}
	for range c.Events() {
	}
}

// realESL returns a driver on the FreeSWITCH of OUTCALL_ESL_ADDR, or skips. Test extensions are dialed through
// OUTCALL_ESL_DIAL, a template with {exten} (default loopback/{exten}/outcall-test: the outcall-test context of
// docs/real-pbx.md); MEDIA_HOST is where FreeSWITCH sends unicast audio (default 127.0.0.1).
func realESL(t *testing.T, cfg esl.DriverConfig) *eslEnv {
	t.Helper()
	c := realFreeSWITCH(t)
	if h := os.Getenv("MEDIA_HOST"); h != "" && cfg.UnicastAddr == "" {
		cfg.UnicastAddr = h
	}
	d, err := esl.NewDriver(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	tmpl := os.Getenv("OUTCALL_ESL_DIAL")
	if tmpl == "" {
		tmpl = "loopback/{exten}/outcall-test"
	}
	return &eslEnv{c: c, d: d, dial: func(x string) string { return strings.ReplaceAll(tmpl, "{exten}", x) }}
}

func fakeESL(t *testing.T, fcfg esltest.Config, cfg esl.DriverConfig) *eslEnv {
	t.Helper()
	fs, d := newFakeDriver(t, fcfg, cfg)
	return &eslEnv{d: d, fake: fs, dial: func(x string) string { return "loopback/" + x + "/outcall-test" }}
}

func TestDriverMediaSuite(t *testing.T) {
	for _, f := range []audio.Format{audio.Narrowband, audio.Wideband} {
		t.Run(fmt.Sprint("unicast-", f.Rate), func(t *testing.T) {
			t.Parallel()
			runESLSuite(t, fakeESL(t, esltest.Config{}, esl.DriverConfig{Format: f}))
		})
	}
}

func TestIntegrationMedia(t *testing.T) {
	for _, f := range []audio.Format{audio.Narrowband, audio.Wideband} {
		t.Run(fmt.Sprint("unicast-", f.Rate), func(t *testing.T) {
			runESLSuite(t, realESL(t, esl.DriverConfig{Format: f}))
		})
	}
}

func runESLSuite(t *testing.T, e *eslEnv) {
	before := liveChannels(t, e)
	t.Run("tone", func(t *testing.T) {
		c := e.call(t, "echo")
		defer endCall(t, c)
		ctx := testCtx(t, 20*time.Second)
		for _, freq := range []float64{440, 1000} {
			if got := echoTone(t, ctx, c.Media(), freq, 50); got < freq*0.98 || got > freq*1.02 {
				t.Fatalf("sent %.0f Hz, echo peaks at %.0f Hz", freq, got)
			}
			drainTone(t, ctx, c.Media(), freq)
		}
	})
	t.Run("speech", func(t *testing.T) { eslSpeech(t, e) })
	t.Run("dtmf", func(t *testing.T) {
		c := e.call(t, "dtmf")
		defer endCall(t, c)
		ctx := testCtx(t, 10*time.Second)
		for {
			select {
			case ev := <-c.Events():
				if ev.Type == call.EventDTMF {
					if ev.Digit != '1' {
						t.Fatalf("digit %q, want 1", ev.Digit)
					}
					return
				}
				if ev.Type == call.EventHangup {
					t.Fatal("hung up before the digit")
				}
			case <-ctx.Done():
				t.Fatal("no DTMF within 10 s")
			}
		}
	})
	t.Run("bargein", func(t *testing.T) { eslBargeIn(t, e) })
	t.Run("transfer-extension", func(t *testing.T) {
		c := e.call(t, "echo")
		defer endCall(t, c)
		ctx := testCtx(t, 10*time.Second)
		if err := c.Transfer(ctx, call.Target{Extension: "echo", Context: "outcall-test"}); err != nil {
			t.Fatalf("transfer: %v", err)
		}
		var last call.Event
		for ev := range c.Events() {
			last = ev
		}
		if last.Type != call.EventHangup || last.Detail != "transferred" {
			t.Errorf("last event %+v, want the hang-up \"transferred\"", last)
		}
		// The channel lives on in the dialplan: end it.
		_, _ = apiOf(e)(ctx, "uuid_kill "+c.ID())
	})
	t.Run("transfer-agent", func(t *testing.T) {
		c := e.call(t, "echo")
		defer endCall(t, c)
		ctx := testCtx(t, 20*time.Second)
		if err := c.Transfer(ctx, call.Target{Endpoint: e.dial("agent"), Timeout: 10 * time.Second}); err != nil {
			t.Fatalf("transfer: %v", err)
		}
		if _, err := c.Media().Read(ctx); !errors.Is(err, call.ErrHungUp) {
			t.Errorf("bot media Read after transfer: %v, want ErrHungUp", err)
		}
	})
	t.Run("hangup-remote", func(t *testing.T) {
		c := e.call(t, "hangup")
		var last call.Event
		for ev := range c.Events() {
			last = ev
		}
		if last.Type != call.EventHangup || !last.Remote {
			t.Errorf("last event %+v, want a remote hang-up", last)
		}
	})
	t.Run("hangup-local", func(t *testing.T) { endCall(t, e.call(t, "echo")) })
	assertChannelsBack(t, e, before)
}

func apiOf(e *eslEnv) func(context.Context, string) (string, error) {
	if e.c != nil {
		return e.c.API
	}
	return func(_ context.Context, cmd string) (string, error) { return e.fake.API(cmd), nil }
}

var totalRE = regexp.MustCompile(`(\d+) total\.`)

// liveChannels is the count `show channels` reports.
func liveChannels(t *testing.T, e *eslEnv) int {
	t.Helper()
	out, err := apiOf(e)(testCtx(t, 5*time.Second), "show channels")
	if err != nil {
		t.Fatal(err)
	}
	m := totalRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("show channels: %q", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// assertChannelsBack waits until `show channels` counts no more channels than before the suite: FreeSWITCH
// updates that list a moment after the hang-up events.
func assertChannelsBack(t *testing.T, e *eslEnv, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := liveChannels(t, e)
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("show channels: %d total, %d before the tests", n, before)
		}
		time.Sleep(100 * time.Millisecond) // polling FreeSWITCH's channel list: no event says it is updated
	}
}

func drainTone(t *testing.T, ctx context.Context, m call.Media, freq float64) {
	t.Helper()
	for quiet := 0; quiet < 10; {
		f, err := m.Read(ctx)
		if err != nil {
			t.Fatalf("drain: %v", err)
		}
		g := audio.NewGoertzel(freq, f.Rate)
		g.Add(f.Samples)
		if g.Power() > 1e6 {
			quiet = 0
		} else {
			quiet++
		}
	}
}

// eslSpeech: the library's fake speech, spoken to echo, is recognised back word for word (mediatest.SpeechRoundTrip).
func eslSpeech(t *testing.T, e *eslEnv) {
	mediatest.SpeechRoundTrip(t, func() (string, uint64) { return eslSpeechOnce(t, e) })
}

// lostFrames counts the frames lost to timing: callee frames the receive jitter buffer concealed, silenced or
// dropped late, and bot frames the playout clock sent late in a catch-up burst after a stall.
func lostFrames(m call.Media) uint64 {
	if s, ok := m.(interface{ Stats() esl.MediaStats }); ok {
		st := s.Stats()
		return mediatest.Lost(st.Jitter) + st.Playout.Late
	}
	return 0
}

func eslSpeechOnce(t *testing.T, e *eslEnv) (heard string, lost uint64) {
	c := e.call(t, "echo")
	defer endCall(t, c)
	m := c.Media()
	lost0 := lostFrames(m)
	ctx := testCtx(t, 20*time.Second)
	heard, err := mediatest.SpeechThroughEcho(ctx, m, mediatest.Said)
	if err != nil {
		t.Fatal(err)
	}
	return heard, lostFrames(m) - lost0
}

// eslBargeIn: after Flush at most 60 ms (3 frames) more of the bot's audio leaves this process, and the echo of
// the tone stops.
func eslBargeIn(t *testing.T, e *eslEnv) {
	c := e.call(t, "echo")
	defer endCall(t, c)
	m := c.Media()
	rate := m.Format().Rate
	ctx := testCtx(t, 20*time.Second)
	wctx, stopWriting := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ph float64
		for range 500 {
			if m.Write(wctx, audio.Frame{Rate: rate, Samples: tone(rate, 800, m.Format().FrameSamples(), &ph)}) != nil {
				return
			}
		}
	}()
	isTone := func(s []int16) bool { g := audio.NewGoertzel(800, rate); g.Add(s); return g.Power() > 1e6 }
	for heard := 0; heard < 15; {
		f, err := m.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if isTone(f.Samples) {
			heard++
		}
	}
	stopWriting()
	wg.Wait()
	stats := func() esl.MediaStats { return m.(interface{ Stats() esl.MediaStats }).Stats() }
	flushed := time.Now()
	if played := m.Flush(); played <= 0 {
		t.Errorf("Flush reported %v played", played)
	}
	sent := stats().Playout.Sent
	var lastTone time.Time
	for quiet := 0; quiet < 15; {
		f, err := m.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if isTone(f.Samples) {
			lastTone, quiet = time.Now(), 0
		} else {
			quiet++
		}
	}
	after := stats().Playout.Sent - sent
	t.Logf("after Flush: %d frames sent; the echo stopped %v after it", after, lastTone.Sub(flushed))
	if time.Duration(after)*audio.FrameDuration > 60*time.Millisecond {
		t.Errorf("%d frames sent after Flush, want <= 3 (60 ms)", after)
	}
	if !lastTone.IsZero() && lastTone.Sub(flushed) > time.Second {
		t.Errorf("echo of the tone went on %v after Flush", lastTone.Sub(flushed))
	}
}

// TestIntegrationUnicastSoak places OUTCALL_ESL_SOAK calls (default 20) on a real FreeSWITCH, four at a time and
// at most 8 a second (vanilla's sessions-per-second is 30, and a loopback call is two sessions), each with a tone
// round trip through echo, and counts failures: there must be none.
func TestIntegrationUnicastSoak(t *testing.T) {
	n := 20
	if v, err := strconv.Atoi(os.Getenv("OUTCALL_ESL_SOAK")); err == nil && v > 0 {
		n = v
	}
	e := realESL(t, esl.DriverConfig{})
	before := liveChannels(t, e)
	var fails, silent atomic.Int64
	var firstErr atomic.Value
	sem := make(chan struct{}, 4)
	pace := time.NewTicker(125 * time.Millisecond)
	defer pace.Stop()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		<-pace.C
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := e.d.Dial(ctx, call.Request{Endpoint: e.dial("echo"), Timeout: 10 * time.Second})
			if err != nil {
				fails.Add(1)
				firstErr.CompareAndSwap(nil, fmt.Sprintf("call %d: %v", i, err))
				return
			}
			defer func() {
				_ = c.Hangup(ctx, call.CauseNormal)
				for range c.Events() {
				}
			}()
			m := c.Media()
			go func() {
				var ph float64
				for range 25 {
					if m.Write(ctx, audio.Frame{Rate: m.Format().Rate, Samples: tone(m.Format().Rate, 1000, m.Format().FrameSamples(), &ph)}) != nil {
						return
					}
				}
			}()
			for k := 0; ; k++ {
				f, err := m.Read(ctx)
				if err != nil || k > 100 {
					silent.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("call %d: no tone back (%v)", i, err))
					return
				}
				g := audio.NewGoertzel(1000, f.Rate)
				g.Add(f.Samples)
				if g.Power() > 1e6 {
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("unicast: %d calls, %d set-up failures, %d without the tone back", n, fails.Load(), silent.Load())
	if fails.Load() > 0 || silent.Load() > 0 {
		t.Errorf("%d failures, %d silent of %d; first: %v", fails.Load(), silent.Load(), n, firstErr.Load())
	}
	assertChannelsBack(t, e, before)
}
