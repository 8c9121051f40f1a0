package driver

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
)

// wsPeer is a hand-driven chan_websocket on 127.0.0.1: the test writes Asterisk's side and sees what the media
// sends.
type wsPeer struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan wsMsg
}

type wsMsg struct {
	typ websocket.MessageType
	b   []byte
}

// newWSPeer starts a server for /media/conn-1 and a media connected to it, after the peer's MEDIA_START.
func newWSPeer(t *testing.T) (*wsPeer, *mediaWebSocket, *ariCall) {
	t.Helper()
	accepted := make(chan *websocket.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/media/conn-1" {
			http.NotFound(w, r)
			return
		}
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"media"}})
		if err != nil {
			return
		}
		conn.SetReadLimit(1 << 20)
		accepted <- conn
	}))
	t.Cleanup(srv.Close)
	client, err := ari.New(ari.Config{URL: srv.URL, App: "ws-test"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(client, Config{Transport: TransportWebSocket})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(); client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := client.DialMedia(ctx, "conn-1")
	if err != nil {
		t.Fatal(err)
	}
	p := &wsPeer{t: t, conn: <-accepted, msgs: make(chan wsMsg, 1000)}
	t.Cleanup(func() { _ = p.conn.CloseNow() })
	p.text("MEDIA_START connection_id:conn-1 channel:WebSocket/INCOMING/0x1 channel_id:em-1 format:ulaw optimal_frame_size:160 ptime:20")
	start, err := readMediaStart(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	c := &ariCall{log: zerolog.Nop(), events: make(chan call.Event, 16)}
	m, err := newMediaWebSocketConn(d, c, conn, start)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.close(call.ErrHungUp) })
	go func() {
		defer close(p.msgs)
		for {
			typ, b, err := p.conn.Read(context.Background())
			if err != nil {
				return
			}
			p.msgs <- wsMsg{typ, b}
		}
	}()
	return p, m, c
}

func (p *wsPeer) text(s string) {
	p.t.Helper()
	if err := p.conn.Write(context.Background(), websocket.MessageText, []byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

// next returns the next message the media sent.
func (p *wsPeer) next() wsMsg {
	p.t.Helper()
	select {
	case m, ok := <-p.msgs:
		if !ok {
			p.t.Fatal("media connection closed")
		}
		return m
	case <-time.After(5 * time.Second):
		p.t.Fatal("nothing from the media within 5s")
	}
	return wsMsg{}
}

func waitUntil(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func toneFrame(i int) []int16 {
	s := make([]int16, 160)
	for k := range s {
		s[k] = int16(8000 * math.Sin(2*math.Pi*1000*float64(i*160+k)/8000))
	}
	return s
}

// TestMediaWebSocketWire checks the media against a raw chan_websocket peer: frames are held while the peer says
// MEDIA_XOFF and sent in whole optimal frames after MEDIA_XON; Flush sends FLUSH_MEDIA; the callee's frames come
// out of Read, which keeps its pace through gaps; bad TEXT messages are counted and skipped; a DTMF_END that no ARI
// event covers becomes a call event; a close with 1000 ends Read with ErrHungUp.
func TestMediaWebSocketWire(t *testing.T) {
	p, m, c := newWSPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	p.text("MEDIA_XOFF")
	waitUntil(t, "XOFF seen", m.xoff.Load)
	for i := range 10 {
		if err := m.Write(ctx, audio.Frame{Rate: 8000, Samples: toneFrame(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "frames handed to the writer", func() bool { return m.out.Stats().Sent == 10 && len(m.wq) == 0 })
	select {
	case msg := <-p.msgs:
		t.Fatalf("sent a %d-byte %v message during XOFF", len(msg.b), msg.typ)
	default:
	}
	p.text("MEDIA_XON")
	got := 0
	for got < 1600 {
		msg := p.next()
		if msg.typ != websocket.MessageBinary || len(msg.b)%160 != 0 {
			t.Fatalf("%v message of %d bytes, want binary multiples of 160", msg.typ, len(msg.b))
		}
		got += len(msg.b)
	}
	if got != 1600 {
		t.Fatalf("%d bytes after XON, want 1600", got)
	}
	waitUntil(t, "write accounted", func() bool { return m.sent.Load() == int64(200*time.Millisecond) })
	if played := m.Flush(); played != 200*time.Millisecond {
		t.Fatalf("Flush reported %v, want the 200ms written", played)
	}
	if msg := p.next(); msg.typ != websocket.MessageText || string(msg.b) != "FLUSH_MEDIA" {
		t.Fatalf("after Flush: %v %q, want FLUSH_MEDIA", msg.typ, msg.b)
	}

	// Callee → bot, with bad TEXT messages in between, then a 300 ms gap.
	go func() {
		for i := range 40 {
			if i == 10 {
				_ = p.conn.Write(context.Background(), websocket.MessageText, []byte("no such thing ::"))
				_ = p.conn.Write(context.Background(), websocket.MessageText, []byte(`{"event":`))
			}
			if i == 20 {
				time.Sleep(300 * time.Millisecond)
			}
			b := audio.EncodeULaw(nil, toneFrame(i))
			if p.conn.Write(context.Background(), websocket.MessageBinary, b) != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	tone := 0
	for i := 0; i < 100 && tone < 30; i++ {
		f, err := m.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Samples) != 160 {
			t.Fatalf("frame of %d samples", len(f.Samples))
		}
		if goertzelShare(f.Samples, 1000, 8000) > 0.5 {
			tone++
		}
	}
	if tone < 30 {
		t.Fatalf("%d tone frames read, want >= 30 of the 40 sent", tone)
	}
	if n := m.badText.Load(); n != 2 {
		t.Fatalf("%d bad TEXT messages counted, want 2", n)
	}

	p.text("DTMF_END digit:5 channel_id:em-1")
	select {
	case ev := <-c.events:
		if ev.Type != call.EventDTMF || ev.Digit != '5' {
			t.Fatalf("event %+v, want DTMF 5", ev)
		}
	case <-ctx.Done():
		t.Fatal("DTMF_END not reported")
	}

	if err := p.conn.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	<-m.readDone
	if code := m.closeStatus.Load(); code != int32(websocket.StatusNormalClosure) {
		t.Fatalf("close status %d, want 1000", code)
	}
	for {
		if _, err := m.Read(ctx); err != nil {
			if !errors.Is(err, call.ErrHungUp) {
				t.Fatalf("read after close: %v, want ErrHungUp", err)
			}
			break
		}
	}
	// Teardown ends every goroutine of the media.
	m.close(call.ErrHungUp)
	ended := make(chan struct{})
	go func() { m.wg.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-ctx.Done():
		t.Fatal("media goroutines still running after close")
	}
}

// goertzelShare is the share of a frame's energy at freq.
func goertzelShare(s []int16, freq float64, rate int) float64 {
	w := 2 * math.Pi * freq / float64(rate)
	coeff := 2 * math.Cos(w)
	var s1, s2, total float64
	for _, v := range s {
		x := float64(v)
		total += x * x
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	if total == 0 {
		return 0
	}
	return 2 * (s1*s1 + s2*s2 - coeff*s1*s2) / (float64(len(s)) * total)
}
