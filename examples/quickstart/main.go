// Command quickstart runs a mini-campaign of five calls — one confirms, one refuses, one asks for a human, one is
// busy, one is an answering machine — through the real ARI client and call driver, answer classification and the
// dialog runtime. With no settings it runs on the built-in Asterisk simulator with an in-memory store and fake
// speech; PBX=freeswitch runs it on the FreeSWITCH simulator (esltest) through the ESL client and driver instead.
// The environment (outbound.FromEnv) selects a real Asterisk (ARI_URL, DIAL_ENDPOINT) or FreeSWITCH (FS_ESL_ADDR),
// Redis and speech providers; then -contacts names the people to call.
//
//	go run ./examples/quickstart
//	PBX=freeswitch go run ./examples/quickstart
//	go run ./examples/quickstart -out /tmp/qs
//	ARI_URL=http://127.0.0.1:8088 ARI_USERNAME=outcall ARI_PASSWORD=secret DIAL_ENDPOINT='PJSIP/{number}@trunk' \
//	  go run ./examples/quickstart -contacts contacts.csv
//
// To make it yours, copy this directory, edit script.yaml (the call script) and the contacts below.
package main

import (
	_ "embed"

	_ "github.com/outcall/outcall/pkg/audio/vad/silero" // VAD=silero (cgo; make speech-models)
	_ "github.com/outcall/outcall/pkg/audio/vad/webrtc" // VAD=webrtc (-tags webrtcvad)
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/campaign"
	"github.com/outcall/outcall/pkg/outbound"
)

//go:embed script.yaml
var script []byte

var app = outbound.App{
	Name: "quickstart", Title: "outcall quickstart", Script: script, ScriptFile: "quickstart/script.yaml",
	// Who is called on the simulator (on a real PBX: -contacts file.csv with columns phone,name).
	Contacts: []campaign.Contact{
		{Phone: "+8613800000001", Name: "张三"},
		{Phone: "+8613800000002", Name: "李四"},
		{Phone: "+8613800000003", Name: "王五"},
		{Phone: "+8613800000004", Name: "赵六"},
		{Phone: "+8613800000005", Name: "钱七"},
	},
	// What each simulated callee does.
	Callees: map[string]callee.Script{
		"+8613800000001": outbound.Person("喂,你好", "可以,没问题"),
		"+8613800000002": outbound.Person("喂?", "不用了,明天不方便"),
		"+8613800000003": outbound.Person("喂,哪位", "我要转人工"),
		"+8613800000004": outbound.Busy(),
		"+8613800000005": outbound.Machine("您好,机主现在不方便接听电话,请在提示音后留言"),
	},
}

func main() { app.Main() }
