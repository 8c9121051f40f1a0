package sectortest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/tts/ttstest"
)

// clock is the date the calls happen on (a Monday), so that 明天, 下周一 and 五号 are fixed dates.
var clock = func() time.Time { return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) }

// leadIn is quiet audio before each callee utterance: a talk spurt that starts after silence loses its first
// frames in the receiving jitter buffer, and the recogniser needs the words whole.
const leadIn = 300 * time.Millisecond

// voice is a callee step saying text; ttstest renders it and asrtest reads it back as exactly text.
func voice(when callee.Trigger, at time.Duration, text string) callee.Step {
	const rate = 8000
	pcm, err := ttstest.Render(text, rate)
	if err != nil {
		panic(fmt.Sprintf("render %q: %v", text, err))
	}
	clip := append(make([]int16, int(leadIn)*rate/int(time.Second)), pcm...)
	return callee.Step{Action: callee.Say, When: when, Offset: at, Text: text, Audio: clip, AudioRate: rate}
}

// reply says text once the bot has finished its prompt.
func reply(text string) callee.Step { return voice(callee.AfterBot, 0, text) }

// over says text at offset after answer, whatever the bot is doing: over the opening prompt.
func over(offset time.Duration, text string) callee.Step { return voice(callee.At, offset, text) }

// press presses digits once the bot has finished its prompt.
func press(digits string) callee.Step {
	return callee.Step{Action: callee.Press, When: callee.AfterBot, Digits: digits}
}

// note is a notification a path must send: channel, recipient and a piece of the text.
type note struct{ channel, to, text string }

// path is one whole call through a sector script.
type path struct {
	sector string // directory under examples/
	name   string
	vars   map[string]any // the contact record
	steps  []callee.Step  // what the callee does

	said        []string          // transcripts of the utterance turns, in order
	nodes       []string          // node of each turn after the opening, then the node the call ended at
	tags        []string          // outcome tags that must be set
	absent      []string          // outcome tags that must not be set
	end         dialog.EndAction  // how the script ends the call
	reason      string            // transfer reason
	slots       map[string]any    // captured slots
	notify      []note            // every notification sent, in any order
	dtmf        string            // keys the callee pressed, taken as one reply
	bargeIn     string            // node of the opening prompt, which the callee talks over and cuts
	backchannel string            // what the callee says over a prompt without cutting it
	turn        dialog.TurnConfig // turn-taking thresholds; zero: the defaults
	check       func(*testing.T, dialog.Result)
}

// backchannelTurns: the default turn-taking, under which a backchannel (嗯, 好的) over a prompt must not cut it.
// (Until BargeInNoText existed the 400 ms rule cut the bot on 好的 before the recogniser had its words.)
var backchannelTurns = dialog.TurnConfig{}

func finance(days int, kv ...any) map[string]any {
	v := map[string]any{"name": "张三", "overdue_days": days, "amount": 1000.0}
	for i := 0; i+1 < len(kv); i += 2 {
		v[kv[i].(string)] = kv[i+1]
	}
	return v
}

func order(scenario string, kv ...string) map[string]any {
	v := map[string]any{"name": "李女士", "scenario": scenario, "order_id": "A1001", "product": "保温杯", "amount": 89.0,
		"address": "南山区科技园1号"}
	for i := 0; i+1 < len(kv); i += 2 {
		v[kv[i]] = kv[i+1]
	}
	return v
}

var paths = []path{
	// Finance: tiers by overdue days, promise to pay (read back, then confirmed: the node is entered on the read-back
	// turn and carried out on the yes), agitated caller to a human with a risk alert.
	{sector: "finance-overdue", name: "gentle promise with amount and date", vars: finance(1),
		steps: []callee.Step{reply("好的,我明天还五百"), reply("对的")}, said: []string{"好的,我明天还五百", "对的"},
		nodes: []string{"gentle", "promise", "promise"}, tags: []string{"tier_gentle", "promise_to_pay"}, end: dialog.EndHangup,
		slots:  map[string]any{"pay_date": "2026-03-03", "pay_amount": 500.0},
		notify: []note{{"sms", "", "2026-03-03还款500.00元"}}},
	{sector: "finance-overdue", name: "3-7 days offers instalments", vars: finance(5),
		steps: []callee.Step{reply("可以分期"), reply("下周一还三百"), reply("对")}, said: []string{"可以分期", "下周一还三百", "对"},
		nodes: []string{"instalment_offer", "ask_promise", "promise", "promise"}, end: dialog.EndHangup,
		tags:   []string{"tier_instalment", "instalment", "promise_to_pay"},
		slots:  map[string]any{"pay_date": "2026-03-09", "pay_amount": 300.0},
		notify: []note{{"sms", "", "2026-03-09还款300.00元"}}},
	{sector: "finance-overdue", name: "agitated caller goes to a human with a risk alert", vars: finance(9),
		steps: []callee.Step{reply("你们这些骗子烦死了,滚!")}, said: []string{"你们这些骗子烦死了,滚!"},
		nodes: []string{"urgent", "risk_human"}, tags: []string{"tier_urgent", "agitated", "risk_alert"},
		absent: []string{"promise_to_pay"}, end: dialog.EndTransfer, reason: "risk",
		notify: []note{{"alert", "risk-team", "逾期9天,欠款1000.00元,风险等级low,情绪agitated"}}},
	{sector: "finance-overdue", name: "barge-in over the urgent notice with a promise", vars: finance(12),
		steps: []callee.Step{over(1500*time.Millisecond, "五号还一千二"), reply("是的")}, said: []string{"五号还一千二", "是的"},
		nodes: []string{"urgent", "promise", "promise"}, tags: []string{"tier_urgent", "promise_to_pay"}, end: dialog.EndHangup,
		slots:   map[string]any{"pay_date": "2026-03-05", "pay_amount": 1200.0},
		notify:  []note{{"sms", "", "2026-03-05还款1200.00元"}},
		bargeIn: "urgent"},

	// E-commerce: order confirmation, address change by barge-in, bad-review recovery.
	{sector: "ecommerce", name: "order confirmed", vars: order("order_confirm"),
		steps: []callee.Step{reply("对的没问题")}, said: []string{"对的没问题"},
		nodes: []string{"order_confirm", "order_ok"}, tags: []string{"order_confirmed"}, absent: []string{"address_changed"},
		end: dialog.EndHangup},
	{sector: "ecommerce", name: "barge-in: wrong address, new one captured", vars: order("order_confirm"),
		steps: []callee.Step{over(1500*time.Millisecond, "地址不对"), reply("福田区车公庙二号")},
		said:  []string{"地址不对", "福田区车公庙二号"},
		nodes: []string{"order_confirm", "ask_address", "address_updated"}, tags: []string{"order_confirmed", "address_changed"},
		end: dialog.EndHangup, slots: map[string]any{"new_address": "福田区车公庙二号"},
		notify:  []note{{"webhook", "order-service", "订单A1001改地址:福田区车公庙二号"}},
		bargeIn: "order_confirm"},
	{sector: "ecommerce", name: "bad review recovered", vars: order("review", "review_issue", "质量差"),
		steps: []callee.Step{reply("可以接受"), reply("好的我去改")}, said: []string{"可以接受", "好的我去改"},
		nodes: []string{"review_apology", "review_ask_update", "review_thanks"},
		tags:  []string{"compensation_accepted", "review_update_promised"}, end: dialog.EndHangup,
		notify: []note{{"webhook", "crm", "李女士接受20元现金返还,同意修改评价"}}},

	// Healthcare: chronic follow-up with an out-of-range reading, health education with a backchannel and a repeat.
	{sector: "healthcare", name: "high blood pressure alerts the doctor", vars: map[string]any{"name": "孙阿姨", "scenario": "followup"},
		steps: []callee.Step{reply("有点头晕"), reply("是的,每天都吃了"), reply("高压一百五十,低压九十五"), reply("对的")},
		said:  []string{"有点头晕", "是的,每天都吃了", "高压一百五十,低压九十五", "对的"},
		nodes: []string{"fu_symptoms", "fu_adherence", "fu_bp", "alert", "alert"},
		tags:  []string{"bp_abnormal", "followup_done", "doctor_alert"}, end: dialog.EndHangup,
		slots:  map[string]any{"symptom": "头晕", "adherent": true, "systolic": 150.0, "diastolic": 95.0},
		notify: []note{{"alert", "doctor:王", "指标异常:孙阿姨 血压150/95"}}},
	{sector: "healthcare", name: "backchannel, then 再说一遍 replays the education", vars: map[string]any{"name": "吴女士", "scenario": "education"},
		steps: []callee.Step{over(2*time.Second, "嗯"), reply("再说一遍"), reply("不用了,听清楚了")},
		said:  []string{"再说一遍", "不用了,听清楚了"},
		nodes: []string{"education", "education", "edu_bye"}, tags: []string{"education_done"},
		absent: []string{"education_repeated"}, end: dialog.EndHangup,
		notify:      []note{{"sms", "", "流感季家庭消毒指南:开窗通风"}},
		backchannel: "嗯", turn: backchannelTurns,
		check: func(t *testing.T, res dialog.Result) {
			// The repeat turn answers with the opening prompt, word for word, and the callee hears all of it again.
			open, rep, again := res.Turns[0], res.Turns[1], res.Turns[2]
			if rep.Intent != dialog.IntentRepeat || rep.Reply != open.Reply || again.Prompt != open.Reply ||
				!strings.Contains(open.Reply, "开窗通风") {
				t.Errorf("repeat: opening %q, repeat turn %+v, next turn prompt %q", open.Reply, rep, again.Prompt)
			}
		}},

	// Government: feedback into a work order, identity by DTMF, policy self-check with a backchannel.
	{sector: "government", name: "feedback classified into a work order", vars: map[string]any{"name": "市民", "scenario": "feedback"},
		steps: []callee.Step{reply("南山区我家楼下水管爆管了,好几天了")}, said: []string{"南山区我家楼下水管爆管了,好几天了"},
		nodes: []string{"feedback", "fb_record"}, tags: []string{"feedback_recorded"}, end: dialog.EndHangup,
		slots: map[string]any{"dept": "供水", "district": "南山区", "urgency": "紧急"},
		notify: []note{{"webhook", "workorders",
			`{"dept":"供水","district":"南山区","urgency":"紧急","issue":"南山区我家楼下水管爆管了,好几天了"}`}}},
	{sector: "government", name: "identity by DTMF, information confirmed",
		vars:  map[string]any{"name": "林女士", "scenario": "service", "id_last4": "1234", "employer": "星光科技", "base": 8000},
		steps: []callee.Step{press("1234"), reply("对的")}, said: []string{"对的"}, dtmf: "1234",
		nodes: []string{"id_check", "info_confirm", "next_step"}, tags: []string{"identity_verified", "info_confirmed"},
		end: dialog.EndHangup, slots: map[string]any{"id_tail": "1234"},
		notify: []note{{"sms", "", "一网通办APP"}}},
	{sector: "government", name: "backchannel over the policy notice, eligible", vars: map[string]any{"name": "陈大爷", "scenario": "policy"},
		steps: []callee.Step{over(2*time.Second, "好的"), reply("想"), reply("是的,本市户口"), reply("对,满了")},
		said:  []string{"想", "是的,本市户口", "对,满了"},
		nodes: []string{"policy", "elig_resident", "elig_age", "eligible"}, tags: []string{"policy_eligible"},
		end: dialog.EndHangup, slots: map[string]any{"resident": true, "age_ok": true},
		notify:      []note{{"sms", "", "陈大爷您好,您符合高龄津贴申领条件"}},
		backchannel: "好的", turn: backchannelTurns},
}

// notifier records the notifications of one call.
type notifier struct {
	mu    sync.Mutex
	notes []dialog.Notification
}

func (n *notifier) Notify(_ context.Context, x dialog.Notification) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notes = append(n.notes, x)
	return nil
}

func (n *notifier) all() []dialog.Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.notes)
}

// recognizer is asrtest's recogniser that also keeps the final results, for failure messages.
type recognizer struct {
	mu     sync.Mutex
	finals []asr.Result
}

func (r *recognizer) Start(ctx context.Context, c asr.Config) (asr.Stream, error) {
	s, err := (&asrtest.Recognizer{}).Start(ctx, c)
	if err != nil {
		return nil, err
	}
	out := make(chan asr.Result, 16)
	go func() {
		defer close(out)
		for res := range s.Results() {
			if res.Final {
				r.mu.Lock()
				r.finals = append(r.finals, res)
				r.mu.Unlock()
			}
			select {
			case out <- res:
			case <-ctx.Done():
				return
			}
		}
	}()
	return &stream{Stream: s, out: out}, nil
}

func (r *recognizer) all() []asr.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.finals)
}

type stream struct {
	asr.Stream
	out chan asr.Result
}

func (s *stream) Results() <-chan asr.Result { return s.out }

// TestSectorPaths runs every path of the table as a whole call on both PBX drivers, all calls at once.
func TestSectorPaths(t *testing.T) {
	checkLeaks(t)
	drivers := []*pbx{startARI(t), startESL(t)}
	scripts := map[string]map[string]*dialog.Script{}
	for _, d := range drivers {
		scripts[d.name] = map[string]*dialog.Script{}
		for _, p := range paths {
			if scripts[d.name][p.sector] != nil {
				continue
			}
			s, err := dialog.LoadFile("../../examples/" + p.sector + "/script.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if tr := &s.Settings.Transfer; tr.Endpoint != "" {
				// The transfer target is where the PBX reaches the agents' queue; the rest of the script is the same.
				if tr.Endpoint != "PJSIP/"+agentNumber {
					t.Fatalf("%s transfers to %q, the simulators' agent is %q", p.sector, tr.Endpoint, agentNumber)
				}
				tr.Endpoint = d.agent
			}
			scripts[d.name][p.sector] = s
		}
	}
	numbers := make([]string, len(paths))
	for i, p := range paths {
		numbers[i] = fmt.Sprintf("1390000%04d", i+1)
		for _, d := range drivers {
			if err := d.add(numbers[i], callee.Script{Name: p.name, Steps: p.steps}); err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
		}
	}
	t.Run("calls", func(t *testing.T) {
		for _, d := range drivers {
			for i, p := range paths {
				t.Run(d.name+"/"+p.sector+"/"+p.name, func(t *testing.T) {
					t.Parallel()
					runPath(t, d, scripts[d.name][p.sector], numbers[i], p)
				})
			}
		}
	})
	if len(moduleGoroutines()) == 0 {
		t.Fatal("no simulator or driver goroutines while they run: the leak check would prove nothing")
	}
}

func runPath(t *testing.T, d *pbx, s *dialog.Script, number string, p path) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := d.dial(ctx, number)
	if err != nil {
		t.Fatal(err)
	}
	notes := &notifier{}
	rec := &recognizer{}
	res, err := dialog.Run(ctx, c, s, dialog.Deps{ASR: rec, TTS: &ttstest.Synthesizer{}, Notifier: notes, Clock: clock,
		Vars: p.vars, Turn: p.turn})
	defer func() {
		if !t.Failed() {
			return
		}
		// What each side did, for the failure message.
		for _, tr := range res.Turns {
			t.Logf("turn %d at %s: input %s %q%s intent %q barge-in %v heard %q of %q → %s", tr.Seq, tr.Node, tr.Input,
				tr.Transcript, tr.DTMF, tr.Intent, tr.BargeIn, tr.Heard, tr.Prompt, tr.NextNode)
		}
		for _, r := range rec.all() {
			t.Logf("recognised %q from %v to %v (confidence %.2f)", r.Text, r.Start, r.End, r.Confidence)
		}
		if r, ok := d.lookup(c, number); ok && r.Person != nil {
			for _, u := range r.Person.Transcript() {
				t.Logf("callee said %q from %v to %v, bot talking %v", u.Text, u.Start, u.End, u.BotTalking)
			}
		}
	}()
	if err != nil {
		t.Fatalf("run: %v; outcome %+v", err, res.Outcome)
	}

	// What the PBX saw: a hang-up by the bot, or a transfer to the agent.
	if res.Outcome.End == dialog.EndTransfer {
		rec, err := d.waitFor(ctx, c, number, func(r record) bool { return r.Transfer != "" || r.Ended })
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rec.Transfer, agentNumber) {
			t.Errorf("transfer to %q, want the agent %s; record %s", rec.Transfer, agentNumber, rec.Raw)
		}
		if err := hangupAfterTransfer(ctx, c); err != nil {
			t.Errorf("hang up after the transfer: %v", err)
		}
	}
	log, err := d.waitFor(ctx, c, number, func(r record) bool { return r.Ended })
	if err != nil {
		t.Fatal(err)
	}
	if p.end == dialog.EndHangup && (log.HungUpBy != "app" || log.Transfer != "") {
		t.Errorf("the bot should have hung up without a transfer; record %s", log.Raw)
	}
	if log.Person == nil || log.Person.BotFrames() == 0 {
		t.Fatalf("the callee heard nothing; record %s", log.Raw)
	}
	if log.DTMF != p.dtmf {
		t.Errorf("callee pressed %q, want %q", log.DTMF, p.dtmf)
	}

	checkOutcome(t, p, res)
	checkNotes(t, p, res, notes.all())
	checkTurns(t, p, res, log.Person.Transcript())
	if p.check != nil {
		p.check(t, res)
	}
}

func checkOutcome(t *testing.T, p path, res dialog.Result) {
	t.Helper()
	o := res.Outcome
	if o.End != p.end {
		t.Errorf("end %q, want %q (tags %v)", o.End, p.end, o.Tags)
	}
	for _, tag := range p.tags {
		if !o.Has(tag) {
			t.Errorf("tags %v lack %q", o.Tags, tag)
		}
	}
	for _, tag := range p.absent {
		if o.Has(tag) {
			t.Errorf("tags %v have %q", o.Tags, tag)
		}
	}
	if res.TransferReason != p.reason {
		t.Errorf("transfer reason %q, want %q", res.TransferReason, p.reason)
	}
	for k, v := range p.slots {
		if got, ok := res.Slots[k]; !ok || got != v {
			t.Errorf("slot %s = %v (%T), want %v (%T); slots %v", k, got, got, v, v, res.Slots)
		}
	}
}

func checkNotes(t *testing.T, p path, res dialog.Result, got []dialog.Notification) {
	t.Helper()
	if len(got) != len(p.notify) {
		t.Errorf("%d notifications, want %d: %+v", len(got), len(p.notify), got)
	}
	for _, want := range p.notify {
		if !slices.ContainsFunc(got, func(n dialog.Notification) bool {
			return n.Channel == want.channel && n.To == want.to && strings.Contains(n.Text, want.text) && n.CallID == res.CallID
		}) {
			t.Errorf("no %s notification to %q with %q for call %s: %+v", want.channel, want.to, want.text, res.CallID, got)
		}
	}
}

// checkTurns checks the journal against what the callee did: the path through the script, the transcripts, and
// what the callee heard of each prompt.
func checkTurns(t *testing.T, p path, res dialog.Result, spoken []callee.Utterance) {
	t.Helper()
	if len(res.Turns) < 2 {
		t.Fatalf("%d turns", len(res.Turns))
	}
	turns := res.Turns[1:]
	var nodes, said []string
	for _, tr := range turns {
		nodes = append(nodes, tr.Node)
		if tr.Input == "utterance" {
			said = append(said, tr.Transcript)
		}
	}
	nodes = append(nodes, turns[len(turns)-1].NextNode)
	if !slices.Equal(nodes, p.nodes) {
		t.Errorf("nodes %q, want %q", nodes, p.nodes)
	}
	if !slices.Equal(said, p.said) {
		t.Errorf("transcripts %q, want %q", said, p.said)
	}
	if p.dtmf != "" && !slices.ContainsFunc(turns, func(tr dialog.Turn) bool { return tr.Input == "keys" && tr.DTMF == p.dtmf }) {
		t.Errorf("no turn took the keys %q", p.dtmf)
	}
	for _, tr := range turns {
		if tr.Node == p.bargeIn && tr.Seq == 1 {
			if !tr.BargeIn || tr.Heard == "" || len(tr.Heard) >= len(tr.Prompt) || !strings.HasPrefix(tr.Prompt, tr.Heard) {
				t.Errorf("turn %d at %s should be a barge-in with part of the prompt heard: barge-in %v, heard %q of %q",
					tr.Seq, tr.Node, tr.BargeIn, tr.Heard, tr.Prompt)
			}
			continue
		}
		if tr.BargeIn || tr.Heard != tr.Prompt {
			t.Errorf("turn %d at %s: barge-in %v, heard %q of %q; want the whole prompt heard", tr.Seq, tr.Node, tr.BargeIn,
				tr.Heard, tr.Prompt)
		}
	}
	// The callee's side: every step timed to talk over the bot did start while the bot was talking, so the barge-in
	// and backchannel checks above are about speech over a prompt.
	for _, st := range p.steps {
		if st.Action != callee.Say || st.When != callee.At {
			continue
		}
		i := slices.IndexFunc(spoken, func(u callee.Utterance) bool { return u.Text == st.Text })
		if i < 0 || !spoken[i].BotTalking {
			t.Errorf("the callee should have said %q over the bot: %+v", st.Text, spoken)
		}
	}
	if p.backchannel != "" && slices.ContainsFunc(turns, func(tr dialog.Turn) bool { return tr.Transcript == p.backchannel }) {
		t.Errorf("the backchannel %q was taken as a reply", p.backchannel)
	}
}
