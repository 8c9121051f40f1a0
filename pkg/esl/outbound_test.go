package esl_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/esl"
)

// TestOutboundServer plays FreeSWITCH's side of `socket 127.0.0.1:port async full`: it dials the server, answers
// connect with the channel's data, then myevents and linger, sends a DTMF event and the disconnect notice.
func TestOutboundServer(t *testing.T) {
	checkLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := esl.NewServer(ln, esl.OutboundConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type seen struct {
		uuid, caller, digit string
		notice              bool
		err                 error
	}
	results := make(chan seen, 1)
	served := make(chan error, 1)
	go func() {
		served <- srv.Serve(ctx, func(ctx context.Context, c *esl.OutboundConn) {
			var s seen
			defer func() { results <- s }()
			data, err := c.Connect(ctx)
			if err != nil {
				s.err = err
				return
			}
			s.uuid, s.caller = c.UniqueID(), data.Get("Caller-Caller-ID-Name")
			if s.err = c.MyEvents(ctx); s.err != nil {
				return
			}
			if s.err = c.Linger(ctx); s.err != nil {
				return
			}
			if s.err = c.Execute(ctx, "answer", ""); s.err != nil {
				return
			}
			select {
			case ev := <-c.Events():
				s.digit = ev.Get("DTMF-Digit")
			case <-ctx.Done():
				return
			}
			select {
			case <-c.Disconnected():
				s.notice = true
			case <-ctx.Done():
			}
		})
	}()

	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	r := bufio.NewReader(nc)
	expect := func(want string) {
		t.Helper()
		got, err := readCmd(r)
		if err != nil || got != want {
			t.Fatalf("got command %q (%v), want %q", got, err, want)
		}
	}
	expect("connect")
	write(nc, "Content-Type: command/reply\nReply-Text: +OK\nUnique-ID: out-1\nCaller-Caller-ID-Name: Zhang%20San\n"+
		"Channel-State: CS_EXECUTE\n\n")
	expect("myevents")
	write(nc, "Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n")
	expect("linger")
	write(nc, "Content-Type: command/reply\nReply-Text: +OK will linger\n\n")
	expect("sendmsg")
	write(nc, "Content-Type: command/reply\nReply-Text: +OK\n\n")
	ev := "Event-Name: DTMF\nUnique-ID: out-1\nDTMF-Digit: %23\n\n"
	write(nc, "Content-Type: text/event-plain\nContent-Length: "+itoa(len(ev))+"\n\n"+ev)
	write(nc, "Content-Type: text/disconnect-notice\nContent-Length: 10\n\nDisconnect")
	var s seen
	select {
	case s = <-results:
	case <-ctx.Done():
		t.Fatal("handler did not finish")
	}
	if s.err != nil || s.uuid != "out-1" || s.caller != "Zhang San" || s.digit != "#" || !s.notice {
		t.Fatalf("handler saw %+v", s)
	}
	cancel()
	if err := <-served; err != context.Canceled {
		t.Fatalf("Serve returned %v", err)
	}
	if _, err := r.ReadString('\n'); err == nil || !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
		t.Errorf("connection still open after Serve returned: %v", err)
	}
}

// TestAttachOutboundSocket: the fake originates with `&socket(...)` to our Server; the handler Attaches the
// connection as a call.Call, hears the echo of a tone, presses nothing, and hangs up.
func TestAttachOutboundSocket(t *testing.T) {
	for _, mode := range []esl.MediaMode{esl.MediaStream, esl.MediaBroadcast} {
		t.Run(mode.String(), func(t *testing.T) { testAttachOutboundSocket(t, mode) })
	}
}

// testAttachOutboundSocket: the echo callee sends back the bot's tone, which went out over the stream or by
// uuid_broadcast on the outbound socket.
func testAttachOutboundSocket(t *testing.T, mode esl.MediaMode) {
	checkLeaks(t)
	fs, client, d := newDriver(t, esl.DriverConfig{Media: mode})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := esl.NewServer(ln, esl.OutboundConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	type result struct {
		heard int
		last  call.Event
		err   error
	}
	res := make(chan result, 1)
	served := make(chan error, 1)
	go func() {
		served <- srv.Serve(ctx, func(ctx context.Context, oc *esl.OutboundConn) {
			var r result
			defer func() { res <- r }()
			cl, err := d.Attach(ctx, oc)
			if err != nil {
				r.err = err
				return
			}
			m := cl.Media()
			go func() {
				var ph float64
				for range 25 {
					_ = m.Write(ctx, audio.Frame{Rate: 16000, Samples: tone(16000, 1000, 320, &ph)})
				}
			}()
			for range 100 {
				f, err := m.Read(ctx)
				if err != nil {
					r.err = err
					return
				}
				g := audio.NewGoertzel(1000, 16000)
				g.Add(f.Samples)
				if g.Power() > 1e6 {
					r.heard++
				}
				if r.heard >= 5 {
					break
				}
			}
			r.err = cl.Hangup(ctx, call.CauseUserBusy)
			for ev := range cl.Events() {
				r.last = ev
			}
		})
	}()
	out, err := client.API(ctx, "originate {origination_uuid=sock-1}loopback/echo &socket("+srv.Addr().String()+" async full)")
	if err != nil || strings.TrimSpace(out) != "+OK sock-1" {
		t.Fatalf("originate: %q %v", out, err)
	}
	r := <-res
	if r.err != nil || r.heard < 5 {
		t.Fatalf("handler: heard %d tone frames, err %v", r.heard, r.err)
	}
	if r.last.Type != call.EventHangup || r.last.Cause != call.CauseUserBusy || r.last.Remote {
		t.Errorf("last event %+v", r.last)
	}
	rec, _ := fs.WaitEnded(ctx, "sock-1")
	if rec.HungUpBy != "app" || rec.Cause != call.CauseUserBusy {
		t.Errorf("record %+v", rec)
	}
	if broadcast := len(rec.Broadcasts) > 0; broadcast != (mode == esl.MediaBroadcast) {
		t.Errorf("%d broadcasts in %v mode", len(rec.Broadcasts), mode)
	}
	cancel()
	<-served
}
