package ari

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeEvents is a minimal ARI events endpoint over real HTTP on 127.0.0.1: it accepts the WebSocket (checking app,
// auth and subprotocol), hands each connection to the test, and answers GET /ari/channels.
type fakeEvents struct {
	srv       *httptest.Server
	conns     chan *websocket.Conn
	listCalls atomic.Int32
	reject    atomic.Int32 // status to refuse the next handshakes with (0: accept)
	deaf      atomic.Int32 // number of next connections that never read (so pings go unanswered)
	mu        sync.Mutex
	live      []Channel
	done      chan struct{}
}

func newFakeEvents(t *testing.T) *fakeEvents { return newFakeEventsTB(t) }

func newFakeEventsTB(t testing.TB) *fakeEvents {
	t.Helper()
	f := &fakeEvents{conns: make(chan *websocket.Conn, 8), done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ari/events", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "bot" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
			http.Error(w, `{"message":"Authentication required"}`, http.StatusUnauthorized)
			return
		}
		if s := f.reject.Load(); s != 0 {
			w.WriteHeader(int(s))
			fmt.Fprintf(w, `{"message":"refused %d"}`, s)
			return
		}
		if r.URL.Query().Get("app") != "outcall" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"message":"Missing app"}`)
			return
		}
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"ari"}})
		if err != nil {
			return
		}
		if c.Subprotocol() != "ari" {
			c.Close(websocket.StatusProtocolError, "subprotocol")
			return
		}
		f.conns <- c
		if f.deaf.Add(-1) >= 0 {
			// A hijacked request's context does not end when the peer goes away: wait for the test's end.
			<-f.done
			c.CloseNow()
			return
		}
		<-c.CloseRead(r.Context()).Done()
	})
	mux.HandleFunc("GET /ari/channels", func(w http.ResponseWriter, r *http.Request) {
		f.listCalls.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "[")
		for i, ch := range f.live {
			if i > 0 {
				fmt.Fprint(w, ",")
			}
			fmt.Fprintf(w, `{"id":%q,"name":%q,"state":%q}`, ch.ID, ch.Name, ch.State)
		}
		fmt.Fprint(w, "]")
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(f.done) }) // runs before srv.Close
	return f
}

func (f *fakeEvents) config() Config {
	return Config{URL: f.srv.URL, Username: "bot", Password: "s3cret", App: "outcall",
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 40 * time.Millisecond, PingInterval: -1, ProbeInterval: -1}
}

func (f *fakeEvents) accept(t *testing.T) *websocket.Conn {
	t.Helper()
	select {
	case c := <-f.conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("client did not connect")
		return nil
	}
}

func send(t *testing.T, c *websocket.Conn, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		if err := c.Write(t.Context(), websocket.MessageText, []byte(m)); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
}

func next(t *testing.T, s *Subscription) Event {
	t.Helper()
	select {
	case ev, ok := <-s.Events():
		if !ok {
			t.Fatal("subscription closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
		return nil
	}
}

func dtmf(ch, digit string) string {
	return fmt.Sprintf(`{"type":"ChannelDtmfReceived","application":"outcall","timestamp":"2026-11-23T21:42:12.844+0000","digit":%q,"duration_ms":100,"channel":{"id":%q}}`, digit, ch)
}

// checkGoroutines fails if goroutines started during the test outlive it.
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestEventsSubscribeInOrder(t *testing.T) {
	checkGoroutines(t)
	f := newFakeEvents(t)
	var connected atomic.Int32
	cfg := f.config()
	cfg.Hooks.OnConnected = func() { connected.Add(1) }
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Subscribed before Start and before the channel exists: nothing can be missed.
	sub := c.Subscribe("ch-1")
	all := c.SubscribeAll()
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(t.Context()); !errors.Is(err, ErrAlreadyStarted) {
		t.Fatalf("second Start: %v", err)
	}
	if connected.Load() != 1 {
		t.Fatalf("OnConnected called %d times", connected.Load())
	}
	conn := f.accept(t)
	send(t, conn,
		dtmf("ch-1", "1"), dtmf("ch-2", "9"), dtmf("ch-1", "2"),
		`{"type":"PlaybackFinished","application":"outcall","playback":{"id":"pb-7","target_uri":"channel:ch-1","state":"done"}}`,
		`{"type":"ChannelEnteredBridge","application":"outcall","bridge":{"id":"br-1"},"channel":{"id":"em-1"}}`,
		dtmf("ch-1", "4"),
	)
	// Once dtmf 4 arrived, the bridge event before it has been dispatched (without br-1 in the subscription).
	var got []string
	record := func(ev Event) {
		switch e := ev.(type) {
		case *ChannelDtmfReceived:
			got = append(got, "dtmf"+e.Digit)
		default:
			got = append(got, ev.Type())
		}
	}
	for len(got) < 4 {
		record(next(t, sub))
	}
	sub.Add("br-1")
	send(t, conn,
		`{"type":"ChannelLeftBridge","application":"outcall","bridge":{"id":"br-1"},"channel":{"id":"em-1"}}`,
		`{"type":"ApplicationReplaced","application":"outcall"}`,
		dtmf("ch-1", "3"),
	)
	for len(got) < 6 {
		record(next(t, sub))
	}
	want := []string{"dtmf1", "dtmf2", "PlaybackFinished", "dtmf4", "ChannelLeftBridge", "dtmf3"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("subscription got %v, want %v (ch-2's event, the bridge event before Add, and app-wide events excluded)", got, want)
	}
	for i := range 9 {
		ev := next(t, all)
		if i == 7 && ev.Type() != "ApplicationReplaced" {
			t.Fatalf("SubscribeAll event %d = %s", i, ev.Type())
		}
	}
	st := c.Stats()
	if st.Events != 9 || !st.Connected || st.Malformed != 0 {
		t.Fatalf("stats = %+v", st)
	}
	sub.Close()
	sub.Close()
	if _, ok := <-sub.Events(); ok {
		t.Fatal("closed subscription still open")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-all.Events(); ok {
		t.Fatal("Close left a subscription open")
	}
}

func TestEventsMalformedCounted(t *testing.T) {
	f := newFakeEvents(t)
	c, err := New(f.config())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub := c.Subscribe("ch-1")
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	conn := f.accept(t)
	send(t, conn, `{"type":`, `not json`, `{"type":"StasisStart","channel":"oops"}`)
	if err := conn.Write(t.Context(), websocket.MessageBinary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	send(t, conn, `{"type":"NewIn2030","channel":{"id":"ch-1"}}`, dtmf("ch-1", "5"))
	if ev := next(t, sub); ev.Type() != "NewIn2030" {
		t.Fatalf("unknown event not delivered raw: %T", ev)
	} else if _, ok := ev.(*RawEvent); !ok {
		t.Fatalf("unknown event is %T", ev)
	}
	if ev := next(t, sub); ev.(*ChannelDtmfReceived).Digit != "5" {
		t.Fatal("event after malformed ones lost")
	}
	if st := c.Stats(); st.Malformed != 4 || st.Events != 2 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestEventsReconnectResync(t *testing.T) {
	checkGoroutines(t)
	f := newFakeEvents(t)
	f.live = []Channel{{ID: "ch-1", Name: "Local/echo@outcall-test-00000001;1", State: "Up"}}
	disc := make(chan error, 4)
	recon := make(chan []Channel, 4)
	cfg := f.config()
	cfg.Hooks.OnDisconnected = func(err error) { disc <- err }
	cfg.Hooks.OnReconnected = func(live []Channel) { recon <- live }
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub := c.Subscribe("ch-1")
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	conn := f.accept(t)
	send(t, conn, dtmf("ch-1", "1"))
	next(t, sub)

	// Refuse the first redials so the backoff loop runs, then drop the socket.
	f.reject.Store(http.StatusServiceUnavailable)
	conn.CloseNow()
	select {
	case <-disc:
	case <-time.After(10 * time.Second):
		t.Fatal("OnDisconnected not called")
	}
	time.Sleep(100 * time.Millisecond) // a few refused attempts at 10-40 ms backoff
	f.reject.Store(0)
	conn2 := f.accept(t)
	var live []Channel
	select {
	case live = <-recon:
	case <-time.After(10 * time.Second):
		t.Fatal("OnReconnected not called")
	}
	if len(live) != 1 || live[0].ID != "ch-1" || live[0].State != "Up" {
		t.Fatalf("live = %+v", live)
	}
	if f.listCalls.Load() != 1 {
		t.Fatalf("GET /channels called %d times", f.listCalls.Load())
	}
	send(t, conn2, dtmf("ch-1", "2"))
	if ev := next(t, sub); ev.(*ChannelDtmfReceived).Digit != "2" {
		t.Fatal("subscription lost after reconnect")
	}
	if st := c.Stats(); st.Reconnects != 1 || !st.Connected {
		t.Fatalf("stats = %+v", st)
	}
}

func TestEventsPingDetectsDeadSocket(t *testing.T) {
	checkGoroutines(t)
	f := newFakeEvents(t)
	f.deaf.Store(1) // the first connection never answers pings
	recon := make(chan struct{}, 1)
	cfg := f.config()
	cfg.PingInterval = 50 * time.Millisecond
	cfg.Hooks.OnReconnected = func([]Channel) { recon <- struct{}{} }
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.accept(t)
	f.accept(t) // the client gave up on the deaf socket and redialed
	select {
	case <-recon:
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnect after unanswered pings")
	}
}

func TestStartErrors(t *testing.T) {
	f := newFakeEvents(t)
	cfg := f.config()
	cfg.Password = "wrong"
	c, _ := New(cfg)
	defer c.Close()
	if err := c.Start(t.Context()); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("bad password: %v", err)
	}
	cfg = f.config()
	cfg.App = "other"
	c2, _ := New(cfg)
	defer c2.Close()
	var e *Error
	if err := c2.Start(t.Context()); !errors.As(err, &e) || e.Status != 400 || e.Message != "Missing app" || e.Op != "Events" {
		t.Fatalf("bad app: %v", err)
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	c3, _ := New(Config{URL: url, App: "a", RequestTimeout: time.Second})
	defer c3.Close()
	if err := c3.Start(t.Context()); err == nil {
		t.Fatal("Start to a closed port succeeded")
	}
}

func TestStartStopsWithContext(t *testing.T) {
	checkGoroutines(t)
	f := newFakeEvents(t)
	cfg := f.config()
	cfg.Hooks.OnDisconnected = func(err error) { t.Errorf("OnDisconnected(%v) on a deliberate stop", err) }
	c, _ := New(cfg)
	ctx, cancel := context.WithCancel(t.Context())
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.accept(t)
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for c.Stats().Connected {
		if time.Now().After(deadline) {
			t.Fatal("still connected after the context ended")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = c.Close()
}

func TestSlowConsumerOverflow(t *testing.T) {
	f := newFakeEvents(t)
	c, _ := New(f.config()) // EventBuffer: the default 1024
	defer c.Close()
	slow := c.SubscribeSize(4, "ch-1") // a queue of 4, as a driver gives each call
	fast := c.Subscribe("ch-1")
	other := c.Subscribe("ch-2")
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	conn := f.accept(t)
	const n = 20
	for i := range n {
		send(t, conn, dtmf("ch-1", fmt.Sprint(i%10)))
		// The fast consumer keeps up; the slow one never reads.
		next(t, fast)
	}
	send(t, conn, dtmf("ch-2", "7"))
	if ev := next(t, other); ev.(*ChannelDtmfReceived).Digit != "7" {
		t.Fatal("another call's events were held up by the slow consumer")
	}
	if got := slow.Dropped(); got != n-4 {
		t.Fatalf("slow.Dropped = %d, want %d", got, n-4)
	}
	if st := c.Stats(); st.Dropped != n-4 {
		t.Fatalf("Stats.Dropped = %d", st.Dropped)
	}
	for i := range 4 {
		if ev := next(t, slow); ev.(*ChannelDtmfReceived).Digit != fmt.Sprint(i) {
			t.Fatalf("queued event %d wrong", i)
		}
	}
	send(t, conn, dtmf("ch-1", "8"))
	ov, ok := next(t, slow).(*Overflow)
	if !ok || ov.Dropped != n-4 {
		t.Fatalf("want *Overflow{%d} first, got %+v", n-4, ov)
	}
	if ev := next(t, slow); ev.(*ChannelDtmfReceived).Digit != "8" {
		t.Fatal("event after overflow lost")
	}
	if ev := next(t, fast); ev.(*ChannelDtmfReceived).Digit != "8" {
		t.Fatal("fast consumer missed an event")
	}
}

// TestReconnectHookDoesNotBlockEvents: a reconnect hook that waits for an event (as a driver tearing down a call
// may) gets it, because events are read while hooks run.
func TestReconnectHookDoesNotBlockEvents(t *testing.T) {
	checkGoroutines(t)
	f := newFakeEvents(t)
	c, _ := New(f.config())
	defer c.Close()
	sub := c.Subscribe("ch-1")
	hookDone := make(chan string, 1)
	c.OnReconnected(func([]Channel) {
		select {
		case ev := <-sub.Events():
			hookDone <- ev.(*ChannelDtmfReceived).Digit
		case <-time.After(10 * time.Second):
			hookDone <- "timeout"
		}
	})
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.accept(t).CloseNow()
	conn := f.accept(t)
	send(t, conn, dtmf("ch-1", "9"))
	if d := <-hookDone; d != "9" {
		t.Fatalf("hook got %q", d)
	}
}
