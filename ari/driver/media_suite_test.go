package driver_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/aritest"
	"github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/internal/mediatest"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
)

// The media suite runs the same checks on the simulator (TestDriverMedia) and on a real Asterisk
// (TestIntegrationMedia), on every transport and in both formats: a tone comes back at its frequency, fake speech
// round-trips through the recognizer, DTMF arrives, Flush stops the bot within 60 ms, a transfer bridges the
// callee with an agent and drops the bot's media, and a hang-up from either side leaves nothing on the server.

// mediaConfigs are the transport × format pairs the suite covers.
var mediaConfigs = []struct {
	name string
	cfg  driver.Config
}{
	{"rtp-ulaw", driver.Config{Transport: driver.TransportRTP, Format: driver.FormatULaw}},
	{"audiosocket-slin", driver.Config{Transport: driver.TransportAudioSocket, Format: driver.FormatULaw}},
	{"audiosocket-slin16", driver.Config{Transport: driver.TransportAudioSocket, Format: driver.FormatSlin16}},
	{"websocket-ulaw", driver.Config{Transport: driver.TransportWebSocket, Format: driver.FormatULaw}},
	{"websocket-slin16", driver.Config{Transport: driver.TransportWebSocket, Format: driver.FormatSlin16}},
}

// TestDriverRefusesSlin16OverRTP: Asterisk drops the slin16 RTP it receives on an ExternalMedia channel
// (dynamic payload type 118, no SDP to map it), so the driver refuses the pair instead of a silent bot; the
// simulator drops those packets as Asterisk does.
func TestDriverRefusesSlin16OverRTP(t *testing.T) {
	sim := aritest.Start(t, aritest.Config{})
	client, err := ari.New(ari.Config{URL: sim.URL(), Username: sim.Username(), Password: sim.Password(), App: testApp()})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_, err = driver.New(client, driver.Config{Transport: driver.TransportRTP, Format: driver.FormatSlin16})
	if !errors.Is(err, ari.ErrIncompleteConfig) || !strings.Contains(err.Error(), "audiosocket or websocket") {
		t.Fatalf("New(rtp, slin16): %v, want a config error naming the transports that work", err)
	}
}

func TestDriverMedia(t *testing.T) {
	for _, mc := range mediaConfigs {
		t.Run(mc.name, func(t *testing.T) {
			t.Parallel()
			sim := aritest.Start(t, aritest.Config{Rate: 16000})
			e := startDriver(t, ari.Config{URL: sim.URL(), Username: sim.Username(), Password: sim.Password(), App: testApp()}, mc.cfg, sim)
			runMediaSuite(t, e)
		})
	}
}

func TestIntegrationMedia(t *testing.T) {
	for _, mc := range mediaConfigs {
		t.Run(mc.name, func(t *testing.T) {
			e := newRealDriver(t, mc.cfg)
			if mc.cfg.Transport == driver.TransportWebSocket {
				skipWithoutModule(t, e.client, "chan_websocket")
			}
			runMediaSuite(t, e)
		})
	}
}

// testApp is the Stasis application every integration test uses: OUTCALL_ARI_APP, default "outcall-test".
func testApp() string {
	if app := os.Getenv("OUTCALL_ARI_APP"); app != "" {
		return app
	}
	return "outcall-test"
}

// skipWithoutModule skips when Asterisk lacks a module: chan_websocket is in 20.16, 21.11, 22.6, 23.0 and later.
func skipWithoutModule(t *testing.T, c *ari.Client, module string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.GetModule(ctx, module); errors.Is(err, ari.ErrNotFound) {
		t.Skipf("Asterisk has no %s (it is in Asterisk 20.16, 21.11, 22.6, 23.0 and later)", module)
	}
}

func runMediaSuite(t *testing.T, e *driverEnv) {
	before := serverState(t, e.client)
	t.Run("tone", func(t *testing.T) { mediaTone(t, e) })
	t.Run("speech", func(t *testing.T) { mediaSpeech(t, e) })
	t.Run("dtmf", func(t *testing.T) { testDTMFOnce(t, e) })
	t.Run("bargein", func(t *testing.T) { mediaBargeIn(t, e) })
	t.Run("transfer", func(t *testing.T) { mediaTransfer(t, e) })
	t.Run("hangup-remote", func(t *testing.T) {
		c := dial(t, e, "hangup")
		ev := nextEvent(t, c, call.EventHangup, 10*time.Second)
		if !ev.Remote {
			t.Errorf("hang-up %+v, want remote", ev)
		}
	})
	t.Run("hangup-local", func(t *testing.T) {
		c := dial(t, e, "echo")
		hangup(t, c)
	})
	assertNoLeftovers(t, e.client, before)
}

// state is what the server holds: channel and bridge ids.
type state struct{ channels, bridges map[string]string }

func serverState(t *testing.T, c *ari.Client) state {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	chs, err := c.ListChannels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	brs, err := c.ListBridges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := state{channels: map[string]string{}, bridges: map[string]string{}}
	for _, ch := range chs {
		s.channels[ch.ID] = ch.Name
	}
	for _, b := range brs {
		s.bridges[b.ID] = strings.Join(b.Channels, ",")
	}
	return s
}

// assertNoLeftovers checks with GET /channels and GET /bridges that everything the test made is gone (other
// traffic on the server is left out by comparing with before).
func assertNoLeftovers(t *testing.T, c *ari.Client, before state) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		now := serverState(t, c)
		var left []string
		for id, name := range now.channels {
			if _, ok := before.channels[id]; !ok {
				left = append(left, "channel "+name)
			}
		}
		for id, chs := range now.bridges {
			if _, ok := before.bridges[id]; !ok {
				left = append(left, "bridge "+id+" ["+chs+"]")
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("left on the server: %v", left)
		}
		time.Sleep(50 * time.Millisecond) // polling the server's own state: no event says "all gone"
	}
}

// writeTone writes n frames of a tone of freq and returns when done or ctx ends.
func writeTone(ctx context.Context, m call.Media, freq float64, n int) {
	f := m.Format()
	for i := range n {
		fr := audio.Frame{Rate: f.Rate, Samples: sine(freq, f.Rate, f.FrameSamples(), i*f.FrameSamples(), 8000)}
		if m.Write(ctx, fr) != nil {
			return
		}
	}
}

// sine returns n samples of a sine of freq at rate, amplitude amp, from sample offset off.
func sine(freq float64, rate, n, off int, amp float64) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(off+i)/float64(rate)))
	}
	return s
}

func isTone(s []int16, rate int, freq float64) bool { return toneRatio(s, rate, freq) > 0.5 }

// mediaTone: a tone goes out and the same frequency comes back (±2 %), for two frequencies.
func mediaTone(t *testing.T, e *driverEnv) {
	c := dial(t, e, "echo")
	defer hangup(t, c)
	m := c.Media()
	rate := m.Format().Rate
	for _, freq := range []float64{440, 1000} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		go writeTone(ctx, m, freq, 50)
		var window []int16
		got := 0.0
		for i := 0; i < 150 && got == 0; i++ {
			f, err := m.Read(ctx)
			if err != nil {
				cancel()
				t.Fatalf("read: %v", err)
			}
			if !isTone(f.Samples, rate, freq) {
				window = window[:0]
				continue
			}
			if window = append(window, f.Samples...); len(window) >= 10*len(f.Samples) {
				got, _ = audio.PeakFrequency(window, rate, 200, 3400, 2)
			}
		}
		cancel()
		if got < freq*0.98 || got > freq*1.02 {
			t.Fatalf("sent %.0f Hz, echo peaks at %.0f Hz", freq, got)
		}
		drain(t, m, rate, freq)
	}
}

// drain reads until the tone has stopped for 200 ms, so the next check starts clean.
func drain(t *testing.T, m call.Media, rate int, freq float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for quiet := 0; quiet < 10; {
		f, err := m.Read(ctx)
		if err != nil {
			t.Fatalf("drain: %v", err)
		}
		if isTone(f.Samples, rate, freq) {
			quiet = 0
		} else {
			quiet++
		}
	}
}

// mediaSpeech: the library's fake speech, spoken to echo, is recognised back word for word (mediatest.SpeechRoundTrip).
func mediaSpeech(t *testing.T, e *driverEnv) {
	mediatest.SpeechRoundTrip(t, func() (string, uint64) { return mediaSpeechOnce(t, e) })
}

// lostFrames counts the frames lost to timing: callee frames the receive jitter buffer concealed, silenced or
// dropped late, and bot frames the playout clock sent late in a catch-up burst after a stall.
func lostFrames(m call.Media) uint64 {
	if s, ok := m.(interface{ Stats() driver.MediaStats }); ok {
		st := s.Stats()
		return mediatest.Lost(st.Jitter) + st.Playout.Late
	}
	return 0
}

func mediaSpeechOnce(t *testing.T, e *driverEnv) (heard string, lost uint64) {
	c := dial(t, e, "echo")
	defer hangup(t, c)
	m := c.Media()
	lost0 := lostFrames(m)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	heard, err := mediatest.SpeechThroughEcho(ctx, m, mediatest.Said)
	if err != nil {
		t.Fatal(err)
	}
	return heard, lostFrames(m) - lost0
}

// mediaBargeIn: after Flush at most 60 ms (3 frames) more of the bot's audio leaves this process (counted at the
// playout clock, which hands frames to the socket), and the echo of the bot's tone stops; how long after the
// Flush the echo stops, less the echo path's delay measured at the tone's start, is logged.
func mediaBargeIn(t *testing.T, e *driverEnv) {
	c := dial(t, e, "echo")
	defer hangup(t, c)
	m := c.Media()
	rate := m.Format().Rate
	const freq = 800
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wctx, stopWriting := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	started := time.Now()
	go func() { defer wg.Done(); writeTone(wctx, m, freq, 500) }()
	var onset time.Duration
	for heard := 0; heard < 15; {
		f, err := m.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if isTone(f.Samples, rate, freq) {
			if heard == 0 {
				onset = time.Since(started)
			}
			heard++
		}
	}
	stopWriting()
	wg.Wait()
	stats := func() driver.MediaStats { return m.(interface{ Stats() driver.MediaStats }).Stats() }
	flushed := time.Now()
	if played := m.Flush(); played <= 0 {
		t.Errorf("Flush reported %v played", played)
	}
	sentAtFlush := stats().Playout.Sent
	var lastTone time.Time
	for quiet := 0; quiet < 15; {
		f, err := m.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if isTone(f.Samples, rate, freq) {
			lastTone, quiet = time.Now(), 0
		} else {
			quiet++
		}
	}
	after := stats().Playout.Sent - sentAtFlush
	stop := time.Duration(0)
	if !lastTone.IsZero() {
		stop = lastTone.Sub(flushed) - onset
	}
	t.Logf("after Flush: %d frames sent (%v); echo path %v at onset, echo stopped %v after Flush less that",
		after, time.Duration(after)*audio.FrameDuration, onset, max(stop, 0))
	if time.Duration(after)*audio.FrameDuration > 60*time.Millisecond {
		t.Errorf("%d frames (%v) of the bot's audio sent after Flush, want <= 60 ms", after, time.Duration(after)*audio.FrameDuration)
	}
	if lastTone.IsZero() || lastTone.Sub(flushed) > time.Second {
		t.Errorf("echo of the tone after Flush: last at %v", lastTone.Sub(flushed))
	}
}

// mediaTransfer: Transfer to an agent endpoint bridges the callee with the agent and drops the bot's media
// channel; the agent hears the callee (their echo), and the bot's Media ends.
func mediaTransfer(t *testing.T, e *driverEnv) {
	c := dial(t, e, "echo")
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Hangup(ctx, call.CauseNormal)
		for range c.Events() {
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Transfer(ctx, call.Target{Endpoint: "Local/agent@outcall-test", Timeout: 10 * time.Second}); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	nextEvent(t, c, call.EventTransferred, 5*time.Second)
	chID := c.(interface{ ChannelID() string }).ChannelID()
	for {
		brs, err := e.client.ListBridges(ctx)
		if err != nil {
			t.Fatal(err)
		}
		chs, err := e.client.ListChannels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]string{}
		for _, ch := range chs {
			names[ch.ID] = ch.Name
		}
		var members []string
		for _, b := range brs {
			if slices.Contains(b.Channels, chID) {
				for _, id := range b.Channels {
					members = append(members, names[id])
				}
			}
		}
		media := slices.ContainsFunc(members, func(n string) bool {
			return strings.HasPrefix(n, "UnicastRTP/") || strings.HasPrefix(n, "AudioSocket/") || strings.HasPrefix(n, "WebSocket/")
		})
		agent := slices.ContainsFunc(members, func(n string) bool { return strings.HasPrefix(n, "Local/agent@outcall-test") })
		if len(members) == 2 && agent && !media {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("bridge after transfer holds %v, want the callee and the agent only", members)
		}
		time.Sleep(50 * time.Millisecond) // the media channel's hang-up is on its way: poll the server's state
	}
	if _, err := c.Media().Read(ctx); !errors.Is(err, call.ErrHungUp) {
		t.Errorf("bot media Read after transfer: %v, want ErrHungUp", err)
	}
}

// TestIntegrationSetupSoak places OUTCALL_ARI_SOAK calls (default 20) per transport on a real Asterisk, four at a
// time, each set up, checked for audio (a tone through Echo) and hung up, and counts set-up failures: there must
// be none.
func TestIntegrationSetupSoak(t *testing.T) {
	n := 20
	if v, err := strconv.Atoi(os.Getenv("OUTCALL_ARI_SOAK")); err == nil && v > 0 {
		n = v
	}
	for _, transport := range []string{driver.TransportRTP, driver.TransportAudioSocket, driver.TransportWebSocket} {
		t.Run(transport, func(t *testing.T) {
			e := newRealDriver(t, driver.Config{Transport: transport})
			before := serverState(t, e.client)
			var fails, silent atomic.Int64
			var firstErr atomic.Value
			sem := make(chan struct{}, 4)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					c, err := e.driver.Dial(ctx, call.Request{Endpoint: "Local/echo@outcall-test", Timeout: 10 * time.Second})
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
					go writeTone(ctx, m, 1000, 25)
					for k := 0; ; k++ {
						f, err := m.Read(ctx)
						if err != nil || k > 100 {
							silent.Add(1)
							return
						}
						if isTone(f.Samples, f.Rate, 1000) {
							return
						}
					}
				}()
			}
			wg.Wait()
			t.Logf("%s: %d calls, %d set-up failures, %d without audio", transport, n, fails.Load(), silent.Load())
			if fails.Load() > 0 || silent.Load() > 0 {
				t.Errorf("%d set-up failures, %d calls without audio of %d; first: %v", fails.Load(), silent.Load(), n, firstErr.Load())
			}
			assertNoLeftovers(t, e.client, before)
		})
	}
}
