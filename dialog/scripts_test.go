package dialog

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/nlu"
)

// pathCase is one conversation through a sector script: contact record, callee inputs, and what must happen.
type pathCase struct {
	name     string
	vars     map[string]any
	inputs   []Input
	path     []string       // nodes entered, in order (prefix of the whole path when partial)
	tags     []string       // outcome tags that must be set
	end      EndAction      // how it must end
	slots    map[string]any // slots that must hold these values
	prompt   string         // substring of some prompt
	notify   []string       // channel:substring of a notification
	reason   string         // transfer reason
	optOut   bool
	callback bool
}

func runPaths(t *testing.T, file string, cases []pathCase) {
	t.Helper()
	s, err := LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim, err := NewSimulator(s, tc.vars, Options{Now: monday})
			if err != nil {
				t.Fatal(err)
			}
			for i, in := range tc.inputs {
				if sim.Done() {
					t.Fatalf("ended before input %d (%+v); path %v", i, in, sim.Path())
				}
				if _, err := sim.Step(in); err != nil {
					t.Fatal(err)
				}
			}
			o := sim.Outcome()
			path := sim.Path()
			if tc.path != nil && !slices.Equal(path, tc.path) {
				t.Errorf("path %v, want %v", path, tc.path)
			}
			for _, tag := range tc.tags {
				if !o.Has(tag) {
					t.Errorf("outcome tags %v lack %q", o.Tags, tag)
				}
			}
			if tc.end != "" && (o.End != tc.end || !sim.Done()) {
				t.Errorf("end %q done %v, want %q", o.End, sim.Done(), tc.end)
			}
			for k, v := range tc.slots {
				if got := sim.Slots()[k]; got != v {
					t.Errorf("slot %s = %v (%T), want %v", k, got, got, v)
				}
			}
			if tc.prompt != "" && !slices.ContainsFunc(sim.Prompts(), func(p string) bool { return strings.Contains(p, tc.prompt) }) {
				t.Errorf("no prompt contains %q: %q", tc.prompt, sim.Prompts())
			}
			for _, want := range tc.notify {
				ch, sub, _ := strings.Cut(want, ":")
				if !slices.ContainsFunc(sim.Notifications(), func(n Notification) bool {
					return n.Channel == ch && strings.Contains(n.Text+" "+n.To, sub)
				}) {
					t.Errorf("no %s notification with %q: %+v", ch, sub, sim.Notifications())
				}
			}
			if tc.reason != "" && o.TransferReason != tc.reason {
				t.Errorf("transfer reason %q, want %q", o.TransferReason, tc.reason)
			}
			if o.OptOut != tc.optOut {
				t.Errorf("opt-out %v", o.OptOut)
			}
			if tc.callback != !o.CallbackAt.IsZero() {
				t.Errorf("callback at %v", o.CallbackAt)
			}
			for _, p := range sim.Prompts() {
				if strings.Contains(p, "<no value>") || strings.Contains(p, "{{") {
					t.Errorf("unrendered prompt %q", p)
				}
			}
		})
	}
}

// monday is the clock of the scripts' paths: dates the callees say are read against Monday 2026-03-02.
func monday() time.Time { return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) }

// TestSimulatorClock: the simulator reads dates against the real clock unless Options.Now says otherwise (it used
// to use a fixed 2026-03-02 whatever the options, so the chat example heard "明天" as 2026-03-03 in December).
func TestSimulatorClock(t *testing.T) {
	s, err := LoadFile("../examples/finance-overdue/script.yaml")
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	sim, err := NewSimulator(s, fin(1), Options{})
	if err != nil {
		t.Fatal(err)
	}
	sim.Say("我明天还")
	after := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	if got := sim.Slots()["pay_date"]; got != before && got != after {
		t.Errorf("with the default clock 明天 is %v, want %s", got, after)
	}
	sim, err = NewSimulator(s, fin(1), Options{Now: monday})
	if err != nil {
		t.Fatal(err)
	}
	sim.Say("我明天还")
	if got := sim.Slots()["pay_date"]; got != "2026-03-03" {
		t.Errorf("with Options.Now 明天 is %v, want 2026-03-03", got)
	}
}

func fin(days int, extra ...any) map[string]any {
	v := map[string]any{"name": "张三", "overdue_days": days, "amount": 1000.0}
	for i := 0; i+1 < len(extra); i += 2 {
		v[extra[i].(string)] = extra[i+1]
	}
	return v
}

func TestFinanceOverdueScript(t *testing.T) {
	runPaths(t, "../examples/finance-overdue/script.yaml", []pathCase{
		{name: "gentle promise with date", vars: fin(1), inputs: []Input{Say("好的,我明天还"), Say("对的")},
			path: []string{"tier", "gentle", "promise"}, tags: []string{"tier_gentle", "promise_to_pay"}, end: EndHangup,
			slots: map[string]any{"pay_date": "2026-03-03", "pay_amount": 980.0}, prompt: "98折",
			notify: []string{"sms:2026-03-03还款980.00元"}},
		{name: "instalment 30 percent", vars: fin(5), inputs: []Input{Say("可以分期"), Say("下周一还三百"), Say("嗯对")},
			path: []string{"tier", "instalment_offer", "ask_promise", "promise"}, tags: []string{"tier_instalment", "instalment", "promise_to_pay"},
			end: EndHangup, slots: map[string]any{"pay_amount": 300.0, "pay_date": "2026-03-09"}, prompt: "首期仅需支付30%,即300.00元"},
		{name: "urgent with penalty, amount in chinese", vars: fin(12), inputs: []Input{Say("五号还一千二"), Say("是的")},
			path: []string{"tier", "urgent", "promise"}, end: EndHangup, prompt: "已逾期12天",
			slots: map[string]any{"pay_amount": 1200.0, "pay_date": "2026-03-05"}},
		{name: "high risk to human with alert", vars: fin(20, "risk", "high"),
			path: []string{"tier", "risk_human"}, tags: []string{"high_risk", "risk_alert", "human"}, end: EndTransfer,
			reason: "risk", notify: []string{"alert:风险等级high"}},
		{name: "agitated to human with alert", vars: fin(9), inputs: []Input{Say("你们这些骗子烦死了,滚!")},
			tags: []string{"agitated", "risk_alert"}, end: EndTransfer, reason: "risk", notify: []string{"alert:情绪agitated"}},
		{name: "upset gets soft variant", vars: fin(1), inputs: []Input{Say("烦"), Say("真烦")},
			prompt: "不好意思打扰您了"},
		{name: "cannot pay instalment then hardship", vars: fin(1), inputs: []Input{Say("我现在没钱"), Say("还是还不上")},
			path: []string{"tier", "gentle", "instalment_offer", "risk_human"}, tags: []string{"hardship"}, end: EndTransfer},
		{name: "already paid", vars: fin(2), inputs: []Input{Say("我昨天已经还了")}, tags: []string{"already_paid"}, end: EndHangup},
		{name: "opt out", vars: fin(2), inputs: []Input{Say("别再打了")}, tags: []string{TagOptOut}, end: EndHangup, optOut: true},
		{name: "human requested", vars: fin(4), inputs: []Input{Say("我要转人工")}, tags: []string{TagHuman}, end: EndTransfer, reason: "requested"},
		{name: "not negated human", vars: fin(4), inputs: []Input{Say("不需要人工,我分期")}, path: []string{"tier", "instalment_offer", "ask_promise"}},
		{name: "busy schedules callback", vars: fin(4), inputs: []Input{Say("我在开会,明天下午三点再打")}, tags: []string{TagCallback},
			end: EndHangup, callback: true},
		{name: "wrong person", vars: fin(4), inputs: []Input{Say("你打错了")}, tags: []string{TagWrongPerson}, end: EndHangup},
		{name: "repeat replays", vars: fin(4), inputs: []Input{Say("你说什么,再说一遍")}, path: []string{"tier", "instalment_offer"},
			prompt: "首期仅需"},
		{name: "three unresolved to human", vars: fin(12), inputs: []Input{Say("嗯哼哈"), Silence(), Say("那个那个")},
			tags: []string{TagUnresolved, "risk_alert"}, end: EndTransfer, reason: "risk"},
		{name: "faq answered then resumes", vars: fin(1), inputs: []Input{Say("在哪里还款"), Say("好,明天还"), Say("对")},
			path: []string{"tier", "gentle", "promise"}, prompt: "首页点击一键还款", end: EndHangup},
		{name: "callee hangs up", vars: fin(1), inputs: []Input{HungUp()}, tags: []string{TagHangup}, end: EndCalleeHangup},
	})
}

func TestFinanceSilenceEscalates(t *testing.T) {
	s, err := LoadFile("../examples/finance-overdue/script.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.Settings.MaxUnresolved = 10
	sim, err := Simulate(s, fin(1), Silence(), Silence(), Silence())
	if err != nil {
		t.Fatal(err)
	}
	o := sim.Outcome()
	if !o.Has(TagNoResponse) || o.End != EndHangup {
		t.Fatalf("outcome %+v", o)
	}
	ps := sim.Prompts()
	if !strings.Contains(ps[1], "您还在听吗") || ps[1] == ps[2] {
		t.Fatalf("re-prompts should vary: %q", ps)
	}
}

func TestEcommerceScript(t *testing.T) {
	order := map[string]any{"name": "李女士", "scenario": "order_confirm", "order_id": "A1001", "product": "保温杯", "amount": 89.0, "address": "南山区科技园1号"}
	with := func(m map[string]any, kv ...string) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	runPaths(t, "../examples/ecommerce/script.yaml", []pathCase{
		{name: "order confirmed", vars: order, inputs: []Input{Say("对的没问题")}, tags: []string{"order_confirmed"}, end: EndHangup, prompt: "89.00元"},
		{name: "address changed", vars: order, inputs: []Input{Say("地址不对"), Say("福田区车公庙二号")},
			path: []string{"scenario", "order_confirm", "ask_address", "address_updated"}, tags: []string{"address_changed"},
			slots: map[string]any{"new_address": "福田区车公庙二号"}, notify: []string{"webhook:福田区车公庙二号"}},
		{name: "order cancelled", vars: order, inputs: []Input{Say("不要了,取消吧")}, tags: []string{"order_cancelled"}},
		{name: "logistics new eta accepted", vars: with(order, "scenario", "logistics", "issue", "滞留", "location", "杭州转运中心", "eta", "后天"),
			inputs: []Input{Say("可以")}, tags: []string{"logistics_accepted"}, prompt: "包裹目前在杭州转运中心,预计后天送达"},
		{name: "logistics rescheduled", vars: with(order, "scenario", "logistics", "location", "杭州", "eta", "明天"),
			inputs: []Input{Say("明天不在家"), Say("周六吧"), Say("对的")}, tags: []string{"logistics_rescheduled"},
			slots: map[string]any{"new_date": "2026-03-07"}},
		{name: "recall high value coupon", vars: with(order, "scenario", "recall", "segment", "high_value"),
			inputs: []Input{Say("好啊发给我")}, tags: []string{"rfm_high_value", "recall_interested"}, prompt: "50元专属优惠券",
			notify: []string{"sms:专属优惠券已到账"}},
		{name: "recall price sensitive discount", vars: with(order, "scenario", "recall", "segment", "price_sensitive"),
			inputs: []Input{Say("不需要")}, tags: []string{"rfm_price_sensitive", "recall_declined"}, prompt: "限时八折"},
		{name: "bad review recovered", vars: with(order, "scenario", "review", "review_issue", "质量差"),
			inputs: []Input{Say("可以接受"), Say("好的我去改")},
			path:   []string{"scenario", "review_apology", "review_ask_update", "review_thanks"},
			tags:   []string{"compensation_accepted", "review_update_promised"}, prompt: "非常抱歉", notify: []string{"webhook:同意修改评价"}},
		{name: "compensation rejected to human", vars: with(order, "scenario", "review", "review_issue", "物流慢"),
			inputs: []Input{Say("不行,这点补偿不够")}, end: EndTransfer, reason: "compensation_rejected"},
	})
}

func TestHealthcareScript(t *testing.T) {
	appt := map[string]any{"name": "赵大爷", "scenario": "appointment", "age": 72, "appt_date": "3月5日", "appt_time": "上午9点"}
	runPaths(t, "../examples/healthcare/script.yaml", []pathCase{
		{name: "elderly slow with sms", vars: appt, inputs: []Input{Say("能去")}, path: []string{"scenario", "appt_elderly", "appt_elderly_ok"},
			tags: []string{"elderly", "appointment_confirmed"}, notify: []string{"sms:3月5日上午9点"}},
		{name: "adult appointment rescheduled", vars: map[string]any{"name": "钱先生", "scenario": "appointment", "age": 35},
			inputs: []Input{Say("那天去不了,改个时间"), Say("下周三"), Say("对")}, tags: []string{"appointment_rescheduled"},
			slots: map[string]any{"new_date": "2026-03-11"}},
		{name: "blood pressure high alerts doctor", vars: map[string]any{"name": "孙阿姨", "scenario": "followup"},
			inputs: []Input{Say("有点头晕"), Say("是的,每天都吃了"), Say("高压一百五十,低压九十五"), Say("对的")},
			path:   []string{"scenario", "fu_symptoms", "fu_adherence", "fu_measure", "fu_bp", "alert"},
			tags:   []string{"bp_abnormal", "doctor_alert"}, slots: map[string]any{"symptom": "头晕", "adherent": true, "systolic": 150.0, "diastolic": 95.0},
			notify: []string{"alert:血压150/95"}},
		{name: "blood pressure normal", vars: map[string]any{"name": "孙阿姨", "scenario": "followup"},
			inputs: []Input{Say("没有不舒服"), Say("是的按时吃"), Say("高压一百二,低压八十"), Say("对")},
			tags:   []string{"followup_done"}, slots: map[string]any{"systolic": 120.0, "diastolic": 80.0, "symptom": "无"},
			notify: []string{"webhook:血压120/80"}},
		{name: "glucose high", vars: map[string]any{"name": "周先生", "scenario": "followup", "condition": "diabetes"},
			inputs: []Input{Say("有点乏力"), Say("有时候忘了吃,没有每天吃"), Say("八点五"), Say("是的")},
			tags:   []string{"glucose_abnormal", "doctor_alert"}, slots: map[string]any{"glucose": 8.5, "adherent": false},
			// The diabetic patient's alert gives the glucose, not an unmeasured "血压0/0".
			notify: []string{"alert:指标异常:周先生 血糖8.5 症状乏力"}},
		{name: "education repeated", vars: map[string]any{"name": "吴女士", "scenario": "education"},
			inputs: []Input{Say("再听一遍"), Say("不用了,听清楚了")},
			path:   []string{"scenario", "education", "education", "edu_bye"}, tags: []string{"education_repeated", "education_done"}},
	})
	s, _ := LoadFile("../examples/healthcare/script.yaml")
	sim, err := NewSimulator(s, appt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sp := sim.Last().Speed; sp != 0.8 {
		t.Fatalf("elderly prompt speed %v, want 0.8", sp)
	}
}

func TestGovernmentScript(t *testing.T) {
	runPaths(t, "../examples/government/script.yaml", []pathCase{
		{name: "policy eligible", vars: map[string]any{"name": "陈大爷", "scenario": "policy"},
			inputs: []Input{Say("想"), Say("是的,本市户口"), Say("对,满了")},
			path:   []string{"scenario", "policy", "elig_resident", "elig_age", "elig_result", "eligible"},
			tags:   []string{"policy_eligible"}, slots: map[string]any{"resident": true}, notify: []string{"sms:符合高龄津贴"}},
		{name: "policy not eligible", vars: map[string]any{"name": "陈先生", "scenario": "policy"},
			inputs: []Input{Say("好的"), Say("是"), Say("没有,还差几岁")}, tags: []string{"policy_not_eligible"}},
		{name: "service by dtmf", vars: map[string]any{"name": "林女士", "scenario": "service", "id_last4": "1234", "employer": "星光科技", "base": 8000},
			inputs: []Input{Press("1234"), Say("对的")}, path: []string{"scenario", "id_check", "info_confirm", "next_step"},
			tags: []string{"identity_verified", "info_confirmed"}, slots: map[string]any{"id_tail": "1234"}},
		{name: "service by voice, retry fails", vars: map[string]any{"name": "林女士", "scenario": "service", "id_last4": "1234"},
			inputs: []Input{Say("五六七八"), Say("四三二一")}, tags: []string{"identity_failed"}},
		{name: "service info mismatch", vars: map[string]any{"name": "林女士", "scenario": "service", "id_last4": "0815", "employer": "星光科技"},
			inputs: []Input{Say("零八幺五"), Say("不对,我换单位了")}, end: EndTransfer, reason: "info_mismatch"},
		{name: "feedback classified", vars: map[string]any{"name": "市民", "scenario": "feedback"},
			inputs: []Input{Say("南山区我家楼下水管爆管了,好几天了")}, tags: []string{"feedback_recorded"},
			slots:  map[string]any{"dept": "供水", "district": "南山区", "urgency": "紧急"},
			notify: []string{`webhook:"dept":"供水","district":"南山区","urgency":"紧急"`}},
		{name: "feedback asks missing district", vars: map[string]any{"name": "市民", "scenario": "feedback"},
			inputs: []Input{Say("晚上广场噪音太大"), Say("在东城")}, path: []string{"scenario", "feedback", "fb_district", "fb_record"},
			slots: map[string]any{"dept": "环境", "district": "东城区", "urgency": "一般"}},
	})
}

// The sector scripts also run with pkg/nlu's understanding plugged in.
func TestFinanceWithNLU(t *testing.T) {
	s, err := LoadFile("../examples/finance-overdue/script.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sim, err := NewSimulator(s, fin(12), Options{Sentiment: nlu.Sentiment, Now: monday})
	if err != nil {
		t.Fatal(err)
	}
	sim.Say("本月十五号还一千二百五十块")
	sim.Say("对的")
	if sim.Slots()["pay_amount"] != 1250.0 || sim.Slots()["pay_date"] != "2026-03-15" || !sim.Outcome().Has("promise_to_pay") {
		t.Fatalf("slots %v outcome %+v", sim.Slots(), sim.Outcome())
	}
}
