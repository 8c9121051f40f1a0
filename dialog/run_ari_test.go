package dialog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/aritest"
	aridriver "github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/tts/ttstest"
)

const ariScript = `name: ari
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

// TestRunOnAsteriskSimulator runs whole calls over ARI and real RTP on 127.0.0.1 with aritest's scripted callees:
// one answers after the prompt, one talks over it (barge-in).
func TestRunOnAsteriskSimulator(t *testing.T) {
	s, err := dialog.Load([]byte(ariScript), "ari.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sim := aritest.Start(t, aritest.Config{TTS: &ttstest.Synthesizer{}})
	if err := sim.AddCallee("13800000001", callee.Script{Steps: []callee.Step{
		{Action: callee.Say, When: callee.AfterBot, Text: "后天还"}}}); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddCallee("13800000002", callee.Script{Steps: []callee.Step{
		{Action: callee.Say, When: callee.At, Offset: 1500 * time.Millisecond, Text: "我已经还了"}}}); err != nil {
		t.Fatal(err)
	}
	client, err := ari.New(ari.Config{URL: sim.URL(), Username: sim.Username(), Password: sim.Password(), App: "outcall"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	if err := client.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	drv, err := aridriver.New(client, aridriver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drv.Close() })

	cases := []struct {
		number, tag string
		bargeIn     bool
	}{{"13800000001", "promise_to_pay", false}, {"13800000002", "already_paid", true}}
	for _, tc := range cases {
		t.Run(tc.tag, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := drv.Dial(ctx, call.Request{Endpoint: "Local/" + tc.number + "@outcall-test", Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			res, err := dialog.Run(ctx, c, s, dialog.Deps{ASR: &asrtest.Recognizer{}, TTS: &ttstest.Synthesizer{},
				Vars: map[string]any{"name": "张三"}})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Outcome.Has(tc.tag) || res.Outcome.End != dialog.EndHangup || len(res.Turns) != 2 {
				t.Fatalf("result %+v", res)
			}
			tr := res.Turns[1]
			if tr.BargeIn != tc.bargeIn {
				t.Fatalf("barge-in %v, want %v: turn %+v", tr.BargeIn, tc.bargeIn, tr)
			}
			if tc.bargeIn && (len(tr.Heard) >= len(tr.Prompt) || !strings.HasPrefix(tr.Prompt, tr.Heard)) {
				t.Fatalf("heard %q of %q", tr.Heard, tr.Prompt)
			}
			if !tc.bargeIn && tr.Heard != tr.Prompt {
				t.Fatalf("heard %q of %q", tr.Heard, tr.Prompt)
			}
			// The bot hung up after its last prompt: the simulator records it before it answers the hang-up request,
			// which Run waited for.
			var rec aritest.Call
			for _, r := range sim.Calls() {
				if r.Number == tc.number {
					rec = r
				}
			}
			if rec.HungUpBy != "app" {
				t.Fatalf("call record %+v", rec)
			}
		})
	}
}
