// Command government runs the brief's government-service calls (政务外呼): a policy notice explained in plain
// words with an eligibility self-check, a guided process (identity check by voice or keypad → information
// confirmation → next step) and citizen feedback classified by department, district and urgency into a
// structured work order (a signed webhook).
//
//	go run ./examples/government
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

// The contact records; "scenario" picks the flow.
var contacts = []campaign.Contact{
	{ID: "policy-eligible", Phone: "+8613800004001", Name: "张大爷", Vars: map[string]any{"scenario": "policy"}},
	{ID: "policy-not-eligible", Phone: "+8613800004002", Name: "李四", Vars: map[string]any{"scenario": "policy"}},
	{ID: "service", Phone: "+8613800004003", Name: "王五", Vars: map[string]any{"scenario": "service",
		"id_last4": "1234", "employer": "星河科技有限公司", "base": 8000}},
	{ID: "feedback", Phone: "+8613800004004", Name: "赵六", Vars: map[string]any{"scenario": "feedback"}},
	{ID: "feedback-district", Phone: "+8613800004005", Name: "钱七", Vars: map[string]any{"scenario": "feedback"}},
}

var callees = map[string]callee.Script{
	"+8613800004001": outbound.Person("喂?", "好的,想看看", "是的,户口在本市", "是的,满了"),
	"+8613800004002": outbound.Person("喂", "可以", "不是,我户口在外地", "是的"),
	// The identity check is answered on the keypad.
	"+8613800004003": func() callee.Script {
		s := outbound.Person("喂,你好")
		s.Steps = append(s.Steps, callee.Step{Action: callee.Press, When: callee.AfterBot, Digits: "1234"},
			outbound.Reply("对,没错"))
		return s
	}(),
	"+8613800004004": outbound.Person("喂", "南山区路灯坏了好几天,很危险"),
	"+8613800004005": outbound.Person("喂?", "小区附近噪音太大了", "在东城"),
}

var app = outbound.App{
	Name: "government", Title: "政务外呼 · government", Script: script, ScriptFile: "government/script.yaml",
	Contacts: contacts, Callees: callees,
	Success: func(r dialog.Result) bool {
		return r.Outcome.Has("policy_eligible") || r.Outcome.Has("info_confirmed") || r.Outcome.Has("feedback_recorded")
	},
}

func main() { app.Main() }
