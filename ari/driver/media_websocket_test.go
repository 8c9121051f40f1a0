package driver_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
)

func wsConfig(format string) driver.Config {
	return driver.Config{Transport: driver.TransportWebSocket, Format: format}
}

func TestDriverEchoToneWebSocket(t *testing.T) {
	testEchoTone(t, newSimDriver(t, wsConfig(driver.FormatULaw)))
}

func TestDriverEchoToneWebSocketSlin16(t *testing.T) {
	testEchoTone(t, newSimDriver(t, wsConfig(driver.FormatSlin16)))
}

func TestIntegrationDriverEchoToneWebSocket(t *testing.T) {
	testEchoTone(t, newRealDriver(t, wsConfig(driver.FormatULaw)))
}

func TestIntegrationDriverDTMFWebSocket(t *testing.T) {
	testDTMFOnce(t, newRealDriver(t, wsConfig(driver.FormatULaw)))
}

// TestDriverDTMFWebSocket: the digit arrives both as ChannelDtmfReceived and as chan_websocket's DTMF_END; the
// call reports it once, and reads keep their pace through the extension's silence.
func TestDriverDTMFWebSocket(t *testing.T) {
	e := newSimDriver(t, wsConfig(driver.FormatULaw))
	testDTMF(t, e)
	testDTMFOnce(t, e)
}

// testDTMFOnce dials the dtmf extension and checks digit 1 is reported exactly once.
func testDTMFOnce(t *testing.T, e *driverEnv) {
	c := dial(t, e, "dtmf")
	defer hangup(t, c)
	if ev := nextEvent(t, c, call.EventDTMF, 5*time.Second); ev.Digit != '1' {
		t.Fatalf("digit %q, want '1'", ev.Digit)
	}
	// Longer than the driver's pairing window of DTMF_END and ChannelDtmfReceived (1 s).
	deadline := time.After(1500 * time.Millisecond)
	for {
		select {
		case ev := <-c.Events():
			if ev.Type == call.EventDTMF {
				t.Fatalf("digit %q reported twice", ev.Digit)
			}
		case <-deadline:
			return
		}
	}
}

func TestDriverBargeInFlushWebSocket(t *testing.T) {
	e := newSimDriver(t, wsConfig(driver.FormatULaw))
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
	for e.sim.Stats().WebSocketIn < 5 { // some audio reached the simulated Asterisk
		time.Sleep(5 * time.Millisecond)
		if time.Since(start) > 5*time.Second {
			t.Fatal("no audio reached the simulator")
		}
	}
	cancel()
	<-wrote
	played := m.Flush()
	elapsed := time.Since(start)
	if played < 5*audio.FrameDuration || played > elapsed+20*time.Millisecond {
		t.Fatalf("Flush reported %v played after %v of playout", played, elapsed)
	}
	if again := m.Flush(); again > 40*time.Millisecond {
		t.Fatalf("second Flush reported %v", again)
	}
	// Writing goes on after a barge-in.
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := m.Write(wctx, audio.Frame{Rate: 8000, Samples: make([]int16, 160)}); err != nil {
		t.Fatal(err)
	}
}

// TestDriverWebSocketRemoteHangup: when the callee hangs up, Read ends with ErrHungUp and the call reports a
// remote hang-up.
func TestDriverWebSocketRemoteHangup(t *testing.T) {
	e := newSimDriver(t, wsConfig(driver.FormatULaw))
	c := dial(t, e, "hangup")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if _, err := c.Media().Read(ctx); err != nil {
			if !errors.Is(err, call.ErrHungUp) {
				t.Fatalf("read: %v, want ErrHungUp", err)
			}
			break
		}
	}
	if ev := nextEvent(t, c, call.EventHangup, 5*time.Second); !ev.Remote {
		t.Fatalf("hang-up %+v, want remote", ev)
	}
	if err := c.Media().Write(ctx, audio.Frame{Rate: 8000, Samples: make([]int16, 160)}); !errors.Is(err, call.ErrHungUp) {
		t.Fatalf("write after hang-up: %v", err)
	}
	waitNoWebSocketResources(t, e)
}

func TestDriverWebSocketTeardownNoLeaks(t *testing.T) {
	e := newSimDriver(t, wsConfig(driver.FormatULaw))
	for range 5 {
		c := dial(t, e, "echo")
		if n, _ := wsGoroutines(); n == 0 {
			t.Fatal("leak detector sees no goroutine of a live call's media")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := c.Media().Write(ctx, audio.Frame{Rate: 8000, Samples: make([]int16, 160)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Media().Read(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		hangup(t, c)
		if ev := nextEvent(t, c, call.EventHangup, time.Second); ev.Remote || ev.Cause != call.CauseNormal {
			t.Fatalf("bot hangup reported as %+v", ev)
		}
	}
	waitNoWebSocketResources(t, e)
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, stacks := wsGoroutines()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d media goroutines left after 5 calls:\n%s", n, stacks)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitNoWebSocketResources waits until the simulator has no bridge and no channel left and the driver no call.
func waitNoWebSocketResources(t *testing.T, e *driverEnv) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		bridges, err := e.client.ListBridges(ctx)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		channels, err := e.client.ListChannels(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if len(bridges) == 0 && len(channels) == 0 && e.driver.ActiveCalls() == 0 {
			return
		}
		if time.Now().After(deadline) {
			var names []string
			for _, ch := range channels {
				names = append(names, ch.Name)
			}
			t.Fatalf("%d bridges, channels %v and %d calls left after hang-up", len(bridges), names, e.driver.ActiveCalls())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wsGoroutines counts goroutines running chan_websocket media code or a call's event loop.
func wsGoroutines() (int, string) {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	var out strings.Builder
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, fn := range []string{"ari/driver.(*mediaWebSocket)", "ari/driver.(*ariCall)", "ari/driver.(*audio.Receiver)"} {
			if strings.Contains(g, fn) {
				n++
				out.WriteString(g + "\n\n")
				break
			}
		}
	}
	return n, out.String()
}

func TestDriverTransferWebSocket(t *testing.T) {
	e := newSimDriver(t, wsConfig(driver.FormatULaw))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c := dial(t, e, "echo")
	if err := c.Transfer(ctx, call.Target{Context: "queues", Extension: "sales"}); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, c, call.EventTransferred, time.Second)
	if hev := nextEvent(t, c, call.EventHangup, 5*time.Second); hev.Detail != "transferred" {
		t.Fatalf("hangup %+v, want transferred", hev)
	}
	if _, err := c.Media().Read(ctx); !errors.Is(err, call.ErrHungUp) {
		t.Fatalf("Read after transfer: %v", err)
	}

	a := dial(t, e, "echo")
	if err := a.Transfer(ctx, call.Target{Endpoint: "Local/echo@outcall-test", Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, a, call.EventTransferred, time.Second)
	if _, err := a.Media().Read(ctx); !errors.Is(err, call.ErrHungUp) {
		t.Fatalf("Read after transfer to an agent: %v", err)
	}
	// The call goes on with the agent, without the bot's media channel.
	select {
	case ev := <-a.Events():
		if ev.Type == call.EventHangup {
			t.Fatalf("call ended after the transfer: %+v", ev)
		}
	case <-time.After(300 * time.Millisecond):
	}
	hangup(t, a)
}
