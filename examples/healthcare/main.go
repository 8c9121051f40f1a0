// Command healthcare runs the brief's healthcare calls (医疗健康外呼): an appointment reminder tailored by age
// (slower speech and an SMS follow-up for the elderly), chronic-disease follow-up (symptoms, medication adherence,
// blood pressure or glucose; an out-of-range value sends an alert webhook to the doctor's workstation) and a
// health-education message the callee can ask to hear again.
//
//	go run ./examples/healthcare
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

// The contact records from the hospital information system; "scenario" picks the flow.
var contacts = []campaign.Contact{
	{ID: "appointment", Phone: "+8613800003001", Name: "张三", Vars: map[string]any{"scenario": "appointment", "age": 45,
		"appt_date": "3月5日", "appt_time": "上午九点"}},
	{ID: "appointment-elderly", Phone: "+8613800003002", Name: "李奶奶", Vars: map[string]any{"scenario": "appointment", "age": 78,
		"appt_date": "3月6日", "appt_time": "下午两点"}},
	{ID: "followup-bp-high", Phone: "+8613800003003", Name: "王五", Vars: map[string]any{"scenario": "followup", "condition": "hypertension"}},
	{ID: "followup-glucose-ok", Phone: "+8613800003004", Name: "赵六", Vars: map[string]any{"scenario": "followup", "condition": "diabetes",
		"department": "内分泌科"}},
	{ID: "education", Phone: "+8613800003005", Name: "钱七", Vars: map[string]any{"scenario": "education"}},
}

var callees = map[string]callee.Script{
	"+8613800003001": outbound.Person("喂?", "可以,我会按时去"),
	"+8613800003002": outbound.Person("喂", "好的,能去"),
	"+8613800003003": outbound.Person("喂,你好", "最近有点头晕", "是的,每天都吃", "高压一百五,低压九十五", "对的"),
	"+8613800003004": outbound.Person("喂", "没有不舒服", "是的,按时吃", "六点二", "对"),
	"+8613800003005": outbound.Person("喂?", "再听一遍", "不用了,听清楚了"),
}

var app = outbound.App{
	Name: "healthcare", Title: "医疗健康外呼 · healthcare", Script: script, ScriptFile: "healthcare/script.yaml",
	Contacts: contacts, Callees: callees,
	Success: func(r dialog.Result) bool {
		return r.Outcome.Has("appointment_confirmed") || r.Outcome.Has("followup_done") || r.Outcome.Has("education_done")
	},
}

func main() { app.Main() }
