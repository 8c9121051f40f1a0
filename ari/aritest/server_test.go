package aritest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/outcall/outcall/pkg/call"
)

func TestNewRejectsNonLoopback(t *testing.T) {
	for _, cfg := range []Config{{Addr: "0.0.0.0:0"}, {Addr: ":0"}, {MediaHost: "10.0.0.1"}} {
		if s, err := New(cfg); !errors.Is(err, ErrAddr) {
			if s != nil {
				_ = s.Close()
			}
			t.Fatalf("New(%+v) = %v, want ErrAddr", cfg, err)
		}
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{Username: "u", Password: "p"})
	get := func(path string, user, pass string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL()+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	cases := []struct {
		name, path, user, pass string
		want                   int
	}{
		{"none", "/ari/channels", "", "", 401},
		{"wrong password", "/ari/channels", "u", "x", 401},
		{"basic", "/ari/channels", "u", "p", 200},
		{"api_key", "/ari/channels?api_key=u:p", "", "", 200},
		{"bad api_key", "/ari/channels?api_key=u:x", "", "", 401},
	}
	for _, c := range cases {
		resp := get(c.path, c.user, c.pass)
		if resp.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.want)
		}
		if c.want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: WWW-Authenticate %q", c.name, resp.Header.Get("WWW-Authenticate"))
		}
	}
}

func TestEventsSocket(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	c := newClient(t, srv)
	status, body := c.do("GET", "/events", nil)
	if status != 400 || !strings.Contains(string(body), `"message"`) {
		t.Fatalf("missing app: %d %s", status, body)
	}
	first := c.events("bot")
	second := c.events("bot")
	ev := first.next(2 * time.Second)
	if ev.Type() != "ApplicationReplaced" || ev["application"] != "bot" {
		t.Fatalf("first socket got %v, want ApplicationReplaced", ev)
	}
	// The first socket is closed; the second receives the app's events.
	select {
	case _, ok := <-first.ch:
		if ok {
			t.Fatal("replaced socket got another event")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("replaced socket not closed")
	}
	c.must(200, "POST", "/channels/externalMedia?app=bot&format=ulaw&external_host=127.0.0.1:9", nil, nil)
	evs := second.until("StasisStart", 2*time.Second)
	if len(evs) != 2 || sig(evs[0]) != "ChannelStateChange:Up" {
		t.Fatalf("second socket got %v, want ChannelStateChange Up then StasisStart", evs)
	}
	ev = evs[1]
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$`).MatchString(ev["timestamp"].(string)) {
		t.Fatalf("timestamp %q not in Asterisk's format", ev["timestamp"])
	}
}

func TestRESTErrors(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	c := newClient(t, srv)
	ev := c.events("bot")
	var em Channel
	c.must(200, "POST", "/channels/externalMedia", map[string]any{"app": "bot", "format": "ulaw", "external_host": "127.0.0.1:9", "channelId": "em1"}, &em)
	ev.until("StasisStart", 2*time.Second)
	var orig Channel
	c.must(200, "POST", "/channels", map[string]any{"endpoint": "Local/noanswer@outcall-test", "app": "bot", "channelId": "ring1"}, &orig)
	c.must(200, "POST", "/bridges", map[string]any{"bridgeId": "b1"}, nil)
	cases := []struct {
		method, path string
		body         any
		status       int
		msg          string
	}{
		{"POST", "/channels", map[string]any{"app": "bot"}, 400, "Endpoint must be specified"},
		{"POST", "/channels", map[string]any{"endpoint": "Local/echo@outcall-test"}, 400, "Application or extension"},
		{"POST", "/channels", map[string]any{"endpoint": "nonsense", "app": "bot"}, 400, "tech/resource"},
		{"POST", "/channels", map[string]any{"endpoint": "Local/echo@outcall-test", "app": "bot", "channelId": "em1"}, 409, "already exists"},
		{"POST", "/channels", map[string]any{"endpoint": "Local/echo@outcall-test", "app": "bot", "channelId": "bad id!"}, 400, "Invalid channel id"},
		{"POST", "/channels", `{"endpoint":`, 400, "Error parsing"},
		{"POST", "/channels/create", map[string]any{"endpoint": "Local/echo@outcall-test"}, 400, "Application must be specified"},
		{"GET", "/channels/nope", nil, 404, "Channel not found"},
		{"DELETE", "/channels/nope", nil, 404, "Channel not found"},
		{"DELETE", "/channels/em1?reason=sideways", nil, 400, "Invalid reason"},
		{"POST", "/channels/nope/answer", nil, 404, "Channel not found"},
		{"POST", "/channels/ring1/answer", nil, 409, "not in Stasis"},
		{"POST", "/channels/nope/dial", nil, 404, "Channel not found"},
		{"POST", "/channels/em1/dial", nil, 409, "not dialable"},
		{"POST", "/channels/ring1/continue", nil, 409, "not in Stasis"},
		{"POST", "/channels/em1/play", nil, 400, "media"},
		{"POST", "/channels/ring1/play?media=sound:hello", nil, 409, "not in Stasis"},
		{"POST", "/channels/em1/record?name=r1", nil, 400, "format is required"},
		{"POST", "/channels/em1/record?name=r1&format=mp9", nil, 422, "not supported"},
		{"POST", "/channels/em1/snoop?app=bot&spy=sideways", nil, 400, "Invalid direction"},
		{"POST", "/channels/nope/snoop?app=bot&spy=in", nil, 404, "Channel not found"},
		{"POST", "/channels/externalMedia", map[string]any{"app": "bot", "format": "ulaw", "external_host": "127.0.0.1:9", "encapsulation": "rtp", "transport": "tcp"}, 400, "encapsulation/transport"},
		{"POST", "/channels/externalMedia", map[string]any{"app": "bot", "format": "ulaw", "external_host": "127.0.0.1:9", "encapsulation": "audiosocket", "transport": "tcp"}, 400, "UUID"},
		{"POST", "/channels/externalMedia", map[string]any{"app": "bot", "external_host": "127.0.0.1:9"}, 400, "format"},
		{"POST", "/channels/externalMedia", map[string]any{"app": "bot", "format": "ulaw"}, 400, "external_host"},
		{"POST", "/channels/externalMedia", map[string]any{"app": "bot", "format": "ulaw", "external_host": "127.0.0.1:9", "channelId": "em1"}, 409, "already exists"},
		{"GET", "/channels/em1/variable", nil, 400, "Variable name is required"},
		{"GET", "/channels/em1/variable?variable=NOPE", nil, 404, "not found"},
		{"GET", "/channels/nope/variable?variable=X", nil, 404, "Channel not found"},
		{"POST", "/channels/em1/dtmf", nil, 400, "DTMF is required"},
		{"POST", "/channels/ring1/dtmf?dtmf=1", nil, 409, "not in Stasis"},
		{"POST", "/bridges", map[string]any{"bridgeId": "b1"}, 409, "already exists"},
		{"POST", "/bridges?type=weird", nil, 400, "Invalid bridge type"},
		{"GET", "/bridges/nope", nil, 404, "Bridge not found"},
		{"POST", "/bridges/nope/addChannel?channel=em1", nil, 404, "Bridge not found"},
		{"POST", "/bridges/b1/addChannel", nil, 400, "Channel parameter is required"},
		{"POST", "/bridges/b1/addChannel?channel=nope", nil, 400, "Channel not found"},
		{"POST", "/bridges/b1/addChannel?channel=ring1", nil, 422, "not in Stasis"},
		{"POST", "/bridges/b1/removeChannel?channel=em1", nil, 422, "not in this bridge"},
		{"DELETE", "/playbacks/nope", nil, 404, "Playback not found"},
		{"POST", "/playbacks/nope/control?operation=pause", nil, 404, "Playback not found"},
		{"POST", "/playbacks/nope/control?operation=dance", nil, 400, "Invalid operation"},
		{"POST", "/recordings/live/nope/stop", nil, 404, "Recording not found"},
		{"GET", "/no/such/thing", nil, 404, "Resource not found"},
	}
	for _, tc := range cases {
		var body any = tc.body
		var status int
		var raw []byte
		if s, ok := tc.body.(string); ok {
			req, _ := http.NewRequest(tc.method, srv.URL()+"/ari"+tc.path, strings.NewReader(s))
			req.SetBasicAuth("asterisk", "asterisk")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]string
			_ = json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			status, raw = resp.StatusCode, []byte(`{"message":`+strconvQuote(m["message"])+`}`)
		} else {
			status, raw = c.do(tc.method, tc.path, body)
		}
		var e struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Errorf("%s %s: body %q is not {\"message\"}", tc.method, tc.path, raw)
			continue
		}
		if status != tc.status || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("%s %s: %d %q, want %d containing %q", tc.method, tc.path, status, e.Message, tc.status, tc.msg)
		}
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestRESTOperations(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	c := newClient(t, srv)
	ev := c.events("bot")
	var ch Channel
	c.must(200, "POST", "/channels/create", map[string]any{"endpoint": "Local/echo@outcall-test", "app": "bot", "channelId": "c1", "otherChannelId": "c1-2",
		"variables": map[string]any{"CAMPAIGN": "spring"}}, &ch)
	if ch.ID != "c1" || ch.State != "Down" || !strings.HasSuffix(ch.Name, ";1") || ch.ChannelVars["CAMPAIGN"] != "spring" {
		t.Fatalf("created %+v", ch)
	}
	if e := ev.next(2 * time.Second); e.Type() != "StasisStart" || chanID(e) != "c1" {
		t.Fatalf("create: %v", e)
	}
	c.must(204, "POST", "/channels/c1/dial?timeout=10", nil, nil)
	if e := ev.next(2 * time.Second); sig(e) != "Dial(1):" {
		t.Fatalf("after dial: %v", sig(e))
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		var cur Channel
		c.must(200, "GET", "/channels/c1", nil, &cur)
		if cur.State == "Up" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("channel never answered: %+v", cur)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.must(204, "POST", "/channels/c1/variable", map[string]any{"variable": "FOO", "value": "bar"}, nil)
	var v struct{ Value string }
	c.must(200, "GET", "/channels/c1/variable?variable=FOO", nil, &v)
	if v.Value != "bar" {
		t.Fatalf("variable = %q", v.Value)
	}
	c.must(204, "POST", "/channels/c1/answer", nil, nil)
	c.must(204, "POST", "/channels/c1/dtmf?dtmf=12%23", nil, nil)
	var pb Playback
	c.must(201, "POST", "/channels/c1/play/pb1?media=digits:12", nil, &pb)
	if pb.ID != "pb1" || pb.TargetURI != "channel:c1" || pb.State != "playing" {
		t.Fatalf("playback %+v", pb)
	}
	c.must(409, "POST", "/channels/c1/play/pb1?media=sound:x", nil, nil)
	evs := ev.until("PlaybackFinished", 3*time.Second)
	if !slices.ContainsFunc(evs, func(e Event) bool { return e.Type() == "PlaybackStarted" }) {
		t.Fatalf("no PlaybackStarted before PlaybackFinished: %v", evs)
	}
	c.must(201, "POST", "/channels/c1/play?media=sound:long&playbackId=pb2", nil, nil)
	c.must(204, "POST", "/playbacks/pb2/control?operation=pause", nil, nil)
	c.must(200, "GET", "/playbacks/pb2", nil, nil)
	c.must(204, "DELETE", "/playbacks/pb2", nil, nil)
	ev.until("PlaybackFinished", 2*time.Second)
	var rec LiveRecording
	c.must(201, "POST", "/channels/c1/record?name=r1&format=wav", nil, &rec)
	c.must(409, "POST", "/channels/c1/record?name=r1&format=wav", nil, nil)
	c.must(204, "POST", "/recordings/live/r1/stop", nil, nil)
	ev.until("RecordingFinished", 2*time.Second)
	var sn Channel
	c.must(200, "POST", "/channels/c1/snoop?app=bot&spy=in&snoopId=sn1", nil, &sn)
	if sn.ID != "sn1" || !strings.HasPrefix(sn.Name, "Snoop/c1") {
		t.Fatalf("snoop %+v", sn)
	}
	var b Bridge
	c.must(200, "POST", "/bridges?type=mixing&name=call", nil, &b)
	c.must(204, "POST", "/bridges/"+b.ID+"/addChannel?channel=c1", nil, nil)
	c.must(404, "POST", "/bridges/b2x/addChannel?channel=c1", nil, nil)
	c.must(200, "GET", "/bridges/"+b.ID, nil, &b)
	if len(b.Channels) != 1 || b.Channels[0] != "c1" || b.BridgeType != "mixing" {
		t.Fatalf("bridge %+v", b)
	}
	var list []Channel
	c.must(200, "GET", "/channels", nil, &list)
	if len(list) != 3 { // c1, c1-2, sn1
		t.Fatalf("GET /channels: %d channels", len(list))
	}
	c.must(204, "POST", "/bridges/"+b.ID+"/removeChannel?channel=c1", nil, nil)
	c.must(204, "DELETE", "/bridges/"+b.ID, nil, nil)
	c.must(204, "POST", "/channels/c1/continue?context=queues&extension=sales", nil, nil)
	c.must(204, "DELETE", "/channels/c1?reason=normal", nil, nil)
	rec2, ok := srv.Call("c1")
	if !ok || rec2.Outcome != call.Answered || rec2.HungUpBy != "app" || rec2.DTMFReceived != "12#" || rec2.Transfer != "queues,sales,1" {
		t.Fatalf("call record %+v", rec2)
	}
}

// originate places a call to endpoint and returns its channel id.
func originate(t *testing.T, c *client, endpoint string, extra map[string]any) string {
	t.Helper()
	body := map[string]any{"endpoint": endpoint, "app": "bot"}
	for k, v := range extra {
		body[k] = v
	}
	var ch Channel
	c.must(200, "POST", "/channels", body, &ch)
	if !regexp.MustCompile(`^\d+\.\d+$`).MatchString(ch.ID) && extra["channelId"] == nil {
		t.Fatalf("channel id %q not in Asterisk's style", ch.ID)
	}
	return ch.ID
}

func TestEventOrder(t *testing.T) {
	t.Parallel()
	cases := []struct {
		exten   string
		extra   map[string]any
		last    string
		want    []string
		outcome call.Outcome
		by      string
	}{
		{"hangup", nil, "ChannelDestroyed(1)", []string{
			"Dial(1):", "ChannelDialplan(2)", "ChannelStateChange(2):Up", "ChannelStateChange(1):Up", "Dial(1):ANSWER",
			"ChannelVarset(1):STASISSTATUS=", "StasisStart(1)",
			"ChannelHangupRequest(2):16", "ChannelHangupRequest(1):16", "ChannelDestroyed(2):16", "StasisEnd(1)",
			"ChannelVarset(1):STASISSTATUS=SUCCESS", "ChannelDestroyed(1):16",
		}, call.Answered, "callee"},
		{"busy", nil, "ChannelDestroyed(1)", []string{
			"Dial(1):", "ChannelDialplan(2)", "Dial(1):BUSY", "ChannelDestroyed(2):17", "ChannelDestroyed(1):0",
		}, call.Busy, "network"},
		{"congestion", nil, "ChannelDestroyed(1)", []string{
			"Dial(1):", "ChannelDialplan(2)", "Dial(1):CONGESTION", "ChannelDestroyed(2):34", "ChannelDestroyed(1):0",
		}, call.Congestion, "network"},
		{"noanswer", map[string]any{"timeout": 1}, "ChannelDestroyed(1)", []string{
			"Dial(1):", "ChannelDialplan(2)", "ChannelStateChange(2):Ringing", "ChannelStateChange(1):Ringing", "Dial(1):RINGING",
			"ChannelDestroyed(2):19", "ChannelDestroyed(1):19",
		}, call.NoAnswer, "timeout"},
		{"13800000000", nil, "ChannelDestroyed(1)", []string{
			"Dial(1):", "ChannelDialplan(2)", "Dial(1):CHANUNAVAIL", "ChannelDestroyed(2):1", "ChannelDestroyed(1):0",
		}, call.Unallocated, "network"},
	}
	for _, tc := range cases {
		t.Run(tc.exten, func(t *testing.T) {
			t.Parallel()
			srv := Start(t, Config{})
			c := newClient(t, srv)
			ev := c.events("bot")
			id := originate(t, c, "Local/"+tc.exten+"@outcall-test", tc.extra)
			var got []string
			for {
				e := ev.next(5 * time.Second)
				got = append(got, sig(e))
				if strings.HasPrefix(sig(e), tc.last) {
					break
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("events\n got %q\nwant %q", got, tc.want)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := srv.WaitIdle(ctx); err != nil {
				t.Fatal(err)
			}
			rec, ok := srv.Call(id)
			if !ok || rec.Outcome != tc.outcome || rec.HungUpBy != tc.by || rec.End.IsZero() {
				t.Fatalf("call record %+v, want outcome %v by %s", rec, tc.outcome, tc.by)
			}
		})
	}
}

func TestDTMFExtension(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	c := newClient(t, srv)
	ev := c.events("bot")
	id := originate(t, c, "Local/dtmf@outcall-test", nil)
	ev.until("StasisStart", 2*time.Second)
	evs := ev.until("ChannelDtmfReceived", 3*time.Second)
	d := evs[len(evs)-1]
	if d["digit"] != "1" || chanID(d) != id || d["duration_ms"] != float64(100) {
		t.Fatalf("dtmf event %v", d)
	}
	c.must(204, "DELETE", "/channels/"+id, nil, nil)
	got := ev.until("ChannelDestroyed", 2*time.Second)
	var sigs []string
	for _, e := range got {
		sigs = append(sigs, sig(e))
	}
	want := []string{"ChannelHangupRequest(1):16", "StasisEnd(1)", "ChannelVarset(1):STASISSTATUS=SUCCESS", "ChannelDestroyed(1):16"}
	if !slices.Equal(sigs, want) {
		t.Fatalf("app hangup events %q, want %q", sigs, want)
	}
	if e := got[0]; e["soft"] != true {
		t.Fatalf("app hangup request not soft: %v", e)
	}
	rec, _ := srv.Call(id)
	if rec.DTMFPressed != "1" || rec.HungUpBy != "app" || rec.Outcome != call.Answered {
		t.Fatalf("record %+v", rec)
	}
}

func TestDropEventsAndReconnect(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	c := newClient(t, srv)
	ev := c.events("bot")
	id := originate(t, c, "Local/echo@outcall-test", nil)
	ev.until("StasisStart", 2*time.Second)
	srv.DropEvents()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _, err := ev.conn.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway && err == nil {
		t.Fatalf("read after drop: %v", err)
	}
	ev2 := c.events("bot")
	var list []Channel
	c.must(200, "GET", "/channels", nil, &list)
	if !slices.ContainsFunc(list, func(ch Channel) bool { return ch.ID == id && ch.State == "Up" }) {
		t.Fatalf("call lost after dropping events: %+v", list)
	}
	c.must(204, "DELETE", "/channels/"+id, nil, nil)
	if e := ev2.next(2 * time.Second); e.Type() != "ChannelHangupRequest" || chanID(e) != id {
		t.Fatalf("after reconnect: %v", e)
	}
}

func TestOriginateWithIDArgsAndVariables(t *testing.T) {
	t.Parallel()
	srv := Start(t, Config{})
	c := newClient(t, srv)
	ev := c.events("bot")
	var ch Channel
	c.must(200, "POST", "/channels/my-call-1", map[string]any{"endpoint": "Local/echo@outcall-test", "app": "bot", "appArgs": "campaign,42",
		"otherChannelId": "my-call-1-b", "callerId": `"Bank" <4001234567>`, "variables": map[string]any{"CONTACT": "c-9"}}, &ch)
	if ch.ID != "my-call-1" || ch.Caller.Name != "Bank" || ch.Caller.Number != "4001234567" || ch.ChannelVars["CONTACT"] != "c-9" {
		t.Fatalf("originated %+v", ch)
	}
	evs := ev.until("StasisStart", 2*time.Second)
	st := evs[len(evs)-1]
	args, _ := st["args"].([]any)
	if chanID(st) != "my-call-1" || len(args) != 2 || args[0] != "campaign" || args[1] != "42" {
		t.Fatalf("StasisStart %v", st)
	}
	if !slices.ContainsFunc(evs, func(e Event) bool { return chanID(e) == "my-call-1-b" }) {
		t.Fatal("no event for the ;2 half with otherChannelId")
	}
	c.must(409, "POST", "/channels/my-call-1", map[string]any{"endpoint": "Local/echo@outcall-test", "app": "bot"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.WaitIdle(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitIdle with a live echo call: %v", err)
	}
}
