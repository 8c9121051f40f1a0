package dialog

import (
	"strings"
	"testing"
	"time"
)

func TestSlotValue(t *testing.T) {
	ref := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // a Monday
	tests := []struct {
		text, kind string
		want       any
	}{
		{"还一千二", "amount", 1200.0},
		{"先还两万", "amount", 20000.0},
		{"三点五", "number", 3.5},
		{"五百块", "amount", 500.0},
		{"1500元", "amount", 1500.0},
		{"3500块", "amount", 3500.0},
		{"三千五百块钱", "amount", 3500.0},
		{"下周一还三百", "amount", 300.0},
		{"五号还一千二", "amount", 1200.0},
		{"明天", "date", "2026-03-03"},
		{"后天", "date", "2026-03-04"},
		{"下周三", "date", "2026-03-11"},
		{"周六", "date", "2026-03-07"},
		{"十五号", "date", "2026-03-15"},
		{"月底吧", "date", "2026-03-31"},
		{"3月20日", "date", "2026-03-20"},
		{"明天还可以吗?", "date", "2026-03-03"},
		{"下午三点", "time", "15:00"},
		{"零八幺五", "digits", "0815"},
		{"不是", "yesno", false},
		{"是的", "yesno", true},
	}
	for _, tc := range tests {
		got, ok := slotValue(tc.text, tc.kind, ref)
		if !ok || got != tc.want {
			t.Errorf("%s %q = %v (%v), want %v", tc.kind, tc.text, got, ok, tc.want)
		}
	}
	// Words that hold a numeral character but no number, and questions that propose nothing.
	for _, none := range []struct{ text, kind string }{
		{"你好", "amount"}, {"你好", "date"}, {"嗯", "digits"},
		{"明天下午我一定还上", "amount"}, {"98折是什么意思?", "amount"}, {"九折是吧", "amount"},
		{"我一直在还", "amount"}, {"一起还行不行", "amount"}, {"万一还不上呢", "amount"}, {"十分抱歉我还不上", "amount"},
		{"百分之五的利息吗", "amount"}, {"一般都是月初还", "amount"}, {"跟上次不一样", "amount"}, {"我先看一下", "amount"},
		{"今天天气怎么样", "date"}, {"今天是什么日子啊?", "date"},
	} {
		if v, ok := slotValue(none.text, none.kind, ref); ok {
			t.Errorf("%s %q = %v, want none", none.kind, none.text, v)
		}
	}
}

func TestNegationScope(t *testing.T) {
	sim := finSim(t, 1)
	for text, want := range map[string]string{
		"不需要人工":      IntentRefuse,
		"给我转人工":      IntentHuman,
		"不是不想还,是真没钱": "cannot_pay",
	} {
		got, _ := sim.conv.classify(t.Context(), sim.conv.s.Nodes["gentle"], text)
		if got != want {
			t.Errorf("%q: intent %q, want %q", text, got, want)
		}
	}
}

func finSim(t *testing.T, days int) *Simulator {
	t.Helper()
	s, err := LoadFile("../examples/finance-overdue/script.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sim, err := NewSimulator(s, fin(days), Options{Now: monday})
	if err != nil {
		t.Fatal(err)
	}
	return sim
}

// The bugs of issue 17, each as the call that showed it.
func TestIssue17Bugs(t *testing.T) {
	t.Run("一定 is no amount and the SMS quotes only what was confirmed", func(t *testing.T) {
		sim := finSim(t, 1)
		r := sim.Say("明天下午我一定还上")
		if r.Intent != "will_pay" || sim.Slots()["pay_amount"] == 1.0 {
			t.Fatalf("intent %q slots %v", r.Intent, sim.Slots())
		}
		if len(sim.Notifications()) != 0 || !strings.Contains(r.Prompt, "对吗") {
			t.Fatalf("a side effect before the read-back: %q %v", r.Prompt, sim.Notifications())
		}
		sim.Say("对的")
		ns := sim.Notifications()
		if len(ns) != 1 || strings.Contains(ns[0].Text, " 1.00元") || !strings.Contains(ns[0].Text, "980.00元") {
			t.Fatalf("notifications %+v", ns)
		}
	})
	t.Run("98折 is no amount", func(t *testing.T) {
		sim := finSim(t, 1)
		r := sim.Say("98折是什么意思?")
		if _, ok := sim.Slots()["pay_amount"]; ok || sim.Done() {
			t.Fatalf("slots %v reply %+v", sim.Slots(), r)
		}
		sim.Say("好的,我今天就还")
		sim.Say("嗯,对")
		for _, n := range sim.Notifications() {
			if strings.Contains(n.Text, "98.00") {
				t.Fatalf("promise of 98.00: %q", n.Text)
			}
		}
	})
	t.Run("a question about the weather sets no date", func(t *testing.T) {
		sim := finSim(t, 1)
		sim.Say("今天天气怎么样")
		if _, ok := sim.Slots()["pay_date"]; ok {
			t.Fatalf("slots %v", sim.Slots())
		}
	})
	for _, angry := range []string{"你们烦不烦啊,天天打电话,别再打了!", "Stop calling me, this is harassment!", "stop harassing me you idiots"} {
		t.Run("angry opt-out is recorded: "+angry, func(t *testing.T) {
			sim := finSim(t, 1)
			r := sim.Say(angry)
			o := sim.Outcome()
			if r.Intent != IntentOptOut || !o.OptOut || !o.Has(TagOptOut) || !sim.Done() {
				t.Fatalf("intent %q outcome %+v", r.Intent, o)
			}
		})
	}
	t.Run("who is this answers with the identity and stays", func(t *testing.T) {
		sim := finSim(t, 1)
		r := sim.Say("你们是哪里?")
		if r.Intent != IntentWhoIsThis || r.Node != "gentle" || strings.Contains(r.Prompt, "没有听明白") ||
			!strings.Contains(r.Prompt, "信用卡中心") {
			t.Fatalf("reply %+v", r)
		}
	})
	t.Run("嗯嗯 at gentle is a yes (the script routes it)", func(t *testing.T) {
		sim := finSim(t, 1)
		r := sim.Say("嗯嗯")
		if r.Intent != IntentConfirm || r.Node != "ask_promise" {
			t.Fatalf("reply %+v", r)
		}
	})
	t.Run("a question about instalments is answered, then the node resumes", func(t *testing.T) {
		sim := finSim(t, 1)
		r := sim.Say("请问分期要手续费吗?")
		if !r.FAQ || r.Node != "gentle" || !strings.Contains(r.Prompt, "手续费") {
			t.Fatalf("reply %+v", r)
		}
	})
}

// No side effect quotes a value the callee did not confirm: a no goes back to ask, a correction is read back.
func TestReadBackBeforeSideEffects(t *testing.T) {
	sim := finSim(t, 12)
	r := sim.Say("下周三还3500块")
	if r.Node != "promise" || !strings.Contains(r.Prompt, "3500.00") || !strings.Contains(r.Prompt, "2026-03-11") || r.Done {
		t.Fatalf("read-back %+v", r)
	}
	r = sim.Say("不对,是15号")
	if !strings.Contains(r.Prompt, "2026-03-15") || len(sim.Notifications()) != 0 {
		t.Fatalf("correction %+v", r)
	}
	r = sim.Say("不是")
	if r.Node != "ask_promise" || len(sim.Notifications()) != 0 {
		t.Fatalf("no %+v", r)
	}
	if _, ok := sim.Slots()["pay_date"]; ok {
		t.Fatalf("slots kept after a no: %v", sim.Slots())
	}
	sim.Say("那就月底还三千")
	r = sim.Say("对,没错")
	ns := sim.Notifications()
	if !r.Done || len(ns) != 1 || !strings.Contains(ns[0].Text, "2026-03-31") || !strings.Contains(ns[0].Text, "3000.00") {
		t.Fatalf("reply %+v notifications %+v", r, ns)
	}
}

func TestConfirmRequired(t *testing.T) {
	src := `
name: t
start: a
slots: [{name: d, kind: date}]
nodes:
  a:
    say: ["哪天?"]
    capture: [d]
    routes: [{goto: b}]
  b:
    say: ["好"]
    end: {notify: [{channel: sms, text: "{{.d}}"}]}
`
	if _, err := Load([]byte(src), "t.yaml"); err == nil || !strings.Contains(err.Error(), "confirm") {
		t.Fatalf("err %v", err)
	}
}

func TestMoodHysteresis(t *testing.T) {
	m, r := moodOf(Calm, 0, -0.4)
	if m != Calm {
		t.Fatalf("one mild complaint: %v", m)
	}
	m, r = moodOf(m, r, -0.4)
	if m != Upset {
		t.Fatalf("two complaints: %v (%v)", m, r)
	}
	m, r = moodOf(m, r, 0) // -0.15: still upset (hysteresis)
	if m != Upset {
		t.Fatalf("hysteresis: %v (%v)", m, r)
	}
	m, _ = moodOf(m, r, 0.3)
	if m != Calm {
		t.Fatalf("calmed: %v", m)
	}
	if m, _ = moodOf(Calm, 0, -1); m != Agitated {
		t.Fatalf("furious: %v", m)
	}
}

func FuzzExtract(f *testing.F) {
	for _, s := range []string{"一千二百五十块", "下周日", "13月40日", "点点点", "十十十万万亿", "9999999999999999999999元", "\xff号", "一定", "98折"} {
		f.Add(s)
	}
	ref := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		for kind := range slotKinds {
			v, ok := slotValue(s, kind, ref)
			if ok && v == nil {
				t.Fatalf("%s %q: ok with nil", kind, s)
			}
		}
	})
}
