package esltest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/esl"
)

// playbackEvent is "START <file>" or "STOP <file> <status>".
func playbackEvent(ev *esl.Event) string {
	f := ev.Get("Playback-File-Path")
	f = f[strings.LastIndexByte(f, '/')+1:]
	if ev.Name() == "PLAYBACK_START" {
		return "START " + f
	}
	return "STOP " + f + " " + ev.Get("Playback-Status")
}

// TestBroadcastPlayback drives the fake's uuid_broadcast: WAVs fetched by HTTP and played in real time into the
// callee one after another with PLAYBACK_START/STOP, a failed fetch, uuid_break with and without all.
func TestBroadcastPlayback(t *testing.T) {
	clip := func(rate int, d time.Duration) []byte {
		s := make([]int16, audio.Format{Rate: rate}.Samples(d))
		for i := range s {
			s[i] = int16(6000 - 12000*(i/8%2)) // a loud square wave
		}
		b, err := audio.EncodeWAV(rate, 1, audio.WAVPCM16, s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	files := map[string][]byte{"/a.wav": clip(8000, 200*time.Millisecond), "/b.wav": clip(16000, 400*time.Millisecond),
		"/long1.wav": clip(8000, time.Second), "/long2.wav": clip(8000, time.Second), "/long3.wav": clip(8000, time.Second),
		"/bad.wav": []byte("not a wav")}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	defer web.Close()

	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddCallee("1001", callee.Script{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := esl.Dial(ctx, esl.Config{Addr: s.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Events(ctx, "plain", "PLAYBACK_START", "PLAYBACK_STOP"); err != nil {
		t.Fatal(err)
	}
	sub := c.Subscribe("p1")
	defer sub.Close()
	if _, err := c.API(ctx, "originate {origination_uuid=p1}sofia/gateway/gw/1001 &park()"); err != nil {
		t.Fatal(err)
	}
	rec, _ := s.Call("p1")
	person := rec.Person
	api := func(cmd string) string {
		t.Helper()
		out, err := c.API(ctx, cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		return out
	}
	expect := func(want ...string) {
		t.Helper()
		for _, w := range want {
			select {
			case ev := <-sub.Events():
				if got := playbackEvent(ev); got != w {
					t.Fatalf("event %q, want %q", got, w)
				}
			case <-ctx.Done():
				t.Fatalf("no event, want %q", w)
			}
		}
	}

	// Queued broadcasts play back to back, in real time, at their own rates.
	start := time.Now()
	if out := api("uuid_broadcast p1 playback::" + web.URL + "/a.wav aleg"); out != "+OK Message queued\n" {
		t.Fatalf("uuid_broadcast: %q", out)
	}
	api("uuid_broadcast p1 " + web.URL + "/b.wav")
	expect("START a.wav", "STOP a.wav done", "START b.wav", "STOP b.wav done")
	if el := time.Since(start); el < 560*time.Millisecond || el > 900*time.Millisecond {
		t.Errorf("600 ms of audio played in %v", el)
	}
	if n := person.BotFrames(); n != 30 {
		t.Errorf("callee heard %d frames, want 30", n)
	}

	// A URL that fails: logged, PLAYBACK_STOP with no PLAYBACK_START, and the next one plays.
	api("uuid_broadcast p1 playback::" + web.URL + "/missing.wav aleg")
	api("uuid_broadcast p1 playback::" + web.URL + "/bad.wav aleg")
	api("uuid_broadcast p1 playback::/var/lib/freeswitch/a.wav aleg")
	api("uuid_broadcast p1 playback::" + web.URL + "/a.wav aleg")
	expect("STOP missing.wav error", "STOP bad.wav error", "STOP a.wav error", "START a.wav", "STOP a.wav done")

	// uuid_break stops the current playback and starts the next; with all it discards the queue.
	for _, f := range []string{"long1", "long2", "long3"} {
		api("uuid_broadcast p1 playback::" + web.URL + "/" + f + ".wav aleg")
	}
	playing := func() { // until the callee hears the playback that just started: the break cuts it mid-way
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for n := person.BotFrames(); person.BotFrames() < n+3; {
			<-tk.C
		}
	}
	expect("START long1.wav")
	playing()
	api("uuid_break p1")
	expect("STOP long1.wav break", "START long2.wav")
	playing()
	api("uuid_break p1 all")
	expect("STOP long2.wav break")
	heard := person.BotFrames()
	time.Sleep(200 * time.Millisecond) // the subject: 200 ms in which nothing more may play
	if n := person.BotFrames() - heard; n > 1 {
		t.Errorf("callee heard %d frames after uuid_break all", n)
	}
	select {
	case ev := <-sub.Events():
		t.Errorf("unexpected %s", playbackEvent(ev))
	default:
	}
	rec, _ = s.Call("p1")
	var got []string
	for _, p := range rec.Playbacks {
		got = append(got, p.Path[strings.LastIndexByte(p.Path, '/')+1:]+" "+p.Status)
		if p.Status == "error" && p.Error == "" {
			t.Errorf("%s: no error text", p.Path)
		}
	}
	want := "a.wav done|b.wav done|missing.wav error|bad.wav error|a.wav error|a.wav done|long1.wav break|long2.wav break|long3.wav discarded"
	if strings.Join(got, "|") != want {
		t.Errorf("playbacks %q", strings.Join(got, "|"))
	}
	if rec.Playbacks[1].Played != 400*time.Millisecond || rec.Playbacks[6].Played < 60*time.Millisecond ||
		rec.Playbacks[6].Played > 200*time.Millisecond {
		t.Errorf("played %v, %v", rec.Playbacks[1].Played, rec.Playbacks[6].Played)
	}
	if rec.Breaks != 2 || rec.BreaksAll != 1 || len(rec.Broadcasts) != 9 {
		t.Errorf("breaks %d (all %d), %d broadcasts", rec.Breaks, rec.BreaksAll, len(rec.Broadcasts))
	}
}

// TestNoBidirectional: with Config.NoBidirectional the audio the application sends on the stream's WebSocket is
// counted, not played.
func TestNoBidirectional(t *testing.T) {
	sent := make(chan struct{})
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		for range 5 {
			if conn.Write(r.Context(), websocket.MessageBinary, make([]byte, 640)) != nil {
				return
			}
		}
		close(sent)
		for {
			if _, _, err := conn.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	defer ws.Close()
	s, err := New(Config{NoBidirectional: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddCallee("1001", callee.Script{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := esl.Dial(ctx, esl.Config{Addr: s.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.API(ctx, "originate {origination_uuid=nb1}sofia/gateway/gw/1001 &park()"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.API(ctx, "uuid_audio_stream nb1 start ws"+strings.TrimPrefix(ws.URL, "http")+"/s mono 16k"); err != nil {
		t.Fatal(err)
	}
	<-sent
	deadline := time.Now().Add(2 * time.Second)
	for {
		rec, _ := s.Call("nb1")
		if rec.IgnoredFrames == 5 {
			if n := rec.Person.BotFrames(); n != 0 {
				t.Errorf("callee heard %d frames", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d frames ignored, want 5", rec.IgnoredFrames)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := c.API(ctx, "uuid_kill nb1"); err != nil {
		t.Fatal(err)
	}
}

// TestBridgedLegsEndTogether: once a uuid_bridge is made (CHANNEL_BRIDGE), either leg hanging up clears the
// other, as on FreeSWITCH; a leg that hangs up between uuid_bridge's +OK and the bridge leaves the other parked, as
// FreeSWITCH 1.10.12 does.
func TestBridgedLegsEndTogether(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddCallee("1001", callee.Script{})
	s.AddCallee("agent", callee.Script{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := esl.Dial(ctx, esl.Config{Addr: s.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Events(ctx, "plain", "CHANNEL_BRIDGE"); err != nil {
		t.Fatal(err)
	}
	sub := c.Subscribe("leg-a")
	defer sub.Close()
	for _, cmd := range []string{
		"originate {origination_uuid=leg-a}sofia/gateway/gw/1001 &park()",
		"originate {origination_uuid=leg-b}sofia/gateway/gw/agent &park()",
		"originate {origination_uuid=alone}sofia/gateway/gw/1001 &park()",
		"originate {origination_uuid=early-a}sofia/gateway/gw/1001 &park()",
		"originate {origination_uuid=early-b}sofia/gateway/gw/agent &park()",
		"uuid_bridge early-a early-b",
		"uuid_kill early-a", // before the bridge is made
		"uuid_bridge leg-a leg-b",
	} {
		if _, err := c.API(ctx, cmd); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
	}
	for ev := range sub.Events() {
		if ev.Name() == "CHANNEL_BRIDGE" {
			break
		}
	}
	if _, err := c.API(ctx, "uuid_kill leg-b"); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.Call("early-b"); !b.End.IsZero() {
		t.Errorf("early-b ended (%q) although its peer hung up before the bridge was made", b.HungUpBy)
	}
	a, _ := s.Call("leg-a")
	if a.End.IsZero() || a.HungUpBy != "bridge" || a.Cause != call.CauseNormal {
		t.Fatalf("leg a after leg b hung up: end %v, by %q, cause %v; want cleared by the bridge", a.End, a.HungUpBy, a.Cause)
	}
	if alone, _ := s.Call("alone"); !alone.End.IsZero() {
		t.Fatal("an unbridged call ended too")
	}
}
