package faulttest

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/ari"
)

// The hostile-ARI suite: an httptest server on 127.0.0.1 that answers the REST client and the events WebSocket
// with what a broken or malicious Asterisk (or a proxy in front of it) could send. Each case checks the error is
// clear, the call returns within the configured timeout, and the heap grows by a bounded amount.

// hostileTimeout is the RequestTimeout of the clients under test; hangBound is how long a call may take past it on
// a loaded machine before the test calls it a hang (a hostile server in these cases keeps going for a minute).
const (
	hostileTimeout = 500 * time.Millisecond
	hangBound      = hostileTimeout + 5*time.Second
	hostileForever = time.Minute
)

// allocated runs f and returns the bytes it (and anything else running) allocated on the heap meanwhile.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// trickle writes b one byte at a time every gap until r's request ends, or hostileForever.
func trickle(w http.ResponseWriter, r *http.Request, b []byte, gap time.Duration) {
	fl, _ := w.(http.Flusher)
	end := time.After(hostileForever)
	for i := 0; ; i = (i + 1) % len(b) {
		if _, err := w.Write(b[i : i+1]); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-end:
			return
		case <-time.After(gap):
		}
	}
}

// hugeBody writes n bytes of a JSON array of channels that never closes, from one reused buffer.
func hugeBody(w http.ResponseWriter, n int) {
	chunk := []byte(strings.Repeat(`{"id":"1700000000.1","name":"PJSIP/x"},`, 1024))
	_, _ = w.Write([]byte("["))
	for sent := 0; sent < n; sent += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

func TestHostileARIREST(t *testing.T) {
	const hundredMB = 100 << 20
	cases := []struct {
		name     string
		handler  http.HandlerFunc
		call     func(context.Context, *ari.Client) error
		want     error  // errors.Is target, or nil to check wantText only
		wantText string // substring of the error
		maxAlloc uint64 // bytes the call may allocate
	}{
		{name: "malformed JSON", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `[{"id": "1", "name": `)
		}, call: listChannels, wantText: "decoding response", maxAlloc: 1 << 20},
		{name: "JSON of the wrong shape", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"id": 12, "state": ["Up"]}`)
		}, call: listChannels, wantText: "decoding response", maxAlloc: 1 << 20},
		{name: "500 with an HTML page", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "<html>"+strings.Repeat("oops ", 100000)+"</html>")
		}, call: listChannels, want: ari.ErrServer, maxAlloc: 2 << 20},
		{name: "418 with no body", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
		}, call: listChannels, wantText: "418", maxAlloc: 1 << 20},
		{name: "redirect loop", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		}, call: listChannels, wantText: "redirects", maxAlloc: 2 << 20},
		{name: "100 MB body without Content-Length", handler: func(w http.ResponseWriter, r *http.Request) {
			hugeBody(w, hundredMB)
		}, call: listChannels, want: ari.ErrResponseTooLarge, maxAlloc: 48 << 20}, // 8 MiB read by doubling (~20 MB; ~41 MB with -race under load), not 100
		{name: "100 MB body with Content-Length", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "104857601")
			hugeBody(w, hundredMB)
		}, call: listChannels, want: ari.ErrResponseTooLarge, maxAlloc: 2 << 20},
		{name: "100 MB body to a call without a result", handler: func(w http.ResponseWriter, r *http.Request) {
			hugeBody(w, hundredMB)
		}, call: answer, want: ari.ErrResponseTooLarge, maxAlloc: 2 << 20},
		{name: "100 MB error body", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			hugeBody(w, hundredMB)
		}, call: listChannels, want: ari.ErrServer, maxAlloc: 2 << 20},
		{name: "headers never sent", handler: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(hostileForever):
			}
		}, call: listChannels, want: context.DeadlineExceeded, maxAlloc: 1 << 20},
		{name: "body one byte every 50 ms", handler: func(w http.ResponseWriter, r *http.Request) {
			trickle(w, r, []byte(`[{"id":"1","name":"PJSIP/x"},`), 50*time.Millisecond)
		}, call: listChannels, want: context.DeadlineExceeded, maxAlloc: 1 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			c, err := ari.New(ari.Config{URL: srv.URL, App: "hostile", RequestTimeout: hostileTimeout, ProbeInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var callErr error
			start := time.Now()
			alloc := allocated(func() { callErr = tc.call(context.Background(), c) })
			took := time.Since(start)
			t.Logf("error %q after %v, %.1f MB allocated", callErr, took.Round(time.Millisecond), float64(alloc)/(1<<20))
			switch {
			case callErr == nil:
				t.Fatal("no error")
			case tc.want != nil && !errors.Is(callErr, tc.want):
				t.Errorf("error %v is not %v", callErr, tc.want)
			case tc.wantText != "" && !strings.Contains(callErr.Error(), tc.wantText):
				t.Errorf("error %q does not say %q", callErr, tc.wantText)
			}
			if took > hangBound {
				t.Errorf("the call took %v with a RequestTimeout of %v", took, hostileTimeout)
			}
			if alloc > tc.maxAlloc {
				t.Errorf("the call allocated %d bytes, more than %d", alloc, tc.maxAlloc)
			}
		})
	}
}

func listChannels(ctx context.Context, c *ari.Client) error {
	_, err := c.ListChannels(ctx)
	return err
}

func answer(ctx context.Context, c *ari.Client) error { return c.Answer(ctx, "1700000000.1") }

// wsAccept is the Sec-WebSocket-Accept of key (RFC 6455 section 4.2.2).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// rawUpgrade completes the WebSocket handshake by hand and hands the raw connection to f, so a case can send
// bytes no WebSocket library would.
func rawUpgrade(w http.ResponseWriter, r *http.Request, f func(rw io.ReadWriter)) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "no hijack", http.StatusInternalServerError)
		return
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer nc.Close()
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Protocol: ari\r\nSec-WebSocket-Accept: " + wsAccept(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n")
	_ = brw.Flush()
	stop := context.AfterFunc(r.Context(), func() { nc.Close() })
	defer stop()
	f(nc)
}

// frame is an unmasked server-to-client WebSocket frame with opcode op (FIN set) and payload p.
func frame(op byte, p []byte) []byte {
	b := []byte{0x80 | op}
	switch n := len(p); {
	case n < 126:
		b = append(b, byte(n))
	case n < 1<<16:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, p...)
}

// drain reads the client's frames (pings, closes) until the connection ends, so the client is never blocked.
func drain(rw io.Reader) { _, _ = io.Copy(io.Discard, rw) }

const validEvent = `{"type":"StasisStart","application":"hostile","timestamp":"2026-12-03T12:00:00.000+0000",` +
	`"channel":{"id":"ok-1","name":"PJSIP/x","state":"Up"}}`

func TestHostileARIEvents(t *testing.T) {
	cases := []struct {
		name  string
		serve func(rw io.ReadWriter)
		// delivered: the valid event sent after the garbage reaches the subscription on the same socket;
		// otherwise the client must drop the socket and reconnect.
		delivered bool
	}{
		{name: "garbage text and binary frames", delivered: true, serve: func(rw io.ReadWriter) {
			for _, f := range [][]byte{frame(1, []byte("not json")), frame(1, []byte(`{"type":`)), frame(1, []byte(`[]`)),
				frame(1, []byte(`{"type":"StasisStart","channel":"x"}`)), frame(2, []byte{0, 1, 2, 0xff}),
				frame(1, []byte("\xff\xfe invalid utf-8")), frame(1, []byte(validEvent))} {
				if _, err := rw.Write(f); err != nil {
					return
				}
			}
			drain(rw)
		}},
		{name: "reserved opcode", serve: func(rw io.ReadWriter) {
			_, _ = rw.Write(frame(0x3, []byte("x")))
			drain(rw)
		}},
		{name: "junk bytes instead of frames", serve: func(rw io.ReadWriter) {
			_, _ = rw.Write([]byte("\x00\x00HTTP/1.1 200 OK\r\n\r\n" + strings.Repeat("\xff", 4096)))
			drain(rw)
		}},
		{name: "frame header claiming 2^62 bytes", serve: func(rw io.ReadWriter) {
			_, _ = rw.Write([]byte{0x81, 127, 0x40, 0, 0, 0, 0, 0, 0, 0, '{'})
			drain(rw)
		}},
		{name: "8 MB text message", serve: func(rw io.ReadWriter) {
			_, _ = rw.Write(frame(1, []byte(`{"type":"StasisStart","x":"`+strings.Repeat("a", 8<<20)+`"}`)))
			drain(rw)
		}},
		{name: "frame trickled one byte every 50 ms, pongs never sent", serve: func(rw io.ReadWriter) {
			f := frame(1, []byte(validEvent))
			for i := 0; i < len(f); i++ {
				if _, err := rw.Write(f[i : i+1]); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond) // the hostile server's pace, not the test's synchronisation
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { hostileEvents(t, tc.serve, tc.delivered) })
	}
}

// hostileEvents serves the first events socket with serve and every later one with a well-behaved socket that
// sends validEvent, then checks the client either delivered validEvent on the first socket or reconnected, and
// that Close leaves no goroutine behind.
func hostileEvents(t *testing.T, serve func(rw io.ReadWriter), delivered bool) {
	base := runtime.NumGoroutine()
	conns := make(chan int, 16)
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ari/channels":
			_, _ = io.WriteString(w, "[]")
		case "/ari/events":
			n++
			conns <- n
			if n == 1 {
				rawUpgrade(w, r, serve)
				return
			}
			rawUpgrade(w, r, func(rw io.ReadWriter) {
				_, _ = rw.Write(frame(1, []byte(validEvent)))
				drain(rw)
			})
		default:
			http.NotFound(w, r)
		}
	}))
	reconnected := make(chan struct{}, 1)
	c, err := ari.New(ari.Config{URL: srv.URL, App: "hostile", RequestTimeout: hostileTimeout, ProbeInterval: -1,
		PingInterval: 200 * time.Millisecond, ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond,
		Hooks: ari.Hooks{OnReconnected: func([]ari.Channel) {
			select {
			case reconnected <- struct{}{}:
			default:
			}
		}}})
	if err != nil {
		t.Fatal(err)
	}
	sub := c.SubscribeAll()
	start := time.Now()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-sub.Events():
		if _, ok := ev.(*ari.StasisStart); !ok {
			t.Fatalf("first event %T, want the valid StasisStart", ev)
		}
	case <-time.After(hangBound):
		t.Fatalf("no event within %v", hangBound)
	}
	st := c.Stats()
	t.Logf("valid event after %v; stats %+v", time.Since(start).Round(time.Millisecond), st)
	if delivered && st.Reconnects != 0 {
		t.Errorf("the client reconnected (%d) instead of skipping the bad messages", st.Reconnects)
	}
	if delivered && st.Malformed == 0 {
		t.Error("no malformed message counted")
	}
	if !delivered {
		select {
		case <-reconnected:
		case <-time.After(hangBound):
			t.Fatalf("no reconnect within %v", hangBound)
		}
	}
	c.Close()
	srv.Close()
	waitGoroutines(t, base)
}

// waitGoroutines fails the test if the goroutine count does not come back to base (plus the runtime's own slack)
// within hangBound; it waits on the count, checking it as goroutines end.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(hangBound)
	for {
		n := runtime.NumGoroutine()
		if n <= base+1 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
}
