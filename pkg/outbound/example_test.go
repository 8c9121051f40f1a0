package outbound_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/campaign"
	"github.com/outcall/outcall/pkg/outbound"
)

const confirmScript = `name: confirm
start: ask
variables: {name: {type: string, required: true}}
intents:
  - {name: yes, keywords: [可以, 好的]}
  - {name: no, keywords: [不用, 不要]}
nodes:
  ask:
    say: ["{{.name}}您好,您的包裹明天上午送达,可以签收吗?"]
    routes:
      - {intent: yes, goto: ok}
      - {intent: no, goto: later}
  ok: {say: ["好的,再见。"], end: {tags: [confirmed]}}
  later: {say: ["好的,改天再送,再见。"], end: {tags: [refused]}}
`

// Run calls a list of contacts on the built-in Asterisk simulator: each answer is classified, a person hears the
// script, and every call comes back as a Record. With outbound.FromEnv() instead of Simulated, the same code calls
// real numbers on a real Asterisk or FreeSWITCH.
func ExampleRun() {
	ctx := context.Background()
	p, err := outbound.Open(ctx, outbound.Simulated(outbound.Asterisk), zerolog.Nop())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	// How the simulated callees behave.
	_ = p.AddCallee("13800000001", outbound.Person("喂?", "可以"))
	_ = p.AddCallee("13800000002", outbound.Busy())

	script, err := dialog.Load([]byte(confirmScript), "confirm.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	recs, err := outbound.Run(ctx, p, outbound.Campaign{Script: script, Contacts: []campaign.Contact{
		{Phone: "13800000001", Name: "张三"},
		{Phone: "13800000002", Name: "李四"},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range recs {
		fmt.Println(r.Contact.ID, r.Masked, r.Dial, r.Outcome)
	}
	// Output:
	// contact-1 +86*******0001 answered confirmed
	// contact-2 +86*******0002 busy busy
}

// An App is a whole campaign program: its main is app.Main(), which reads the flags and the environment. Run runs
// it as Main would, here on the simulator.
func ExampleApp() {
	app := outbound.App{
		Name: "delivery", Script: []byte(confirmScript), ScriptFile: "confirm.yaml",
		Contacts: []campaign.Contact{{ID: "order-1", Phone: "+8613800000011", Name: "王五"}},
		Callees:  map[string]callee.Script{"+8613800000011": outbound.Person("喂", "不用了")},
	}
	dir, _ := os.MkdirTemp("", "outbound")
	defer os.RemoveAll(dir)
	res, err := app.Run(context.Background(), outbound.Simulated(outbound.Asterisk), outbound.Options{Out: dir}, io.Discard, io.Discard)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res.Records {
		fmt.Println(r.Contact.ID, r.Outcome, r.Result.Outcome.Tags)
	}
	fmt.Println(filepath.Base(res.HTML), filepath.Base(res.CSV))
	// Output:
	// order-1 refused [refused]
	// report.html calls.csv
}

// LoadContacts reads a CSV (or JSONL) file and checks every row against the script before anyone is called.
func ExampleLoadContacts() {
	dir, _ := os.MkdirTemp("", "outbound")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "contacts.csv")
	_ = os.WriteFile(path, []byte("phone,name\n13800000001,张三\n13800000002,\n12345,李四\n138 0000 0001,王五\n"), 0o600)
	script, _ := dialog.Load([]byte(confirmScript), "confirm.yaml")
	contacts, bad, err := outbound.LoadContacts(path, script)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range contacts {
		fmt.Println(c.ID, campaign.MaskPhone(c.Phone), c.Name)
	}
	for _, b := range bad {
		fmt.Println(b)
	}
	// Output:
	// line-2 +86*******0001 张三
	// line 3: dialog: missing variable: name
	// line 4: campaign: bad phone number: 5 digits is neither a Chinese mobile nor a landline with area code
	// line 5: campaign: duplicate contact: same number as line 2
}

// Simulated is the environment with nothing set, on the simulator of either PBX.
func ExampleSimulated() {
	for _, pbx := range []string{outbound.Asterisk, outbound.FreeSWITCH} {
		env := outbound.Simulated(pbx)
		fmt.Println(env.PBX, env.Simulated(), env.DialEndpoint, env.MediaHost, env.ASR, env.TTS)
	}
	// Output:
	// asterisk true PJSIP/{number}@trunk 127.0.0.1 fake fake
	// freeswitch true sofia/gateway/trunk/{number} 127.0.0.1 fake fake
}
