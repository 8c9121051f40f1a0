// Command finance-overdue runs tiered overdue-payment reminders (逾期提醒), as in the brief: under 3 days a gentle
// reminder with the app's one-tap repayment and its discount; 3 to 7 days an instalment offer (first payment 30%);
// over 7 days an urgent notice warning of penalty interest. A high-risk profile or an agitated caller goes to a
// human with a risk alert (a signed webhook); a promise to pay is captured as an amount and a date.
//
//	go run ./examples/finance-overdue
package main

import (
	_ "embed"

	"github.com/outcall/outcall/dialog"
	_ "github.com/outcall/outcall/pkg/audio/vad/silero" // VAD=silero (cgo; make speech-models)
	_ "github.com/outcall/outcall/pkg/audio/vad/webrtc" // VAD=webrtc (-tags webrtcvad)
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/campaign"
	"github.com/outcall/outcall/pkg/outbound"
)

//go:embed script.yaml
var script []byte

// The contact records: the script's variables (overdue_days, amount, risk) come from the bank's system.
var contacts = []campaign.Contact{
	{ID: "gentle", Phone: "+8613800001001", Name: "张三", Vars: map[string]any{"overdue_days": 2, "amount": 1000.0}},
	{ID: "instalment", Phone: "+8613800001002", Name: "李四", Vars: map[string]any{"overdue_days": 5, "amount": 3000.0}},
	{ID: "urgent", Phone: "+8613800001003", Name: "王五", Vars: map[string]any{"overdue_days": 15, "amount": 8000.0}},
	{ID: "high-risk", Phone: "+8613800001004", Name: "赵六", Vars: map[string]any{"overdue_days": 30, "amount": 20000.0, "risk": "high"}},
	{ID: "agitated", Phone: "+8613800001005", Name: "钱七", Vars: map[string]any{"overdue_days": 10, "amount": 5000.0}},
}

// How each simulated callee answers.
var callees = map[string]callee.Script{
	"+8613800001001": outbound.Person("喂?", "好的,我明天就还", "对的"),
	"+8613800001002": outbound.Person("喂,你好", "可以,我下周一先还九百", "对"),
	"+8613800001003": outbound.Person("喂", "我已经还了"),
	"+8613800001004": outbound.Person("喂,哪位"),
	"+8613800001005": outbound.Person("喂", "烦死了!天天打电话骚扰,我没钱,还不上!"),
}

var app = outbound.App{
	Name: "finance-overdue", Title: "逾期提醒 · finance-overdue", Script: script, ScriptFile: "finance-overdue/script.yaml",
	Contacts: contacts, Callees: callees,
	// The campaign's goal: a promise to pay (amount and date captured as slots).
	Success: func(r dialog.Result) bool { return r.Outcome.Has("promise_to_pay") },
}

func main() { app.Main() }
