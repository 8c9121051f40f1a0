package esl_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

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
