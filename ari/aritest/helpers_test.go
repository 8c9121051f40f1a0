package aritest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// client is a raw ARI client for tests: plain HTTP and a coder/websocket events socket.
type client struct {
	t   testing.TB
	srv *Server
}

func newClient(t testing.TB, srv *Server) *client { return &client{t: t, srv: srv} }

// do sends an ARI request; body (if non-nil) is JSON-encoded. It returns the status and the raw reply.
func (c *client) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.srv.URL()+"/ari"+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.SetBasicAuth(c.srv.Username(), c.srv.Password())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// must sends a request and fails the test unless the status is want; it decodes the reply into out if non-nil.
func (c *client) must(want int, method, path string, body, out any) {
	c.t.Helper()
	status, b := c.do(method, path, body)
	if status != want {
		c.t.Fatalf("%s %s: status %d (%s), want %d", method, path, status, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: decoding %s: %v", method, path, b, err)
		}
	}
}

// events is an events WebSocket opened by a test.
type events struct {
	t    testing.TB
	conn *websocket.Conn
	ch   chan Event
}

func (c *client) events(app string) *events {
	c.t.Helper()
	u := strings.Replace(c.srv.URL(), "http://", "ws://", 1) + "/ari/events?app=" + url.QueryEscape(app) + "&api_key=" + url.QueryEscape(c.srv.Username()+":"+c.srv.Password())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{"ari"}})
	if err != nil {
		c.t.Fatalf("dial events: %v", err)
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != "ari" {
		c.t.Fatalf("subprotocol %q, want ari", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	e := &events{t: c.t, conn: conn, ch: make(chan Event, 1000)}
	go func() {
		defer close(e.ch)
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			var ev Event
			if err := json.Unmarshal(b, &ev); err != nil {
				c.t.Errorf("bad event %s: %v", b, err)
				return
			}
			e.ch <- ev
		}
	}()
	c.t.Cleanup(func() { _ = conn.CloseNow() })
	return e
}

// next returns the next event, failing after d.
func (e *events) next(d time.Duration) Event {
	e.t.Helper()
	select {
	case ev, ok := <-e.ch:
		if !ok {
			e.t.Fatal("events socket closed")
		}
		return ev
	case <-time.After(d):
		e.t.Fatal("no event within", d)
	}
	return nil
}

// until returns events up to and including the first of type typ.
func (e *events) until(typ string, d time.Duration) []Event {
	e.t.Helper()
	var out []Event
	deadline := time.Now().Add(d)
	for {
		ev := e.next(time.Until(deadline))
		out = append(out, ev)
		if ev.Type() == typ {
			return out
		}
	}
}

// sig summarises an event as "Type(channel-suffix)[detail]" for order assertions.
func sig(ev Event) string {
	s := ev.Type()
	ch, ok := ev["channel"].(map[string]any)
	if !ok {
		ch, ok = ev["peer"].(map[string]any)
	}
	if ok {
		name, _ := ch["name"].(string)
		if i := strings.LastIndexByte(name, ';'); i >= 0 {
			s += "(" + name[i+1:] + ")"
		}
		if ev.Type() == "ChannelStateChange" {
			s += ":" + ch["state"].(string)
		}
	}
	switch ev.Type() {
	case "Dial":
		s += ":" + ev["dialstatus"].(string)
	case "ChannelDestroyed", "ChannelHangupRequest":
		s += ":" + jsonNum(ev["cause"])
	case "ChannelVarset":
		s += ":" + ev["variable"].(string) + "=" + ev["value"].(string)
	}
	return s
}

func jsonNum(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func chanID(ev Event) string {
	ch, _ := ev["channel"].(map[string]any)
	id, _ := ch["id"].(string)
	return id
}

// tone returns n samples of a sine at hz, rate rate, amplitude amp, starting at sample offset off.
func tone(hz float64, rate, n, off int, amp float64) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(amp * math.Sin(2*math.Pi*hz*float64(i+off)/float64(rate)))
	}
	return s
}

// goertzel returns the power of frequency hz in s relative to the signal's total power (0..1).
func goertzel(s []int16, hz float64, rate int) float64 {
	w := 2 * math.Pi * hz / float64(rate)
	coeff := 2 * math.Cos(w)
	var q1, q2, total float64
	for _, v := range s {
		x := float64(v)
		total += x * x
		q0 := coeff*q1 - q2 + x
		q2, q1 = q1, q0
	}
	if total == 0 {
		return 0
	}
	p := q1*q1 + q2*q2 - coeff*q1*q2
	return p / (total * float64(len(s)) / 2)
}

// stasis waits for the StasisStart of every channel in ids, in any order, skipping other events.
func (e *events) stasis(ids ...string) {
	e.t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	deadline := time.Now().Add(3 * time.Second)
	for len(want) > 0 {
		evs := e.until("StasisStart", time.Until(deadline))
		delete(want, chanID(evs[len(evs)-1]))
	}
}
