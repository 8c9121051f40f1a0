package aritest

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/outcall/outcall/pkg/audio"
)

// wsMedia creates a chan_websocket ExternalMedia channel with id and returns it.
func wsMedia(t *testing.T, c *client, id, format string) Channel {
	t.Helper()
	var em Channel
	c.must(200, "POST", "/channels/externalMedia", map[string]any{"app": "bot", "format": format, "external_host": "INCOMING",
		"encapsulation": "none", "transport": "websocket", "connection_type": "server", "channelId": id}, &em)
	return em
}

// dialMedia connects to /media/<connID> with subprotocol media.
func dialMedia(t *testing.T, srv *Server, connID string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := strings.Replace(srv.URL(), "http://", "ws://", 1) + "/media/" + connID
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{"media"}})
	if err == nil {
		conn.SetReadLimit(1 << 20)
		t.Cleanup(func() { _ = conn.CloseNow() })
	}
	return conn, resp, err
}

// nextText returns the next TEXT message, skipping audio.
func nextText(t *testing.T, conn *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		typ, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for a TEXT message: %v", err)
		}
		if typ == websocket.MessageText {
			return string(b)
		}
	}
}

func sendText(t *testing.T, conn *websocket.Conn, s string) {
	t.Helper()
	if err := conn.Write(context.Background(), websocket.MessageText, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

func TestWebSocketMediaEchoAndHangup(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	c := newClient(t, srv)
	ev := c.events("bot")
	id := originate(t, c, "Local/echo@outcall-test", nil)
	ev.stasis(id)
	em := wsMedia(t, c, "ws1", "ulaw")
	connID := em.ChannelVars["MEDIA_WEBSOCKET_CONNECTION_ID"]
	if len(connID) != 36 || em.ChannelVars["MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE"] != "160" {
		t.Fatalf("channelvars %v", em.ChannelVars)
	}
	if !strings.HasPrefix(em.Name, "WebSocket/") || em.State != "Down" {
		t.Fatalf("channel %q in state %s", em.Name, em.State)
	}
	// Not in Stasis before the app connects: it cannot be bridged yet.
	c.must(200, "POST", "/bridges?bridgeId=wsb", nil, nil)
	c.must(422, "POST", "/bridges/wsb/addChannel?channel=ws1", nil, nil)
	if _, resp, err := dialMedia(t, srv, "not-a-connection"); err == nil || resp == nil || resp.StatusCode != 404 {
		t.Fatalf("unknown connection id: %v (%v), want 404", err, resp)
	}

	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	u := strings.Replace(srv.URL(), "http://", "ws://", 1) + "/media/" + connID
	if _, resp, err := websocket.Dial(dctx, u, nil); err == nil || resp == nil || resp.StatusCode != 400 {
		t.Fatalf("connection without subprotocol media: %v, want 400", err)
	}
	conn, _, err := dialMedia(t, srv, connID)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("MEDIA_START connection_id:%s channel:%s channel_id:ws1 format:ulaw optimal_frame_size:160 ptime:20", connID, em.Name)
	if got := nextText(t, conn); got != want {
		t.Fatalf("first message %q, want %q", got, want)
	}
	ev.stasis("ws1")
	if _, resp, err := dialMedia(t, srv, connID); err == nil || resp == nil || resp.StatusCode != 409 {
		t.Fatalf("second connection: %v, want 409", err)
	}
	c.must(204, "POST", "/bridges/wsb/addChannel?channel="+id+",ws1", nil, nil)

	go func() {
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for i := range 50 {
			b := audio.EncodeULaw(nil, tone(1000, 8000, 160, i*160, 8000))
			if conn.Write(context.Background(), websocket.MessageBinary, b) != nil {
				return
			}
			<-tk.C
		}
	}()
	var pcm []int16
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for len(pcm) < 40*160 {
		typ, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("after %d samples: %v", len(pcm), err)
		}
		if typ != websocket.MessageBinary {
			continue
		}
		if len(b) != 160 {
			t.Fatalf("audio message of %d bytes, want 160", len(b))
		}
		pcm = append(pcm, audio.DecodeULaw(nil, b)...)
	}
	if p := goertzel(pcm[1600:6000], 1000, 8000); p < 0.8 {
		t.Fatalf("1 kHz holds %.2f of the echoed power", p)
	}
	// Every frame read was counted going out (the counter may trail the socket by a moment) and was an echo of
	// one that came in.
	for st := srv.Stats(); st.WebSocketIn < 40 || st.WebSocketOut < 40; st = srv.Stats() {
		if ctx.Err() != nil {
			t.Fatalf("stats %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Hanging the channel up closes the socket with 1000.
	c.must(204, "DELETE", "/channels/ws1", nil, nil)
	for {
		_, _, err := conn.Read(ctx)
		if err != nil {
			if code := websocket.CloseStatus(err); code != websocket.StatusNormalClosure {
				t.Fatalf("after hangup: %v (status %d), want close 1000", err, code)
			}
			break
		}
	}
}

func TestWebSocketQueueCommands(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	c := newClient(t, srv)
	ev := c.events("bot")
	em := wsMedia(t, c, "wsq", "ulaw")
	conn, _, err := dialMedia(t, srv, em.ChannelVars["MEDIA_WEBSOCKET_CONNECTION_ID"])
	if err != nil {
		t.Fatal(err)
	}
	if got := nextText(t, conn); !strings.HasPrefix(got, "MEDIA_START ") {
		t.Fatalf("first message %q", got)
	}
	ev.stasis("wsq")
	sendText(t, conn, "PAUSE_MEDIA")
	sendText(t, conn, "GET_STATUS")
	if got := nextText(t, conn); got != "STATUS channel_id:wsq queue_length:0 xon_level:800 xoff_level:900 queue_full:false bulk_media:false media_paused:true" {
		t.Fatalf("status %q", got)
	}
	chunk := make([]byte, 400*160) // 400 frames, under the 65500-byte message limit
	for range 3 {
		if err := conn.Write(context.Background(), websocket.MessageBinary, chunk); err != nil {
			t.Fatal(err)
		}
	}
	if got := nextText(t, conn); got != "MEDIA_XOFF" {
		t.Fatalf("after 1200 queued frames: %q, want MEDIA_XOFF", got)
	}
	// The queue is full: a further message is ignored.
	if err := conn.Write(context.Background(), websocket.MessageBinary, chunk); err != nil {
		t.Fatal(err)
	}
	sendText(t, conn, "GET_STATUS")
	if got := nextText(t, conn); !strings.Contains(got, "queue_length:1200 ") || !strings.Contains(got, "queue_full:true") {
		t.Fatalf("status %q", got)
	}
	sendText(t, conn, "FLUSH_MEDIA")
	sendText(t, conn, "MARK_MEDIA after-flush")
	sendText(t, conn, "REPORT_QUEUE_DRAINED")
	sendText(t, conn, "CONTINUE_MEDIA")
	for i, want := range []string{"MEDIA_XON", "MEDIA_MARK_PROCESSED after-flush", "QUEUE_DRAINED"} {
		if got := nextText(t, conn); got != want {
			t.Fatalf("notification %d: %q, want %q", i, got, want)
		}
	}
	before := srv.Stats().WebSocketBad
	sendText(t, conn, "NO_SUCH_COMMAND")
	sendText(t, conn, strings.Repeat("X", 200))
	sendText(t, conn, "GET_STATUS") // still served after bad commands
	if got := nextText(t, conn); !strings.HasPrefix(got, "STATUS channel_id:wsq queue_length:0 ") {
		t.Fatalf("status %q", got)
	}
	if n := srv.Stats().WebSocketBad - before; n != 2 {
		t.Fatalf("%d bad commands counted, want 2", n)
	}
	// HANGUP from the app hangs the channel up; the socket closes with 1000.
	sendText(t, conn, "HANGUP")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, _, err := conn.Read(ctx); err != nil {
			if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Fatalf("after HANGUP: %v, want close 1000", err)
			}
			break
		}
	}
	ev.until("ChannelDestroyed", 3*time.Second)
}

func TestWebSocketExternalMediaErrors(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	c := newClient(t, srv)
	for _, tc := range []struct {
		name string
		body map[string]any
	}{
		{"none over udp", map[string]any{"encapsulation": "none", "transport": "udp", "external_host": "127.0.0.1:9"}},
		{"rtp over websocket", map[string]any{"encapsulation": "rtp", "transport": "websocket", "external_host": "INCOMING", "connection_type": "server"}},
		{"client connection", map[string]any{"encapsulation": "none", "transport": "websocket", "external_host": "my_ws_client", "connection_type": "client"}},
		{"server with a host", map[string]any{"encapsulation": "none", "transport": "websocket", "external_host": "127.0.0.1:9", "connection_type": "server"}},
		{"unknown format", map[string]any{"encapsulation": "none", "transport": "websocket", "external_host": "INCOMING", "connection_type": "server", "format": "opus"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.body["app"] = "bot"
			if tc.body["format"] == nil {
				tc.body["format"] = "ulaw"
			}
			if status, b := c.do("POST", "/channels/externalMedia", tc.body); status != 400 || !strings.Contains(string(b), `"message"`) {
				t.Fatalf("status %d %s, want 400", status, b)
			}
		})
	}
}

func TestWebSocketDTMFEnd(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	c := newClient(t, srv)
	ev := c.events("bot")
	id := originate(t, c, "Local/dtmf@outcall-test", nil)
	ev.stasis(id)
	em := wsMedia(t, c, "wsd", "slin16")
	if em.ChannelVars["MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE"] != "640" {
		t.Fatalf("channelvars %v", em.ChannelVars)
	}
	conn, _, err := dialMedia(t, srv, em.ChannelVars["MEDIA_WEBSOCKET_CONNECTION_ID"])
	if err != nil {
		t.Fatal(err)
	}
	if got := nextText(t, conn); !strings.HasSuffix(got, " channel_id:wsd format:slin16 optimal_frame_size:640 ptime:20") {
		t.Fatalf("first message %q", got)
	}
	ev.stasis("wsd")
	c.must(200, "POST", "/bridges?bridgeId=wsdb", nil, nil)
	c.must(204, "POST", "/bridges/wsdb/addChannel?channel="+id+",wsd", nil, nil)
	if got := nextText(t, conn); got != "DTMF_END digit:1 channel_id:wsd" {
		t.Fatalf("got %q, want DTMF_END of digit 1", got)
	}
}

func TestWebSocketCloseLeavesNoGoroutines(t *testing.T) {
	srv, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv)
	ev := c.events("bot")
	id := originate(t, c, "Local/echo@outcall-test", nil)
	ev.stasis(id)
	em := wsMedia(t, c, "wsl", "ulaw")
	wsMedia(t, c, "wsl-unconnected", "ulaw") // never connected: closing it must not wait for anything
	conn, _, err := dialMedia(t, srv, em.ChannelVars["MEDIA_WEBSOCKET_CONNECTION_ID"])
	if err != nil {
		t.Fatal(err)
	}
	ev.stasis("wsl")
	c.must(200, "POST", "/bridges?bridgeId=wslb", nil, nil)
	c.must(204, "POST", "/bridges/wslb/addChannel?channel="+id+",wsl", nil, nil)
	closed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := conn.Read(context.Background()); err != nil {
				closed <- err
				return
			}
		}
	}()
	owners := []string{"aritest.(*Server)", "aritest.(*wsLeg)"}
	running := func() []string {
		out := serverGoroutines()
		for _, g := range allGoroutines() {
			if strings.Contains(g, owners[1]) && !strings.Contains(g, owners[0]) {
				out = append(out, g)
			}
		}
		return out
	}
	if len(running()) == 0 {
		t.Fatal("no simulator goroutines while running: the leak check would prove nothing")
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	// The socket must end. A hang-up closes it with 1000 (checked above); at a whole-server shutdown the close
	// handshake may lose the race with the listener closing, as an Asterisk shutdown would, so a dropped
	// connection is accepted here too.
	select {
	case err := <-closed:
		if code := websocket.CloseStatus(err); code != websocket.StatusNormalClosure && code != -1 {
			t.Fatalf("media socket ended with %v, want close 1000 or a dropped connection", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("media socket still open after Close")
	}
	deadline := time.Now().Add(time.Second)
	for len(running()) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := running(); len(g) > 0 {
		t.Fatalf("%d simulator goroutines after Close:\n%s", len(g), strings.Join(g, "\n\n"))
	}
}

func allGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Split(string(buf), "\n\n")
}
