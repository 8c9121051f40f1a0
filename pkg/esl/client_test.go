package esl_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/esl"
)

// rawServer accepts one connection and runs script on it: a hand-driven FreeSWITCH for wire-level tests.
func rawServer(t *testing.T, script func(nc net.Conn, r *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		script(nc, bufio.NewReader(nc))
	}()
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// readCmd reads one command frame (up to the blank line) and returns its first line.
func readCmd(r *bufio.Reader) (string, error) {
	var first string
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			return first, nil
		}
		if first == "" {
			first = l
		}
	}
}

func write(nc net.Conn, s string) { _, _ = nc.Write([]byte(s)) }

func apiResp(body string) string {
	return "Content-Type: api/response\nContent-Length: " + itoa(len(body)) + "\n\n" + body
}

func itoa(n int) string { return strconv.Itoa(n) }

// handshake plays auth/request and accepts any password, then answers the BACKGROUND_JOB subscription.
func handshake(nc net.Conn, r *bufio.Reader) bool {
	write(nc, "Content-Type: auth/request\n\n")
	if _, err := readCmd(r); err != nil {
		return false
	}
	write(nc, "Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
	if _, err := readCmd(r); err != nil { // event plain BACKGROUND_JOB
		return false
	}
	write(nc, "Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n")
	return true
}

func TestReplyCorrelationUnderCancellation(t *testing.T) {
	checkLeaks(t)
	gotFirst, gotSecond := make(chan struct{}), make(chan struct{})
	release := make(chan struct{}) // the replies wait until the first caller has given up
	addr := rawServer(t, func(nc net.Conn, r *bufio.Reader) {
		if !handshake(nc, r) {
			return
		}
		first, _ := readCmd(r)
		close(gotFirst)
		second, _ := readCmd(r) // the second command arrives while the first is still unanswered
		close(gotSecond)
		<-release
		// An unknown content type and a log line in between must not disturb the loop or the FIFO.
		write(nc, "Content-Type: text/x-unknown\nContent-Length: 2\n\nzz")
		write(nc, "Content-Type: log/data\nContent-Length: 4\n\nlog\n")
		write(nc, apiResp("reply to "+first))
		write(nc, apiResp("reply to "+second))
		third, _ := readCmd(r)
		write(nc, apiResp("reply to "+third))
		_, _ = readCmd(r)
	})
	var others atomic.Int32
	c, err := esl.Dial(testCtx(t, 5*time.Second), esl.Config{Addr: addr, NoReconnect: true,
		Hooks: esl.Hooks{OnMessage: func(m *esl.Message) { others.Add(1) }}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx1, cancel1 := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := c.API(ctx1, "one"); errc <- err }()
	<-gotFirst // "one" is on the wire first
	res := make(chan string, 1)
	go func() {
		s, err := c.API(testCtx(t, 5*time.Second), "two")
		if err != nil {
			s = err.Error()
		}
		res <- s
	}()
	<-gotSecond
	cancel1()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v", err)
	}
	close(release)
	if got := <-res; got != "reply to api two" {
		t.Fatalf("second caller got %q, want its own reply", got)
	}
	if got, err := c.API(testCtx(t, 5*time.Second), "three"); err != nil || got != "reply to api three" {
		t.Fatalf("third caller got %q, %v", got, err)
	}
	if others.Load() != 2 {
		t.Errorf("OnMessage saw %d frames, want 2 (unknown type, log/data)", others.Load())
	}
}

func TestDialFailures(t *testing.T) {
	checkLeaks(t)
	t.Run("wrong password", func(t *testing.T) {
		fs, _ := newFake(t, esl.Config{})
		_, err := esl.Dial(testCtx(t, 5*time.Second), esl.Config{Addr: fs.Addr(), Password: "nope"})
		var e *esl.Error
		if !errors.Is(err, esl.ErrAuth) || !errors.As(err, &e) || e.Reply != "invalid" {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), "nope") {
			t.Error("password in error text")
		}
	})
	t.Run("silent server", func(t *testing.T) {
		addr := rawServer(t, func(nc net.Conn, r *bufio.Reader) { _, _ = r.ReadByte() })
		start := time.Now()
		_, err := esl.Dial(testCtx(t, 5*time.Second), esl.Config{Addr: addr, AuthTimeout: 100 * time.Millisecond})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		if time.Since(start) > 3*time.Second {
			t.Errorf("took %v", time.Since(start))
		}
	})
	t.Run("rude rejection", func(t *testing.T) {
		addr := rawServer(t, func(nc net.Conn, r *bufio.Reader) {
			write(nc, "Content-Type: text/rude-rejection\nContent-Length: 14\n\nAccess Denied\n")
		})
		_, err := esl.Dial(testCtx(t, 5*time.Second), esl.Config{Addr: addr})
		if !errors.Is(err, esl.ErrRejected) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("not event socket", func(t *testing.T) {
		addr := rawServer(t, func(nc net.Conn, r *bufio.Reader) { write(nc, "Content-Type: api/response\n\n") })
		_, err := esl.Dial(testCtx(t, 5*time.Second), esl.Config{Addr: addr})
		if !errors.Is(err, esl.ErrNoAuth) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad addr", func(t *testing.T) {
		_, err := esl.Dial(testCtx(t, 5*time.Second), esl.Config{Addr: "no-port"})
		if !errors.Is(err, esl.ErrConfig) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestAPIAndBgAPI(t *testing.T) {
	checkLeaks(t)
	_, c := newFake(t, esl.Config{})
	ctx := testCtx(t, 10*time.Second)
	out, err := c.API(ctx, "status")
	if err != nil || !strings.HasPrefix(out, "UP ") {
		t.Fatalf("status: %q, %v", out, err)
	}
	_, err = c.API(ctx, "no_such_cmd x")
	var e *esl.Error
	if !errors.As(err, &e) || e.Command != "no_such_cmd" {
		t.Fatalf("unknown api: %v", err)
	}
	out, err = c.BgAPI(ctx, "status")
	if err != nil || !strings.HasPrefix(out, "UP ") {
		t.Fatalf("bgapi status: %q, %v", out, err)
	}
	_, err = c.BgAPI(ctx, "originate loopback/busy &park()")
	if !errors.As(err, &e) || e.Reply != "USER_BUSY" || e.Cause() != call.CauseUserBusy {
		t.Fatalf("bgapi originate busy: %v", err)
	}
	if _, err := c.API(ctx, "status\napi shutdown"); !errors.Is(err, esl.ErrBadCommand) {
		t.Fatalf("injection: %v", err)
	}
	// Concurrent callers each get their own reply.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := "u" + itoa(i)
			got, err := c.API(ctx, "uuid_exists "+id)
			if err != nil || got != "false" {
				t.Errorf("uuid_exists %s: %q %v", id, got, err)
			}
		}()
	}
	wg.Wait()
}

func TestEventsFormatsAndSubscribe(t *testing.T) {
	checkLeaks(t)
	for _, format := range []string{"plain", "json", "xml"} {
		t.Run(format, func(t *testing.T) {
			_, c := newFake(t, esl.Config{})
			ctx := testCtx(t, 10*time.Second)
			if err := c.Events(ctx, format, "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"); err != nil {
				t.Fatal(err)
			}
			sub := c.Subscribe("ev-1")
			defer sub.Close()
			other := c.Subscribe("someone-else")
			defer other.Close()
			if _, err := c.API(ctx, "originate {origination_uuid=ev-1}loopback/hangup &park()"); err != nil {
				t.Fatal(err)
			}
			var names []string
			for ev := range sub.Events() {
				names = append(names, ev.Name())
				if ev.Name() == "CHANNEL_HANGUP_COMPLETE" {
					if ev.Get("Hangup-Cause") != "NORMAL_CLEARING" {
						t.Errorf("cause %q", ev.Get("Hangup-Cause"))
					}
					break
				}
			}
			if strings.Join(names, ",") != "CHANNEL_ANSWER,CHANNEL_HANGUP_COMPLETE" {
				t.Errorf("events %v", names)
			}
			if len(other.Events()) != 0 {
				t.Error("another channel's events leaked into a subscription")
			}
		})
	}
	t.Run("bad format", func(t *testing.T) {
		_, c := newFake(t, esl.Config{})
		if err := c.Events(testCtx(t, time.Second), "yaml", "ALL"); !errors.Is(err, esl.ErrConfig) {
			t.Fatal(err)
		}
	})
}

func TestSubscriptionOverflow(t *testing.T) {
	checkLeaks(t)
	var reported atomic.Uint64
	_, c := newFake(t, esl.Config{EventBuffer: 2, Hooks: esl.Hooks{OnOverflow: func(_ string, n uint64) { reported.Store(n) }}})
	ctx := testCtx(t, 10*time.Second)
	if err := c.Events(ctx, "plain", "ALL"); err != nil {
		t.Fatal(err)
	}
	sub := c.Subscribe("of-1")
	defer sub.Close()
	// CREATE, PROGRESS, ANSWER, EXECUTE_COMPLETE x3, HANGUP, HANGUP_COMPLETE: far more than 2, nobody reading.
	if _, err := c.API(ctx, "originate {origination_uuid=of-1}loopback/echo &park()"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_ = c.Execute(ctx, "of-1", "playback", "x.wav")
	}
	if _, err := c.API(ctx, "uuid_kill of-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.API(ctx, "status"); err != nil { // the events above were read before this reply
		t.Fatal(err)
	}
	var last string
	for len(sub.Events()) > 0 {
		last = (<-sub.Events()).Name()
	}
	if last != "CHANNEL_HANGUP_COMPLETE" {
		t.Errorf("last queued event %q: the hangup must survive overflow", last)
	}
	if sub.Dropped() == 0 || reported.Load() != sub.Dropped() {
		t.Errorf("dropped %d, reported %d", sub.Dropped(), reported.Load())
	}
}

func TestReconnect(t *testing.T) {
	checkLeaks(t)
	disc := make(chan error, 4)
	recon := make(chan int, 4)
	fs, c := newFake(t, esl.Config{Hooks: esl.Hooks{
		OnDisconnect: func(err error) { disc <- err },
		OnReconnect:  func(n int) { recon <- n },
	}})
	ctx := testCtx(t, 10*time.Second)
	if err := c.Events(ctx, "json", "CHANNEL_ANSWER"); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		fs.DropConnections()
		select {
		case <-disc:
		case <-ctx.Done():
			t.Fatal("no disconnect signal")
		}
		select {
		case <-recon:
		case <-ctx.Done():
			t.Fatal("no reconnect signal")
		}
		if out, err := c.API(ctx, "status"); err != nil || !strings.HasPrefix(out, "UP") {
			t.Fatalf("round %d: api after reconnect: %q %v", round, out, err)
		}
		// Subscriptions were restored: an answer event still arrives, and bgapi results too.
		id := "rc-" + itoa(round)
		sub := c.Subscribe(id)
		if _, err := c.BgAPI(ctx, "originate {origination_uuid="+id+"}loopback/echo &park()"); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-sub.Events():
			if ev.Name() != "CHANNEL_ANSWER" {
				t.Errorf("event %s", ev.Name())
			}
		case <-ctx.Done():
			t.Fatal("no event after reconnect")
		}
		sub.Close()
		_, _ = c.API(ctx, "uuid_kill "+id)
	}
}

func TestReconnectFailsPending(t *testing.T) {
	checkLeaks(t)
	addr := rawServer(t, func(nc net.Conn, r *bufio.Reader) {
		if handshake(nc, r) {
			_, _ = readCmd(r) // never answer; drop the connection
		}
	})
	c, err := esl.Dial(testCtx(t, 5*time.Second), esl.Config{Addr: addr, NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.API(testCtx(t, 5*time.Second), "status")
	if !errors.Is(err, esl.ErrDisconnected) {
		t.Fatalf("pending command: %v", err)
	}
	if _, err := c.API(testCtx(t, time.Second), "status"); !errors.Is(err, esl.ErrDisconnected) {
		t.Fatalf("command while down: %v", err)
	}
	_ = c.Close()
	if _, err := c.API(testCtx(t, time.Second), "status"); !errors.Is(err, esl.ErrClosed) {
		t.Fatalf("command after Close: %v", err)
	}
}

func TestSendMsgAndExit(t *testing.T) {
	checkLeaks(t)
	fs, c := newFake(t, esl.Config{})
	ctx := testCtx(t, 10*time.Second)
	if _, err := c.API(ctx, "originate {origination_uuid=sm-1}loopback/echo &park()"); err != nil {
		t.Fatal(err)
	}
	if err := c.Execute(ctx, "sm-1", "playback", "/tmp/hello.wav"); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMsg(ctx, "sm-1", map[string]string{"call-command": "hangup", "hangup-cause": "USER_BUSY"}, nil); err != nil {
		t.Fatal(err)
	}
	rec, err := fs.WaitEnded(ctx, "sm-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Apps) != 1 || rec.Apps[0] != "playback /tmp/hello.wav" || rec.Cause != call.CauseUserBusy {
		t.Errorf("record %+v", rec)
	}
	if err := c.SendMsg(ctx, "nope", map[string]string{"call-command": "execute"}, nil); err == nil {
		t.Error("sendmsg to a missing channel succeeded")
	}
	if err := c.Exit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.API(ctx, "status"); !errors.Is(err, esl.ErrClosed) {
		t.Fatalf("after Exit: %v", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	cases := []struct {
		addr, pw string
		ok       bool
		err      bool
	}{
		{"", "", false, false},
		{"10.0.0.1:8021", "secret", true, false},
		{"10.0.0.1:8021", "-", false, true},
		{"-", "secret", false, true},
		{"no-port", "secret", false, true},
	}
	for _, tc := range cases {
		for k, v := range map[string]string{"FS_ESL_ADDR": tc.addr, "FS_ESL_PASSWORD": tc.pw} {
			switch v {
			case "":
			case "-":
				t.Setenv(k, "")
			default:
				t.Setenv(k, v)
			}
		}
		cfg, ok, err := esl.ConfigFromEnv()
		if ok != tc.ok || (err != nil) != tc.err {
			t.Errorf("%q/%q: ok %v err %v", tc.addr, tc.pw, ok, err)
		}
		if err != nil && (!errors.Is(err, esl.ErrConfig) || strings.Contains(err.Error(), "secret")) {
			t.Errorf("%q/%q: bad error %v", tc.addr, tc.pw, err)
		}
		if ok && (cfg.Addr != tc.addr || cfg.Password != tc.pw) {
			t.Errorf("cfg %+v", cfg)
		}
	}
}

func TestFilterAndNixEvent(t *testing.T) {
	checkLeaks(t)
	_, c := newFake(t, esl.Config{})
	ctx := testCtx(t, 10*time.Second)
	all := c.SubscribeAll()
	defer all.Close()
	if err := c.Events(ctx, "plain", "CHANNEL_CREATE", "CHANNEL_ANSWER"); err != nil {
		t.Fatal(err)
	}
	if err := c.NixEvent(ctx, "CHANNEL_CREATE"); err != nil {
		t.Fatal(err)
	}
	if err := c.Filter(ctx, "Unique-ID", "keep"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"drop", "keep"} {
		if _, err := c.API(ctx, "originate {origination_uuid="+id+"}loopback/echo &park()"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.API(ctx, "status"); err != nil { // every event sent before this reply has been dispatched
		t.Fatal(err)
	}
	var got []string
	for len(all.Events()) > 0 {
		ev := <-all.Events()
		got = append(got, ev.Name()+"/"+ev.UniqueID())
	}
	if strings.Join(got, ",") != "CHANNEL_ANSWER/keep" {
		t.Errorf("events %v, want only keep's answer", got)
	}
	for _, id := range []string{"drop", "keep"} {
		_, _ = c.API(ctx, "uuid_kill "+id)
	}
}

func TestCloseEndsWaitingJob(t *testing.T) {
	checkLeaks(t)
	fs, c := newFake(t, esl.Config{})
	errc := make(chan error, 1)
	go func() {
		_, err := c.BgAPI(context.Background(), "originate {originate_timeout=60}loopback/noanswer &park()")
		errc <- err
	}()
	tk := time.NewTicker(5 * time.Millisecond) // until the job runs: the fake has its call ringing
	defer tk.Stop()
	for len(fs.Calls()) == 0 {
		<-tk.C
	}
	_ = c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, esl.ErrDisconnected) && !errors.Is(err, esl.ErrClosed) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("BgAPI still waiting after Close")
	}
}
