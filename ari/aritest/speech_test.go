package aritest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/tts/ttstest"
)

// TestCalleeSpeechReachesRecognizer renders a callee's Text with ttstest, carries it over ulaw RTP like a real
// call, and checks that the app side recognises the exact words.
func TestCalleeSpeechReachesRecognizer(t *testing.T) {
	t.Parallel()
	const said = "我要还款 please"
	srv := Start(t, Config{TTS: &ttstest.Synthesizer{}})
	err := srv.AddCallee("13900001111", callee.Script{HangupAfterSteps: true, Steps: []callee.Step{
		{Action: callee.Say, When: callee.At, Offset: 100 * time.Millisecond, Text: said},
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv)
	ev := c.events("bot")
	app, id := bridgeCall(t, c, ev, "Local/13900001111@outcall-test", "ulaw")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := (&asrtest.Recognizer{}).Start(ctx, asr.Config{SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	done := make(chan struct{})
	var ended atomic.Bool // the channel is destroyed: every packet it sent is in the socket already
	go func() {           // the only writer of st
		defer close(done)
		buf := make([]byte, 1500)
		for {
			idle := 5 * time.Second
			if ended.Load() {
				idle = 300 * time.Millisecond // drain what is queued, then stop
			}
			_ = app.conn.SetReadDeadline(time.Now().Add(idle))
			n, _, err := app.conn.ReadFromUDP(buf)
			if err != nil {
				break
			}
			if _, payload, ok := parseRTP(buf[:n]); ok {
				_ = st.Write(audio.Frame{Rate: 8000, Samples: audio.DecodeULaw(nil, payload)})
			}
		}
		// Trailing silence lets the recognizer close the utterance.
		for range 30 {
			_ = st.Write(audio.Frame{Rate: 8000, Samples: make([]int16, 160)})
		}
	}()
	for {
		evs := ev.until("ChannelDestroyed", 8*time.Second)
		if chanID(evs[len(evs)-1]) == id {
			break
		}
	}
	// The simulator writes a call's last RTP before it destroys the channel, and loopback UDP is queued at once:
	// the reader drains the socket and stops once it is idle (a deadline of now would drop what is queued).
	ended.Store(true)
	_ = app.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	<-done
	for {
		select {
		case r := <-st.Results():
			if !r.Final {
				continue
			}
			if r.Text != said {
				t.Fatalf("recognised %q, want %q", r.Text, said)
			}
			rec, _ := srv.Call(id)
			if rec.HungUpBy != "callee" || rec.Outcome != call.Answered {
				t.Fatalf("record %+v", rec)
			}
			if tr := rec.Person.Transcript(); len(tr) != 1 || tr[0].Text != said || tr[0].Start != 100*time.Millisecond {
				t.Fatalf("transcript %+v", tr)
			}
			return
		case <-ctx.Done():
			t.Fatal("no final result")
		}
	}
}
