package dialog_test

import (
	"context"
	"fmt"
	"time"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/aritest"
	aridriver "github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/store"
	"github.com/outcall/outcall/tts/ttstest"
)

const exampleScript = `name: reminder
start: ask
variables:
  name: {type: string, required: true}
  days: {type: int, required: true}
intents:
  - {name: will_pay, keywords: [会还, 马上还, 明天还]}
slots:
  - {name: pay_date, kind: date}
nodes:
  ask:
    say: ["{{.name}}您好,您的账单已逾期{{.days}}天,请问什么时候还款?"]
    capture: [pay_date]
    routes:
      - {when: "has.pay_date", goto: thanks, tags: [promise_to_pay]}
      - {intent: will_pay, goto: ask_date}
  ask_date:
    say: ["好的,具体哪天呢?"]
    capture: [pay_date]
    routes:
      - {when: "has.pay_date", goto: thanks, tags: [promise_to_pay]}
  thanks:
    say: ["已记录{{.pay_date}}还款,再见。"]
    end: {action: hangup}
`

// Simulate runs a script on text: the way to unit-test a script's paths.
func ExampleSimulate() {
	s, err := dialog.Load([]byte(exampleScript), "reminder.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	sim, err := dialog.Simulate(s, map[string]any{"name": "张三", "days": 3},
		dialog.Say("我会还的"), dialog.Say("后天吧"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sim.Path())
	fmt.Println(sim.Prompts()[:2])
	fmt.Println(sim.Outcome().Tags, sim.Outcome().End)
	// Output:
	// [ask ask_date thanks]
	// [张三您好,您的账单已逾期3天,请问什么时候还款? 好的,具体哪天呢?]
	// [promise_to_pay] hangup
}

// A simulator reads the dates a callee says against the real clock; Options.Now fixes it for a test.
func ExampleNewSimulator() {
	s, err := dialog.Load([]byte(exampleScript), "reminder.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	monday := func() time.Time { return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) }
	sim, err := dialog.NewSimulator(s, map[string]any{"name": "张三", "days": 3}, dialog.Options{Now: monday})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sim.Say("后天吧").Prompt)
	fmt.Println(sim.Slots()["pay_date"])
	// Output:
	// 已记录2026-03-04还款,再见。
	// 2026-03-04
}

// Load reports every problem of a script with file:line and field.
func ExampleLoad() {
	_, err := dialog.Load([]byte(`name: broken
start: ask
variables: {days: {type: int}}
nodes:
  ask:
    say: ["逾期{{.dayz}}天"]
    routes:
      - {when: "days >", goto: nowhere}
`), "broken.yaml")
	fmt.Println(err)
	// Output:
	// dialog: invalid script: 3 problem(s)
	//   broken.yaml:6: nodes.ask.say[0]: template: template: nodes.ask.say[0]:1:8: executing "nodes.ask.say[0]" at <.dayz>: map has no entry for key "dayz"
	//   broken.yaml:8: nodes.ask.routes[0].goto: unknown node "nowhere"
	//   broken.yaml:8: nodes.ask.routes[0].when: bad expression: unexpected token EOF (1:6) | days > | .....^
}

// Run converses on a live call from a Dialer (ari or esl) with speech providers from asr/ and tts/. Here the PBX
// is the built-in Asterisk simulator, whose callee answers the prompt with "可以", and the providers are the fake
// ones (instant, exact); on a real Asterisk only the URL, the dial string and the providers change.
func ExampleRun() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := dialog.Load([]byte(`name: confirm
start: ask
variables: {name: {type: string, required: true}}
intents: [{name: yes, keywords: [可以, 好的]}]
nodes:
  ask:
    say: ["{{.name}}您好,明天上午送货可以吗?"]
    routes: [{intent: yes, goto: ok}]
  ok: {say: ["好的,再见。"], end: {tags: [confirmed]}}
`), "confirm.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	pbx, err := aritest.New(aritest.Config{TTS: &ttstest.Synthesizer{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pbx.Close()
	_ = pbx.AddCallee("8613800000001", callee.Script{Steps: []callee.Step{{Action: callee.Say, When: callee.AfterBot, Text: "可以"}}})

	client, err := ari.New(ari.Config{URL: pbx.URL(), Username: pbx.Username(), Password: pbx.Password(), App: "outcall"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	if err := client.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	drv, err := aridriver.New(client, aridriver.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer drv.Close()
	c, err := drv.Dial(ctx, call.Request{Endpoint: "PJSIP/8613800000001@trunk", Timeout: 10 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := dialog.Run(ctx, c, s, dialog.Deps{ASR: &asrtest.Recognizer{}, TTS: &ttstest.Synthesizer{},
		Store: dialog.NewStore(store.NewMemory()), Vars: map[string]any{"name": "张三"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range res.Turns {
		fmt.Printf("%s heard %q → %s\n", t.Node, t.Transcript, t.Reply)
	}
	fmt.Println(res.Outcome.Tags, res.Outcome.End)
	// Output:
	// ask heard "" → 张三您好,明天上午送货可以吗?
	// ask heard "可以" → 好的,再见。
	// [confirmed] hangup
}
