package esltest

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/esl"
)

// TestCalleeClockSurvivesStalls: the callee's timeline keeps wall time when its goroutine is stalled (as a loaded
// machine stalls it): a key scripted at 2.5 s after answer is pressed at 2.5 s, though the talk goroutine spent
// 1.6 s of that blocked in eight stalls of 200 ms. (On a time.Ticker the stalled ticks were lost and the key came
// about 1.5 s late: the drift that made TestSectorPaths flaky.) The stalls, holding the call's lock, are the
// subject of the test: the sleeps are the load.
func TestCalleeClockSurvivesStalls(t *testing.T) {
	const at = 2500 * time.Millisecond
	s, err := New(Config{Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddCallee("1555", callee.Script{Steps: []callee.Step{{Action: callee.Press, When: callee.At, Offset: at, Digits: "7"}}})
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(nc)
	_, _ = nc.Write([]byte("auth pw\n\nevent json CHANNEL_ANSWER DTMF\n\napi originate {origination_uuid=k1}sofia/gateway/gw/1555 &park()\n\n"))
	next := func(name string) time.Time {
		for {
			m, err := esl.ReadMessage(r)
			if err != nil {
				t.Fatalf("waiting for %s: %v", name, err)
			}
			if m.Type() != esl.TypeEventJSON {
				continue
			}
			if ev, err := esl.ParseEvent(m); err == nil && ev.Name() == name {
				return time.Now()
			}
		}
	}
	answered := next("CHANNEL_ANSWER")
	s.mu.Lock()
	c := s.calls["k1"]
	s.mu.Unlock()
	for range 8 {
		c.amu.Lock() // every tick of the callee takes the call's lock: it stalls here
		time.Sleep(200 * time.Millisecond)
		c.amu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	late := next("DTMF").Sub(answered) - at
	if late > 500*time.Millisecond {
		t.Fatalf("the key scripted at %v came %v late: the callee's clock lost the stalled ticks", at, late.Round(time.Millisecond))
	}
	if late < -100*time.Millisecond {
		t.Fatalf("the key scripted at %v came %v early", at, (-late).Round(time.Millisecond))
	}
	t.Logf("key at %v: %v late", at, late.Round(time.Millisecond))
	s.mu.Lock()
	pressed := c.rec.DTMFPressed
	s.mu.Unlock()
	if !strings.Contains(pressed, "7") {
		t.Fatalf("pressed %q", pressed)
	}
}
