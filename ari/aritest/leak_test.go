package aritest

import (
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// serverGoroutines returns the stacks of live goroutines running the simulator's code.
func serverGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, owner := range []string{"aritest.(*Server)", "aritest.(*rtpLeg)", "aritest.(*audioSocketLeg)", "aritest.(*subscriber)", "aritest.New."} {
			if strings.Contains(g, owner) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	srv, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv)
	ev := c.events("bot")
	// Live calls with RTP and AudioSocket media, a ringing call and an open events socket.
	bridgeCall(t, c, ev, "Local/echo@outcall-test", "ulaw")
	bridgeCall(t, c, ev, "Local/echo@outcall-test", "slin16")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if conn, err := ln.Accept(); err == nil {
			defer conn.Close()
			_, _ = conn.Read(make([]byte, 64))
			time.Sleep(time.Second)
		}
	}()
	c.must(200, "POST", "/channels/externalMedia", map[string]any{"app": "bot", "format": "slin", "external_host": ln.Addr().String(),
		"encapsulation": "audiosocket", "transport": "tcp", "data": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}, nil)
	originate(t, c, "Local/noanswer@outcall-test", nil)
	for wait := time.Now().Add(5 * time.Second); len(serverGoroutines()) == 0 && time.Now().Before(wait); {
		time.Sleep(10 * time.Millisecond) // until the simulator's goroutines for the call are running
	}
	if len(serverGoroutines()) == 0 {
		t.Fatal("found no simulator goroutines while running: the leak check would prove nothing")
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	// Goroutines finish their last instructions just after Close's WaitGroup releases it.
	deadline := time.Now().Add(time.Second)
	for len(serverGoroutines()) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := serverGoroutines(); len(g) > 0 {
		t.Fatalf("%d simulator goroutines after Close:\n%s", len(g), strings.Join(g, "\n\n"))
	}
	if n := srv.Active(); n != 0 {
		t.Fatalf("%d calls still active after Close", n)
	}
	for _, rec := range srv.Calls() {
		if rec.End.IsZero() || rec.HungUpBy != "server" {
			t.Fatalf("call not ended by Close: %+v", rec)
		}
	}
}
