package driver_test

import (
	"context"
	"errors"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/aritest"
	"github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
)

// driverEnv is a started client and a driver, on the simulator or on a real Asterisk.
type driverEnv struct {
	client *ari.Client
	driver *driver.Driver
	sim    *aritest.Server // nil on a real Asterisk
}

// newSimDriver starts the simulator, a client and a driver with cfg.
func newSimDriver(t testing.TB, cfg driver.Config) *driverEnv {
	t.Helper()
	sim := aritest.Start(t, aritest.Config{})
	return startDriver(t, ari.Config{URL: sim.URL(), Username: sim.Username(), Password: sim.Password(), App: "outcall"}, cfg, sim)
}

// newRealDriver uses the Asterisk of OUTCALL_ARI_URL, or skips.
func newRealDriver(t *testing.T, cfg driver.Config) *driverEnv {
	t.Helper()
	url := os.Getenv("OUTCALL_ARI_URL")
	if url == "" {
		t.Skip("OUTCALL_ARI_URL not set: set OUTCALL_ARI_URL, OUTCALL_ARI_USERNAME, OUTCALL_ARI_PASSWORD (and MEDIA_HOST if Asterisk is not local) to run against a real Asterisk with the outcall-test dialplan")
	}
	if h := os.Getenv("MEDIA_HOST"); h != "" && cfg.MediaHost == "" {
		cfg.MediaHost = h
	}
	return startDriver(t, ari.Config{URL: url, Username: os.Getenv("OUTCALL_ARI_USERNAME"), Password: os.Getenv("OUTCALL_ARI_PASSWORD"), App: testApp()}, cfg, nil)
}

func startDriver(t testing.TB, acfg ari.Config, cfg driver.Config, sim *aritest.Server) *driverEnv {
	t.Helper()
	client, err := ari.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = ctx
	d, err := driver.New(client, cfg)
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("driver close: %v", err)
		}
		client.Close()
	})
	return &driverEnv{client: client, driver: d, sim: sim}
}

func dial(t testing.TB, e *driverEnv, exten string) call.Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := e.driver.Dial(ctx, call.Request{Endpoint: "Local/" + exten + "@outcall-test", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("dial %s: %v", exten, err)
	}
	return c
}

func hangup(t testing.TB, c call.Call) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Hangup(ctx, call.CauseNormal); err != nil {
		t.Fatalf("hangup: %v", err)
	}
}

// nextEvent returns the next call event of type typ, failing after timeout.
func nextEvent(t testing.TB, c call.Call, typ call.EventType, timeout time.Duration) call.Event {
	t.Helper()
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed before %v", typ)
			}
			if ev.Type == typ {
				return ev
			}
			if ev.Type == call.EventHangup {
				t.Fatalf("hangup (cause %v) before %v", ev.Cause, typ)
			}
		case <-tm.C:
			t.Fatalf("no %v within %v", typ, timeout)
		}
	}
}

func TestDriverOutcomes(t *testing.T) { testOutcomes(t, newSimDriver(t, driver.Config{})) }

func TestIntegrationDriverOutcomes(t *testing.T) {
	testOutcomes(t, newRealDriver(t, driver.Config{}))
}

func testOutcomes(t *testing.T, e *driverEnv) {
	tests := []struct {
		exten   string
		timeout time.Duration
		want    call.Outcome
		cause   call.Cause // expected non-zero cause, 0: any
	}{
		{"busy", 5 * time.Second, call.Busy, call.CauseUserBusy},
		{"congestion", 5 * time.Second, call.Congestion, call.CauseCongestion},
		{"noanswer", 2 * time.Second, call.NoAnswer, 0},
	}
	for _, tc := range tests {
		t.Run(tc.exten, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			c, err := e.driver.Dial(ctx, call.Request{Endpoint: "Local/" + tc.exten + "@outcall-test", Timeout: tc.timeout})
			if err == nil {
				hangup(t, c)
				t.Fatalf("%s answered", tc.exten)
			}
			var ce *call.Error
			if !errors.As(err, &ce) || ce.Outcome != tc.want {
				t.Fatalf("%s: %v, want outcome %v", tc.exten, err, tc.want)
			}
			if tc.cause != 0 && ce.Cause != tc.cause {
				t.Errorf("%s: cause %d %v, want %d", tc.exten, ce.Cause, ce.Cause, tc.cause)
			}
			if tc.exten == "noanswer" && time.Since(start) < tc.timeout-200*time.Millisecond {
				t.Errorf("no answer after %v, before the %v ring timeout", time.Since(start), tc.timeout)
			}
		})
	}
	t.Run("hangup", func(t *testing.T) {
		t.Parallel()
		c := dial(t, e, "hangup")
		ev := nextEvent(t, c, call.EventHangup, 10*time.Second)
		if !ev.Remote || ev.Cause != call.CauseNormal {
			t.Fatalf("hangup event %+v, want remote normal clearing", ev)
		}
		if _, ok := <-c.Events(); ok {
			t.Fatal("events not closed after hangup")
		}
		if _, err := c.Media().Read(context.Background()); !errors.Is(err, call.ErrHungUp) {
			t.Fatalf("Read after hangup: %v", err)
		}
		if err := c.Media().Write(context.Background(), audio.Frame{Rate: c.Media().Format().Rate, Samples: make([]int16, 160)}); !errors.Is(err, call.ErrHungUp) {
			t.Fatalf("Write after hangup: %v", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := e.driver.Dial(ctx, call.Request{Endpoint: "Local/noanswer@outcall-test", Timeout: 10 * time.Second})
		if call.OutcomeOfError(err) != call.Cancelled {
			t.Fatalf("cancelled dial: %v", err)
		}
	})
}

func TestDriverEchoTone(t *testing.T) { testEchoTone(t, newSimDriver(t, driver.Config{})) }

func TestDriverEchoToneAudioSocket(t *testing.T) {
	testEchoTone(t, newSimDriver(t, driver.Config{Transport: driver.TransportAudioSocket}))
}

func TestIntegrationDriverEchoTone(t *testing.T) {
	testEchoTone(t, newRealDriver(t, driver.Config{}))
}

// testEchoTone sends a 1 kHz tone through Media to the echo extension and detects it coming back.
func testEchoTone(t *testing.T, e *driverEnv) {
	c := dial(t, e, "echo")
	defer hangup(t, c)
	m := c.Media()
	rate := m.Format().Rate
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		n := m.Format().FrameSamples()
		for i := 0; i < 75; i++ { // 1.5 s
			f := audio.Frame{Rate: rate, Samples: make([]int16, n)}
			for k := range f.Samples {
				f.Samples[k] = int16(8000 * math.Sin(2*math.Pi*1000*float64(i*n+k)/float64(rate)))
			}
			if m.Write(ctx, f) != nil {
				return
			}
		}
	}()
	toneFrames := 0
	for i := 0; i < 150 && toneFrames < 10; i++ {
		f, err := m.Read(ctx)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if f.Rate != rate || len(f.Samples) != m.Format().FrameSamples() {
			t.Fatalf("frame %d: %d samples at %d Hz", i, len(f.Samples), f.Rate)
		}
		if toneRatio(f.Samples, rate, 1000) > 0.5 {
			toneFrames++
		}
	}
	if toneFrames < 10 {
		t.Fatalf("1 kHz tone came back in %d frames, want >= 10", toneFrames)
	}
}

// toneRatio is the share of a frame's energy at freq (Goertzel).
func toneRatio(s []int16, rate int, freq float64) float64 {
	w := 2 * math.Pi * freq / float64(rate)
	coeff := 2 * math.Cos(w)
	var s1, s2, total float64
	for _, v := range s {
		x := float64(v)
		total += x * x
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	if total == 0 {
		return 0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return 2 * power / (float64(len(s)) * total)
}

func TestDriverDTMF(t *testing.T) { testDTMF(t, newSimDriver(t, driver.Config{})) }

func TestIntegrationDriverDTMF(t *testing.T) { testDTMF(t, newRealDriver(t, driver.Config{})) }

func testDTMF(t *testing.T, e *driverEnv) {
	c := dial(t, e, "dtmf")
	defer hangup(t, c)
	// Read media meanwhile: the dtmf extension is silent, so reads must return silence on time, never stall.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	frames := make(chan int, 1)
	go func() {
		n := 0
		for {
			if _, err := c.Media().Read(ctx); err != nil {
				frames <- n
				return
			}
			n++
		}
	}()
	ev := nextEvent(t, c, call.EventDTMF, 5*time.Second)
	if ev.Digit != '1' {
		t.Fatalf("digit %q, want '1'", ev.Digit)
	}
	cancel()
	if n := <-frames; n < 25 {
		t.Fatalf("only %d frames read in over a second of silence", n)
	}
}

func TestDriverBargeInFlush(t *testing.T) {
	e := newSimDriver(t, driver.Config{})
	c := dial(t, e, "echo")
	defer hangup(t, c)
	m := c.Media()
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for i := 0; i < 100; i++ { // 2 s of audio; Write blocks while the queue is full
			if m.Write(ctx, audio.Frame{Rate: 8000, Samples: make([]int16, 160)}) != nil {
				return
			}
		}
	}()
	time.Sleep(400 * time.Millisecond)
	cancel()
	<-wrote
	played := m.Flush()
	elapsed := time.Since(start)
	// Some audio went out (at least a few ticks even on a loaded machine), never more than the time elapsed nor
	// the 2 s written: Flush reports what was sent, not what was queued.
	if played < 60*time.Millisecond || played > elapsed+20*time.Millisecond {
		t.Fatalf("Flush reported %v played after %v of playout", played, elapsed)
	}
	if again := m.Flush(); again > 40*time.Millisecond {
		t.Fatalf("second Flush reported %v", again)
	}
}

func TestDriverTransferDialplan(t *testing.T) {
	e := newSimDriver(t, driver.Config{})
	c := dial(t, e, "echo")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Transfer(ctx, call.Target{Context: "queues", Extension: "sales"}); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, c, call.EventTransferred, time.Second)
	if ev.Detail != "queues,sales,1" {
		t.Fatalf("transferred to %q", ev.Detail)
	}
	hev := nextEvent(t, c, call.EventHangup, 5*time.Second)
	if hev.Detail != "transferred" {
		t.Fatalf("hangup %+v", hev)
	}
	if _, err := c.Media().Read(ctx); !errors.Is(err, call.ErrHungUp) {
		t.Fatalf("Read after transfer: %v", err)
	}
	waitResources(t, e, 2) // the callee's Local channel halves, now in the dialplan
}

func TestDriverTransferAgent(t *testing.T) {
	e := newSimDriver(t, driver.Config{})
	c := dial(t, e, "echo")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Transfer(ctx, call.Target{Endpoint: "Local/echo@outcall-test", Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, c, call.EventTransferred, time.Second)
	if _, err := c.Media().Read(ctx); !errors.Is(err, call.ErrHungUp) {
		t.Fatalf("Read after transfer: %v", err)
	}
	// A transfer to an agent that is busy fails and leaves the call with the bot.
	c2 := dial(t, e, "echo")
	err := c2.Transfer(ctx, call.Target{Endpoint: "Local/busy@outcall-test", Timeout: 5 * time.Second})
	if call.OutcomeOfError(err) != call.Busy {
		t.Fatalf("transfer to busy agent: %v", err)
	}
	if _, err := c2.Media().Read(ctx); err != nil {
		t.Fatalf("media after failed transfer: %v", err)
	}
	hangup(t, c2)
	hangup(t, c)
	waitNoResources(t, e)
}

// waitNoResources waits until the driver has no live call and the simulator no bridge.
func waitNoResources(t testing.TB, e *driverEnv) { waitResources(t, e, 0) }

// waitResources waits until the driver has no live call, the simulator no bridge and no media channel, and
// at most calleeChannels other channels (a callee continued into the dialplan stays).
func waitResources(t testing.TB, e *driverEnv, calleeChannels int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		bridges, err := e.client.ListBridges(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		channels, err := e.client.ListChannels(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		media := 0
		for _, ch := range channels {
			if strings.HasPrefix(ch.Name, "UnicastRTP/") || strings.HasPrefix(ch.Name, "AudioSocket/") {
				media++
			}
		}
		if len(bridges) == 0 && media == 0 && len(channels) <= calleeChannels && e.driver.ActiveCalls() == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d bridges, %d channels and %d calls left after hangup", len(bridges), len(channels), e.driver.ActiveCalls())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDriverTeardownNoLeaks(t *testing.T) {
	for _, tr := range []string{driver.TransportRTP, driver.TransportAudioSocket} {
		t.Run(tr, func(t *testing.T) { testTeardownNoLeaks(t, tr) })
	}
}

func testTeardownNoLeaks(t *testing.T, transport string) {
	e := newSimDriver(t, driver.Config{Transport: transport})
	oneCall := func() {
		c := dial(t, e, "echo")
		seen := false
		for i := 0; i < 100 && !seen; i++ { // a goroutine just started may not be in the dump yet
			n, _ := callGoroutines()
			seen = n > 0
			time.Sleep(5 * time.Millisecond)
		}
		if !seen {
			t.Fatal("leak detector sees no goroutine of a live call")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Media().Write(ctx, audio.Frame{Rate: 8000, Samples: make([]int16, 160)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Media().Read(ctx); err != nil {
			t.Fatal(err)
		}
		hangup(t, c)
		if ev := nextEvent(t, c, call.EventHangup, time.Second); ev.Remote || ev.Cause != call.CauseNormal {
			t.Fatalf("bot hangup reported as %+v", ev)
		}
		if err := c.Hangup(ctx, call.CauseNormal); !errors.Is(err, call.ErrHungUp) {
			t.Fatalf("second hangup: %v", err)
		}
	}
	for range 5 {
		oneCall()
	}
	waitNoResources(t, e)
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, stacks := callGoroutines()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d call goroutines left after 5 calls:\n%s", n, stacks)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// callGoroutines counts goroutines running the driver's per-call code (event loop, AudioSocket media, reads,
// dials); HTTP keep-alive connections and the shared clock and socket are not per call.
func callGoroutines() (int, string) {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	var out strings.Builder
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, fn := range []string{"ari/driver.(*ariCall)", "ari/driver.(*mediaAudioSocket)", "ari/driver.(*audio.Receiver)", "ari/driver.(*Driver).Dial", "ari/driver.(*Driver).awaitAnswer"} {
			if strings.Contains(g, fn) {
				n++
				out.WriteString(g + "\n\n")
				break
			}
		}
	}
	return n, out.String()
}

func TestNewRejectsBadConfig(t *testing.T) {
	client, err := ari.New(ari.Config{URL: "http://127.0.0.1:1", App: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for _, cfg := range []driver.Config{
		{Format: "g729"},
		{Transport: "carrier-pigeon"},
		{MediaHost: "example.com"},
		{MediaHost: "0.0.0.0"}, // bound to every address, but nothing to tell Asterisk
		{ExternalHost: "asterisk-can-reach-me"},
	} {
		if _, err := driver.New(client, cfg); !errors.Is(err, ari.ErrIncompleteConfig) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	if _, err := driver.New(nil, driver.Config{}); err == nil {
		t.Error("nil client accepted")
	}
}

func TestDriverCloseEndsCallsAndDials(t *testing.T) {
	e := newSimDriver(t, driver.Config{})
	c1, c2 := dial(t, e, "echo"), dial(t, e, "dtmf")
	dialErr := make(chan error, 1)
	go func() {
		_, err := e.driver.Dial(context.Background(), call.Request{Endpoint: "Local/noanswer@outcall-test", Timeout: 30 * time.Second})
		dialErr <- err
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if err := e.driver.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("Close took %v", el)
	}
	if err := <-dialErr; call.OutcomeOfError(err) != call.Cancelled {
		t.Fatalf("dial in progress at Close: %v", err)
	}
	for _, c := range []call.Call{c1, c2} {
		if ev := nextEvent(t, c, call.EventHangup, time.Second); ev.Remote {
			t.Fatalf("close hangup reported as remote: %+v", ev)
		}
	}
	if _, err := e.driver.Dial(context.Background(), call.Request{Endpoint: "Local/echo@outcall-test"}); !errors.Is(err, driver.ErrDriverClosed) {
		t.Fatalf("dial after Close: %v", err)
	}
	waitNoResources(t, e)
}

func TestDriverReconcileAfterReconnect(t *testing.T) {
	e := newSimDriver(t, driver.Config{})
	keep, lose := dial(t, e, "echo"), dial(t, e, "echo")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	live, err := e.client.ListChannels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Pretend lose's channel vanished during an outage: reconcile against the list without it.
	var without []ari.Channel
	for _, ch := range live {
		if ch.ID != lose.(interface{ ChannelID() string }).ChannelID() {
			without = append(without, ch)
		}
	}
	if n := e.driver.Reconcile(without); n != 1 {
		t.Fatalf("Reconcile ended %d calls, want 1", n)
	}
	if ev := nextEvent(t, lose, call.EventHangup, time.Second); !ev.Remote || ev.Cause != call.CauseUnknown {
		t.Fatalf("lost call's hangup %+v", ev)
	}
	if _, err := keep.Media().Read(ctx); err != nil {
		t.Fatalf("the live call was disturbed: %v", err)
	}
	if e.driver.ActiveCalls() != 1 {
		t.Fatalf("%d active calls, want 1", e.driver.ActiveCalls())
	}
	hangup(t, keep)
}

func TestDriverSendDTMFAndHangupCause(t *testing.T) {
	e := newSimDriver(t, driver.Config{})
	c := dial(t, e, "echo")
	id := c.(interface{ ChannelID() string }).ChannelID()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.SendDTMF(ctx, "12#"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec, ok := e.sim.Call(id)
		if !ok {
			t.Fatalf("simulator has no call %s", id)
		}
		if rec.DTMFReceived == "12#" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("callee received %q, want 12#", rec.DTMFReceived)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.Hangup(ctx, call.CauseUserBusy); err != nil {
		t.Fatal(err)
	}
	rec, _ := e.sim.Call(id)
	if rec.Cause != call.CauseUserBusy || rec.HungUpBy != "app" {
		t.Fatalf("simulator saw the call end with cause %d by %q, want 17 by app", rec.Cause, rec.HungUpBy)
	}
	if err := c.SendDTMF(ctx, "1"); !errors.Is(err, call.ErrHungUp) {
		t.Fatalf("SendDTMF after hangup: %v", err)
	}
	if err := c.Transfer(ctx, call.Target{Context: "x", Extension: "y"}); !errors.Is(err, call.ErrHungUp) {
		t.Fatalf("Transfer after hangup: %v", err)
	}
}

func TestDriverEchoToneAudioSocketSlin16(t *testing.T) {
	testEchoTone(t, newSimDriver(t, driver.Config{Transport: driver.TransportAudioSocket, Format: driver.FormatSlin16}))
}

func TestDriverCallIDNamesChannels(t *testing.T) {
	e := newSimDriver(t, driver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := e.driver.Dial(ctx, call.Request{Endpoint: "Local/echo@outcall-test", ID: "camp1-contact42-try1"})
	if err != nil {
		t.Fatal(err)
	}
	defer hangup(t, c)
	if c.ID() != "camp1-contact42-try1" || c.(interface{ ChannelID() string }).ChannelID() != "camp1-contact42-try1-a" {
		t.Fatalf("call %q on channel %q", c.ID(), c.(interface{ ChannelID() string }).ChannelID())
	}
	if _, err := e.client.GetChannel(ctx, "camp1-contact42-try1-a"); err != nil {
		t.Fatalf("the originated channel is not named after the call id: %v", err)
	}
}

// TestDriverFrameChannel: every transport's media delivers paced frames on its channel (call.Caps.Frames), one per
// 20 ms, and closes it at hang-up.
func TestDriverFrameChannel(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  driver.Config
	}{
		{"rtp", driver.Config{}},
		{"audiosocket", driver.Config{Transport: driver.TransportAudioSocket}},
		{"websocket", wsConfig(driver.FormatULaw)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSimDriver(t, tc.cfg)
			c := dial(t, e, "echo")
			frames := c.Media().Caps().Frames
			if frames == nil {
				t.Fatalf("%T has no frame channel", c.Media())
			}
			for len(frames) > 0 { // frames since answer
				<-frames
			}
			start := time.Now()
			n := 0
			for time.Since(start) < time.Second {
				f := <-frames
				if f.Rate != c.Media().Format().Rate || len(f.Samples) != c.Media().Format().FrameSamples() {
					t.Fatalf("frame %d: %d samples at %d Hz", n, len(f.Samples), f.Rate)
				}
				n++
			}
			if n < 45 || n > 55 {
				t.Fatalf("%d frames in 1 s, want 50 (one per 20 ms)", n)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := c.Hangup(ctx, call.CauseNormal); err != nil {
				t.Fatal(err)
			}
			deadline := time.After(2 * time.Second)
			for {
				select {
				case _, ok := <-frames:
					if !ok {
						if _, err := c.Media().Read(ctx); !errors.Is(err, call.ErrHungUp) {
							t.Fatalf("Read after the channel closed: %v", err)
						}
						return
					}
				case <-deadline:
					t.Fatal("frame channel not closed 2 s after hang-up")
				}
			}
		})
	}
}
