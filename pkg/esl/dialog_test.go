package esl_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/esl"
	"github.com/outcall/outcall/pkg/esl/esltest"
	"github.com/outcall/outcall/tts/ttstest"
)

const collectionScript = `name: esl
start: ask
variables: {name: {type: string, required: true}}
intents: [{name: paid, keywords: [已经还了]}]
slots: [{name: pay_date, kind: date}]
nodes:
  ask:
    say: ["{{.name}}您好,您的账单已经逾期了,请问您打算哪天还款呢?"]
    capture: [pay_date]
    routes:
      - {when: "has.pay_date", goto: thanks}
      - {intent: paid, goto: paid}
  thanks: {say: ["好的,再见。"], end: {tags: [promise_to_pay]}}
  paid: {say: ["谢谢,再见。"], end: {tags: [already_paid]}}
`

// TestDialogOnFreeSWITCH runs whole scripted dialogs over the ESL driver: the same bots as on Asterisk, one callee
// answering after the prompt, one talking over it (barge-in). The bot's audio goes back over the audio-stream
// WebSocket (stream) or as uuid_broadcast of HTTP-served segments to a module without a bidirectional mode
// (broadcast).
func TestDialogOnFreeSWITCH(t *testing.T) {
	checkLeaks(t)
	s, err := dialog.Load([]byte(collectionScript), "esl.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []esl.MediaMode{esl.MediaStream, esl.MediaBroadcast} {
		t.Run(mode.String(), func(t *testing.T) {
			fs, err := esltest.New(esltest.Config{TTS: &ttstest.Synthesizer{}, NoBidirectional: mode == esl.MediaBroadcast})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = fs.Close() })
			fs.AddCallee("13800000001", callee.Script{Steps: []callee.Step{{Action: callee.Say, When: callee.AfterBot, Text: "后天还"}}})
			fs.AddCallee("13800000002", callee.Script{Steps: []callee.Step{
				{Action: callee.Say, When: callee.At, Offset: 1500 * time.Millisecond, Text: "我已经还了"}}})
			client, err := esl.Dial(testCtx(t, 5*time.Second), esl.Config{Addr: fs.Addr()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = client.Close() })
			drv, err := esl.NewDriver(client, esl.DriverConfig{Media: mode})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = drv.Close() })
			runDialogs(t, fs, drv, s, mode)
		})
	}
}

func runDialogs(t *testing.T, fs *esltest.Server, drv *esl.Driver, s *dialog.Script, mode esl.MediaMode) {
	cases := []struct {
		number, tag string
		bargeIn     bool
	}{{"13800000001", "promise_to_pay", false}, {"13800000002", "already_paid", true}}
	for _, tc := range cases {
		t.Run(tc.tag, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := drv.Dial(ctx, call.Request{Endpoint: "sofia/gateway/trunk/" + tc.number, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			res, err := dialog.Run(ctx, c, s, dialog.Deps{ASR: &asrtest.Recognizer{}, TTS: &ttstest.Synthesizer{},
				Vars: map[string]any{"name": "张三"}})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Outcome.Has(tc.tag) || len(res.Turns) != 2 {
				t.Fatalf("result %+v", res)
			}
			tr := res.Turns[1]
			t.Logf("heard %q of %q", tr.Heard, tr.Prompt)
			if tr.BargeIn != tc.bargeIn {
				t.Fatalf("barge-in %v, want %v: turn %+v", tr.BargeIn, tc.bargeIn, tr)
			}
			if tc.bargeIn && (len(tr.Heard) >= len(tr.Prompt) || !strings.HasPrefix(tr.Prompt, tr.Heard)) {
				t.Fatalf("heard %q of %q", tr.Heard, tr.Prompt)
			}
			if !tc.bargeIn && tr.Heard != tr.Prompt {
				t.Fatalf("heard %q of %q", tr.Heard, tr.Prompt)
			}
			rec, err := fs.WaitEnded(ctx, c.ID())
			if err != nil {
				t.Fatal(err)
			}
			if rec.HungUpBy != "app" {
				t.Errorf("hung up by %q, want app", rec.HungUpBy)
			}
			if rec.Person.BotFrames() < 50 {
				t.Errorf("callee heard only %d bot frames", rec.Person.BotFrames())
			}
			if mode == esl.MediaBroadcast {
				if len(rec.Broadcasts) == 0 || rec.IgnoredFrames != 0 {
					t.Errorf("%d broadcasts, %d frames on the WebSocket", len(rec.Broadcasts), rec.IgnoredFrames)
				}
				if tc.bargeIn && rec.BreaksAll == 0 {
					t.Error("barge-in without uuid_break ... all")
				}
			}
		})
	}
}
