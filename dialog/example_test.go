package dialog_test

import (
	"fmt"

	"github.com/outcall/outcall/dialog"
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
	for _, p := range sim.Prompts() {
		fmt.Println(p)
	}
	fmt.Println(sim.Outcome().Tags, sim.Outcome().End)
	// Output:
	// [ask ask_date thanks]
	// 张三您好,您的账单已逾期3天,请问什么时候还款?
	// 好的,具体哪天呢?
	// 已记录2026-03-04还款,再见。
	// [promise_to_pay] hangup
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

// Run converses on a live call (from an ari or esl Dialer) with real or fake speech providers.
func ExampleRun() {
	s, err := dialog.LoadFile("../examples/finance-overdue/script.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = s
	// With c a call.Call from a Dialer, recognizer and synthesizer from asr/ and tts/ providers:
	//
	//	res, err := dialog.Run(ctx, c, s, dialog.Deps{
	//		ASR: recognizer, TTS: synthesizer, Store: store.NewRedis(rdb, store.RedisConfig{}),
	//		Notifier: notifier, Vars: map[string]any{"name": "张三", "overdue_days": 5, "amount": 1200.0},
	//	})
	//	if res.OptOut { /* add to the do-not-call list */ }
	fmt.Println(s.Name)
	// Output: finance-overdue
}
