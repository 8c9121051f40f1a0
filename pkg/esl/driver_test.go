package esl_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/esl"
	"github.com/outcall/outcall/pkg/esl/esltest"
)

func newDriver(t *testing.T, cfg esl.DriverConfig) (*esltest.Server, *esl.Client, *esl.Driver) {
	t.Helper()
	fs, c := newFake(t, esl.Config{})
	d, err := esl.NewDriver(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return fs, c, d
}

func TestDialOutcomes(t *testing.T) {
	checkLeaks(t)
	fs, _, d := newDriver(t, esl.DriverConfig{})
	fs.AddCallee("13800000001", callee.Script{Answer: callee.Reject})
	fs.AddCallee("13800000002", callee.Script{Answer: callee.Unallocated})
	fs.AddCallee("13800000003", callee.Script{Answer: callee.Pickup, AnswerAfter: 3 * time.Second})
	cases := []struct {
		name     string
		endpoint string
		timeout  time.Duration
		want     call.Outcome
		cause    call.Cause
	}{
		{"busy", "loopback/busy", 0, call.Busy, call.CauseUserBusy},
		{"congestion", "loopback/congestion", 0, call.Congestion, call.CauseCongestion},
		{"noanswer", "loopback/noanswer", time.Second, call.NoAnswer, call.CauseNoAnswer},
		{"rejected", "sofia/gateway/gw/13800000001", 0, call.Rejected, call.CauseCallRejected},
		{"unallocated", "sofia/gateway/gw/13800000002", 0, call.Unallocated, call.CauseUnallocated},
		{"unknown number", "sofia/gateway/gw/19999999999", 0, call.Unallocated, call.CauseUnallocated},
		{"answers after timeout", "sofia/gateway/gw/13800000003", time.Second, call.NoAnswer, call.CauseNoAnswer},
		{"bad endpoint", "nosuch/tech", 0, call.Failed, call.CauseUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := d.Dial(testCtx(t, 10*time.Second), call.Request{Endpoint: tc.endpoint, Timeout: tc.timeout})
			if err == nil {
				_ = c.Hangup(context.Background(), call.CauseNormal)
				t.Fatal("Dial succeeded")
			}
			var ce *call.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *call.Error", err)
			}
			if ce.Outcome != tc.want || ce.Cause != tc.cause {
				t.Errorf("outcome %v cause %d (%v), want %v cause %d", ce.Outcome, ce.Cause, err, tc.want, tc.cause)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := d.Dial(ctx, call.Request{Endpoint: "loopback/noanswer", ID: "cancel-me"})
		if got := call.OutcomeOfError(err); got != call.Cancelled {
			t.Fatalf("outcome %v (%v), want cancelled", got, err)
		}
		rec, err := fs.WaitEnded(testCtx(t, 5*time.Second), "cancel-me")
		if err != nil {
			t.Fatal(err)
		}
		if rec.HungUpBy != "app" {
			t.Errorf("HungUpBy %q, want app (uuid_kill)", rec.HungUpBy)
		}
	})
}

func TestDialVariablesEscaped(t *testing.T) {
	fs, _, d := newDriver(t, esl.DriverConfig{})
	ctx := testCtx(t, 10*time.Second)
	c, err := d.Dial(ctx, call.Request{Endpoint: "loopback/echo", ID: "vars-1", CallerID: `"Bank, Ltd" <4001234567>`,
		Variables: map[string]string{"campaign": "a,b,c", "note": "it's {x} y"}, Timeout: 7 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Hangup(ctx, call.CauseNormal)
	rec, ok := fs.Call("vars-1")
	if !ok {
		t.Fatal("call not recorded")
	}
	want := map[string]string{"origination_uuid": "vars-1", "campaign": "a,b,c", "note": "it's {x} y",
		"origination_caller_id_name": "Bank, Ltd", "origination_caller_id_number": "4001234567", "originate_timeout": "7"}
	for k, v := range want {
		if rec.Vars[k] != v {
			t.Errorf("var %s = %q, want %q", k, rec.Vars[k], v)
		}
	}
	if rec.App != "&park()" {
		t.Errorf("app %q", rec.App)
	}
}

func tone(rate int, freq float64, n int, phase *float64) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(8000 * math.Sin(*phase))
		*phase += 2 * math.Pi * freq / float64(rate)
	}
	return s
}

func TestAudioRoundTripEcho(t *testing.T) {
	for _, f := range []audio.Format{audio.Wideband, audio.Narrowband} {
		t.Run(fmt.Sprint(f.Rate), func(t *testing.T) {
			checkLeaks(t)
			fs, _, d := newDriver(t, esl.DriverConfig{Format: f})
			ctx := testCtx(t, 20*time.Second)
			c, err := d.Dial(ctx, call.Request{Endpoint: "loopback/echo"})
			if err != nil {
				t.Fatal(err)
			}
			m := c.Media()
			if m.Format() != f {
				t.Fatalf("format %v", m.Format())
			}
			const freq = 1000.0
			go func() {
				var ph float64
				for range 50 { // 1 s of tone
					if m.Write(ctx, audio.Frame{Rate: f.Rate, Samples: tone(f.Rate, freq, f.FrameSamples(), &ph)}) != nil {
						return
					}
				}
			}()
			var toneFrames, frames int
			for frames = 0; frames < 150 && toneFrames < 10; frames++ {
				fr, err := m.Read(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(fr.Samples) != f.FrameSamples() {
					t.Fatalf("frame of %d samples", len(fr.Samples))
				}
				g := audio.NewGoertzel(freq, f.Rate)
				g.Add(fr.Samples)
				off := audio.NewGoertzel(freq*1.7, f.Rate)
				off.Add(fr.Samples)
				if g.Power() > 1e6 && g.Power() > 20*off.Power() {
					toneFrames++
				}
			}
			if toneFrames < 10 {
				t.Fatalf("tone heard back in %d of %d frames", toneFrames, frames)
			}
			st := m.(interface{ Stats() esl.MediaStats }).Stats()
			if st.Playout.Sent == 0 || st.Playout.Sent > 50 || st.OutDropped != 0 {
				t.Errorf("media stats %+v", st)
			}
			if err := c.Hangup(ctx, call.CauseNormal); err != nil {
				t.Fatal(err)
			}
			var last call.Event
			for ev := range c.Events() {
				last = ev
			}
			if last.Type != call.EventHangup || last.Remote || last.Cause != call.CauseNormal {
				t.Errorf("last event %+v", last)
			}
			if _, err := m.Read(ctx); !errors.Is(err, call.ErrHungUp) {
				t.Errorf("Read after hangup: %v", err)
			}
			rec, _ := fs.WaitEnded(ctx, c.ID())
			if rec.HungUpBy != "app" || rec.Person.BotFrames() < toneFrames {
				t.Errorf("record: by %q, callee heard %d bot frames", rec.HungUpBy, rec.Person.BotFrames())
			}
		})
	}
}

func TestDTMFAndRemoteHangup(t *testing.T) {
	checkLeaks(t)
	fs, _, d := newDriver(t, esl.DriverConfig{})
	fs.AddCallee("1001", callee.Script{HangupAfterSteps: true, Steps: []callee.Step{
		{Action: callee.Press, When: callee.At, Offset: 200 * time.Millisecond, Digits: "12#"},
		{Action: callee.Silence, When: callee.Now, Duration: 100 * time.Millisecond},
	}})
	ctx := testCtx(t, 10*time.Second)
	c, err := d.Dial(ctx, call.Request{Endpoint: "sofia/gateway/gw/1001"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendDTMF(ctx, "9*"); err != nil {
		t.Fatal(err)
	}
	var digits string
	var last call.Event
	for ev := range c.Events() {
		if ev.Type == call.EventDTMF {
			digits += string(ev.Digit)
			if ev.Length != 250*time.Millisecond {
				t.Errorf("DTMF length %v", ev.Length)
			}
		}
		last = ev
	}
	if digits != "12#" {
		t.Errorf("digits %q", digits)
	}
	if last.Type != call.EventHangup || !last.Remote || last.Cause != call.CauseNormal {
		t.Errorf("last event %+v", last)
	}
	rec, _ := fs.Call(c.ID())
	if rec.DTMFReceived != "9*" || rec.HungUpBy != "callee" {
		t.Errorf("record: received %q, by %q", rec.DTMFReceived, rec.HungUpBy)
	}
	if err := c.Hangup(ctx, call.CauseNormal); !errors.Is(err, call.ErrHungUp) {
		t.Errorf("Hangup after end: %v", err)
	}
	if err := c.SendDTMF(ctx, "x"); err == nil {
		t.Error("SendDTMF after end succeeded")
	}
}

func TestTransfer(t *testing.T) {
	checkLeaks(t)
	fs, _, d := newDriver(t, esl.DriverConfig{})
	ctx := testCtx(t, 10*time.Second)
	t.Run("extension", func(t *testing.T) {
		c, err := d.Dial(ctx, call.Request{Endpoint: "loopback/echo"})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Transfer(ctx, call.Target{Extension: "9000", Context: "agents"}); err != nil {
			t.Fatal(err)
		}
		ev := <-c.Events()
		if ev.Type != call.EventTransferred || ev.Detail != "9000@agents" {
			t.Errorf("event %+v", ev)
		}
		rec, _ := fs.Call(c.ID())
		if rec.Transfer != "9000 XML agents" {
			t.Errorf("transfer %q", rec.Transfer)
		}
		// The callee has left the bot for the dialplan: the call ends for the application, the channel stays up.
		if ev := <-c.Events(); ev.Type != call.EventHangup || ev.Detail != "transferred" || ev.Cause != call.CauseNormal {
			t.Errorf("after the transfer: %+v, want the hang-up \"transferred\"", ev)
		}
		if _, ok := <-c.Events(); ok {
			t.Error("events not closed after the hand-off")
		}
		if rec, _ := fs.Call(c.ID()); !rec.End.IsZero() {
			t.Errorf("the transferred channel was hung up (%s)", rec.HungUpBy)
		}
		if err := c.Hangup(ctx, call.CauseNormal); !errors.Is(err, call.ErrHungUp) {
			t.Errorf("Hangup after the hand-off: %v, want ErrHungUp (the channel is the dialplan's now)", err)
		}
	})
	t.Run("agent", func(t *testing.T) {
		fs.AddCallee("agent7", callee.Script{Steps: []callee.Step{{Action: callee.Echo, When: callee.Now}}})
		c, err := d.Dial(ctx, call.Request{Endpoint: "loopback/echo"})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Transfer(ctx, call.Target{Endpoint: "loopback/agent7"}); err != nil {
			t.Fatal(err)
		}
		rec, _ := fs.Call(c.ID())
		if rec.Transfer != "loopback/agent7" {
			t.Errorf("transfer %q", rec.Transfer)
		}
		_ = c.Hangup(ctx, call.CauseNormal)
	})
	t.Run("busy agent", func(t *testing.T) {
		c, err := d.Dial(ctx, call.Request{Endpoint: "loopback/echo"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Hangup(ctx, call.CauseNormal)
		err = c.Transfer(ctx, call.Target{Endpoint: "loopback/busy"})
		if call.OutcomeOfError(err) != call.Busy {
			t.Errorf("transfer to busy agent: %v", err)
		}
	})
}

// TestCallEndsWhenHangupLostDuringReconnect: the channel hangs up while the event socket is down; after the
// reconnect the driver's resync notices and ends the call instead of waiting forever.
func TestCallEndsWhenHangupLostDuringReconnect(t *testing.T) {
	checkLeaks(t)
	fs, c := newFake(t, esl.Config{ReconnectMin: 300 * time.Millisecond})
	d, err := esl.NewDriver(c, esl.DriverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	ctx := testCtx(t, 10*time.Second)
	cl, err := d.Dial(ctx, call.Request{Endpoint: "loopback/echo"})
	if err != nil {
		t.Fatal(err)
	}
	fs.DropConnections()
	if err := fs.Hangup(cl.ID(), call.CauseNormal); err != nil {
		t.Fatal(err)
	}
	var last call.Event
	for ev := range cl.Events() {
		last = ev
	}
	if last.Type != call.EventHangup || last.Detail != "channel gone after reconnect" {
		t.Fatalf("last event %+v", last)
	}
	if _, err := cl.Media().Read(ctx); !errors.Is(err, call.ErrHungUp) {
		t.Fatalf("Read: %v", err)
	}
}

// TestLogsHideNumbersAndPassword dials with debug logging on and checks that neither the callee number nor the
// password appears in the logs.
func TestLogsHideNumbersAndPassword(t *testing.T) {
	checkLeaks(t)
	var buf syncBuffer
	log := zerolog.New(&buf).Level(zerolog.DebugLevel)
	fs, err := esltest.New(esltest.Config{Password: "s3cret-pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Close() })
	fs.AddCallee("13812345678", callee.Script{Steps: []callee.Step{{Action: callee.HangUp, When: callee.At, Offset: 100 * time.Millisecond}}})
	ctx := testCtx(t, 10*time.Second)
	c, err := esl.Dial(ctx, esl.Config{Addr: fs.Addr(), Password: "s3cret-pw", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	d, err := esl.NewDriver(c, esl.DriverConfig{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	cl, err := d.Dial(ctx, call.Request{Endpoint: "sofia/gateway/gw/13812345678"})
	if err != nil {
		t.Fatal(err)
	}
	for range cl.Events() {
	}
	_, _ = esl.Dial(ctx, esl.Config{Addr: fs.Addr(), Password: "wrong-pw-123", Logger: log})
	out := buf.String()
	if !strings.Contains(out, "originate") {
		t.Fatalf("no debug logs captured: %q", out)
	}
	for _, secret := range []string{"13812345678", "s3cret-pw", "wrong-pw-123"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q found in logs", secret)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestDialRejectsInjection(t *testing.T) {
	_, _, d := newDriver(t, esl.DriverConfig{})
	ctx := testCtx(t, 5*time.Second)
	for _, r := range []call.Request{
		{Endpoint: "loopback/echo", ID: "x y"},
		{Endpoint: "loopback/echo", ID: "a\napi shutdown"},
		{Endpoint: "loopback/echo", Variables: map[string]string{"a}loopback/busy": "1"}},
		{Endpoint: "loopback/echo", Variables: map[string]string{"a=b,c": "1"}},
		{Endpoint: "loopback/echo &socket(1.2.3.4:1)"},
		{Endpoint: ""},
	} {
		if _, err := d.Dial(ctx, r); !errors.Is(err, esl.ErrConfig) || call.OutcomeOfError(err) != call.Failed {
			t.Errorf("%+v: %v", r, err)
		}
	}
}
