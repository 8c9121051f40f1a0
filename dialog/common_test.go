package dialog

import (
	"slices"
	"testing"
)

// The default intents from nlu.CommonIntents, under the script's own, in the sector scripts.
func TestCommonIntentsInSectorScripts(t *testing.T) {
	gov := map[string]any{"name": "陈大爷", "scenario": "policy"}
	runPaths(t, "../examples/government/script.yaml", []pathCase{
		// policy routes "yes" (想, 要, ...) to the eligibility questions: 不需要 must not take that route; it is
		// the script's "no" and ends the call politely.
		{name: "不需要 is not a yes", vars: gov, inputs: []Input{Say("不需要")},
			path: []string{"scenario", "policy", "policy_bye"}},
		{name: "不需要了谢谢 is not a yes", vars: gov, inputs: []Input{Say("不需要了,谢谢")},
			path: []string{"scenario", "policy", "policy_bye"}},
		{name: "a plain yes still is", vars: gov, inputs: []Input{Say("要的")},
			path: []string{"scenario", "policy", "elig_resident"}},
		{name: "我不是本人 is the wrong person", vars: gov, inputs: []Input{Say("我不是本人")},
			tags: []string{TagWrongPerson}, end: EndHangup},
		{name: "转人工", vars: gov, inputs: []Input{Say("帮我转人工")}, end: EndTransfer, reason: "requested"},
		{name: "agent", vars: gov, inputs: []Input{Say("I want an agent")}, end: EndTransfer, reason: "requested"},
	})
	runPaths(t, "../examples/finance-overdue/script.yaml", []pathCase{
		{name: "我不是本人", vars: map[string]any{"name": "张三", "overdue_days": 1, "amount": 1000.0},
			inputs: []Input{Say("我不是本人")}, tags: []string{TagWrongPerson}, end: EndHangup},
		// A keyword only the default intents know (不方便 is in nlu's busy list, not in the built-in one).
		{name: "不方便 is busy", vars: map[string]any{"name": "张三", "overdue_days": 1, "amount": 1000.0},
			inputs: []Input{Say("现在不方便")}, tags: []string{TagCallback}, callback: true},
	})
}

// A script's own intent wins over a default one of the same name or the same keyword; a route may name a
// default intent the script does not define.
func TestCommonIntentsUnderScript(t *testing.T) {
	const src = `
name: t
start: ask
intents:
  - {name: confirm, keywords: [需要, 好的]}
  - {name: later, keywords: [不方便]}
nodes:
  ask:
    say: ["需要吗?"]
    routes:
      - {intent: confirm, goto: yes}
      - {intent: refuse, goto: no}
      - {intent: whoisthis, goto: who}
      - {intent: later, goto: cb}
  "yes": {say: ["好"], end: {tags: ["yes"]}}
  "no": {say: ["好"], end: {tags: ["no"]}}
  who: {say: ["我是客服"], end: {tags: ["who"]}}
  cb: {say: ["好"], end: {tags: ["later"]}}
`
	s, err := Load([]byte(src), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ say, tag string }{
		{"需要", "yes"},
		{"不需要", "no"},      // the script's confirm is negated; the default refuse takes it
		{"我不需要", "no"},     //
		{"你是谁啊", "who"},    // a default intent the script routes on
		{"现在不方便", "later"}, // the script's keyword, not the default busy
	} {
		sim, err := Simulate(s, nil, Say(tc.say))
		if err != nil {
			t.Fatal(err)
		}
		if o := sim.Outcome(); !slices.Equal(o.Tags, []string{tc.tag}) {
			t.Errorf("%q: tags %v, want [%s] (path %v)", tc.say, o.Tags, tc.tag, sim.Path())
		}
	}
}
