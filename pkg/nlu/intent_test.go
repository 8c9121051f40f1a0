package nlu

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func commonMatcher(t testing.TB) *Matcher {
	t.Helper()
	m, err := NewMatcher(CommonIntents())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func top(ms []Match) string {
	if len(ms) == 0 {
		return ""
	}
	if ms[0].Negated {
		return "!" + ms[0].Intent
	}
	return ms[0].Intent
}

func has(ms []Match, intent string) bool {
	for _, m := range ms {
		if m.Intent == intent && !m.Negated {
			return true
		}
	}
	return false
}

func TestCommonIntents(t *testing.T) {
	m := commonMatcher(t)
	tests := []struct {
		text, want string
		not        []string
	}{
		{"是的", IntentConfirm, nil},
		{"是", IntentConfirm, nil},
		{"嗯，可以的", IntentConfirm, nil},
		{"没问题", IntentConfirm, []string{IntentDeny}},
		{"需要", IntentConfirm, nil},
		{"不需要", IntentRefuse, []string{IntentConfirm}},
		{"我不需要，谢谢", IntentRefuse, []string{IntentConfirm}},
		{"不用了", IntentRefuse, []string{IntentConfirm}},
		{"不是", IntentDeny, []string{IntentConfirm}},
		{"不对", IntentDeny, []string{IntentConfirm}},
		{"不可以", IntentDeny, []string{IntentConfirm}},
		{"帮我转人工", IntentHuman, nil},
		{"我要人工客服", IntentHuman, nil},
		{"不用转人工", "", []string{IntentHuman}},
		{"别转人工了", "", []string{IntentHuman}},
		{"我没在忙", "", []string{IntentBusy}},
		{"I'm not busy", "", []string{IntentBusy}},
		{"I don't want an agent", "", []string{IntentHuman}},
		{"别再打了", IntentOptOut, nil},
		{"以后不要再打这个电话了", IntentOptOut, []string{IntentDeny}},
		{"再说一遍", IntentRepeat, nil},
		{"没听清", IntentRepeat, nil},
		{"什么？", IntentRepeat, nil},
		{"你打错了", IntentWrongPerson, nil},
		{"我不是本人", IntentWrongPerson, []string{IntentConfirm, IntentDeny}},
		{"我在开会", IntentBusy, nil},
		{"现在不方便", IntentBusy, nil},
		{"你是谁", IntentWhoIsThis, []string{IntentConfirm}},
		{"你是机器人吗", IntentWhoIsThis, []string{IntentHuman, IntentConfirm}},
		{"对不起我刚才走神了", "", []string{IntentConfirm}},
		{"我是在银行上班", "", []string{IntentConfirm}},
		{"你好", "", []string{IntentConfirm}},
		{"我不太方便", IntentBusy, []string{IntentDeny}},
		{"能不能晚点再打", IntentBusy, []string{IntentDeny}},
		{"不，我没钱", IntentDeny, nil},
		{"不", IntentDeny, nil},
		{"可以转人工吗", IntentHuman, nil},
		{"別再打了", IntentOptOut, nil}, // traditional characters
		{"謝謝，不用了", IntentRefuse, []string{IntentConfirm}},
		{"不是我办的卡", IntentWrongPerson, []string{IntentConfirm}},
		// English
		{"I'm driving right now", IntentBusy, []string{IntentConfirm}},
		{"Not now, I'm busy", IntentBusy, nil},
		{"No, that's not me", IntentWrongPerson, nil},
		{"yes", IntentConfirm, nil},
		{"Yeah, that's right", IntentConfirm, nil},
		{"no problem", IntentConfirm, []string{IntentDeny}},
		{"No.", IntentDeny, nil},
		{"I know", "", []string{IntentDeny}},
		{"I don't need it", IntentRefuse, []string{IntentConfirm}},
		{"I no longer need it", "", []string{IntentConfirm}},
		{"not interested", IntentRefuse, nil},
		{"Can I talk to a real person?", IntentHuman, nil},
		{"I want an agent", IntentHuman, nil},
		{"Stop calling me", IntentOptOut, nil},
		{"please remove my number", IntentOptOut, nil},
		{"sorry, say again?", IntentRepeat, nil},
		{"You have the wrong number", IntentWrongPerson, nil},
		{"I'm busy, call me later", IntentBusy, nil},
		{"who is this", IntentWhoIsThis, nil},
		{"", "", nil},
		{"。。。", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			got := m.Match(tc.text)
			if tc.want != "" && top(got) != tc.want {
				t.Errorf("Match(%q) top = %q, want %q (all %+v)", tc.text, top(got), tc.want, got)
			}
			for _, n := range tc.not {
				if has(got, n) {
					t.Errorf("Match(%q) = %+v, must not contain %q", tc.text, got, n)
				}
			}
		})
	}
}

func TestMatcherNegatable(t *testing.T) {
	m, err := NewMatcher([]IntentDef{
		{Name: "need_loan", Keywords: []string{"贷款", "loan"}, Negatable: true},
		{Name: "insurance", Keywords: []string{"保险", "insurance"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text    string
		want    string
		negated bool
		none    bool
	}{
		{text: "我想要贷款", want: "need_loan"},
		{text: "我不要贷款", want: "need_loan", negated: true},
		{text: "我不是不要贷款", want: "need_loan"}, // double negation
		{text: "I don't want a loan", want: "need_loan", negated: true},
		{text: "I need a loan", want: "need_loan"},
		{text: "没有保险", none: true}, // not negatable: suppressed
		{text: "我有保险", want: "insurance"},
		{text: "不，我要贷款", want: "need_loan"}, // the clause break stops negation
	}
	for _, tc := range tests {
		got := m.Match(tc.text)
		if tc.none {
			if len(got) != 0 {
				t.Errorf("Match(%q) = %+v, want none", tc.text, got)
			}
			continue
		}
		if len(got) == 0 || got[0].Intent != tc.want || got[0].Negated != tc.negated {
			t.Errorf("Match(%q) = %+v, want %s negated=%v", tc.text, got, tc.want, tc.negated)
		}
	}
}

func TestMatcherPatternsExamplesSpan(t *testing.T) {
	m, err := NewMatcher([]IntentDef{
		{Name: "pay_date", Patterns: []string{`(\d+|[一二三四五六七八九十]+)号(还|付)`}},
		{Name: "ask_rate", Examples: []string{"利息是多少", "what is the interest rate"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := m.Match("我十五号还吧")
	if top(got) != "pay_date" || got[0].Span != "十五号还" {
		t.Errorf("pattern: %+v", got)
	}
	got = m.Match("利息多少啊")
	if top(got) != "ask_rate" || got[0].Score >= 0.9 {
		t.Errorf("example: %+v", got)
	}
	if got := m.Match("What's the interest rate?"); top(got) != "ask_rate" {
		t.Errorf("example en: %+v", got)
	}
	if got := m.Match("今天天气不错"); len(got) != 0 {
		t.Errorf("unrelated: %+v", got)
	}
	// Span keeps the callee's original (full-width) text.
	m2, _ := NewMatcher([]IntentDef{{Name: "ok", Keywords: []string{"ok"}}})
	if got := m2.Match("ＯＫ啦"); top(got) != "ok" || got[0].Span != "ＯＫ" {
		t.Errorf("full width: %+v", got)
	}
}

func TestMatcherRanking(t *testing.T) {
	m := commonMatcher(t)
	got := m.Match("嗯，不需要了")
	if top(got) != IntentRefuse {
		t.Fatalf("got %+v", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Score > got[i-1].Score {
			t.Errorf("not ranked: %+v", got)
		}
	}
	for _, g := range got {
		if g.Score <= 0 || g.Score > 1 {
			t.Errorf("score out of range: %+v", g)
		}
	}
}

func TestNewMatcherErrors(t *testing.T) {
	tests := []struct {
		name string
		defs []IntentDef
		want string
	}{
		{"bad regexp", []IntentDef{{Name: "pay", Patterns: []string{"(unclosed"}}}, `"pay"`},
		{"no name", []IntentDef{{Keywords: []string{"x"}}}, "no name"},
		{"duplicate", []IntentDef{{Name: "a"}, {Name: "a"}}, "twice"},
		{"empty keyword", []IntentDef{{Name: "a", Keywords: []string{" "}}}, "empty keyword"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewMatcher(tc.defs)
			if !errors.Is(err, ErrBadIntent) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrBadIntent mentioning %s", err, tc.want)
			}
		})
	}
}

func TestMatcherClassify(t *testing.T) {
	m := commonMatcher(t)
	if names := m.Intents(); len(names) != 9 || names[0] != IntentConfirm || names[8] != IntentWhoIsThis {
		t.Errorf("Intents() = %v", names)
	}
	got, err := m.Classify(context.Background(), "不需要，别再打了", []string{IntentRefuse, IntentConfirm})
	if err != nil || len(got) != 1 || got[0].Intent != IntentRefuse {
		t.Errorf("Classify restricted = %+v, %v", got, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Classify(ctx, "是的", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range []string{"不需要", "是的", "I don't need it", "ＯＫ", "别再打了!!", "\xff\xfe", "no no no", "'''", "不不不不"} {
		f.Add(s)
	}
	m := commonMatcher(f)
	f.Fuzz(func(t *testing.T, s string) {
		for _, g := range m.Match(s) {
			if g.Score <= 0 || g.Score > 1 || g.Intent == "" {
				t.Fatalf("bad match %+v for %q", g, s)
			}
		}
	})
}

// TestCommonIntentStructures: the opt-out, who-is-this and call-later patterns recognise the structure (a
// prohibitive over a verb of calling; asking where the call is from; a later time and a call), not a list of
// sentences, and do not fire on their look-alikes.
func TestCommonIntentStructures(t *testing.T) {
	m := commonMatcher(t)
	for _, tc := range []struct{ text, want string }{
		{"你们别老给我打电话", IntentOptOut},
		{"莫再打了", IntentOptOut},
		{"不要再来电了", IntentOptOut},
		{"你们别再骚扰我了", IntentOptOut},
		{"请问您是哪里", IntentWhoIsThis},
		{"你们是什么机构", IntentWhoIsThis},
		{"下午再打过来吧", IntentBusy},
		{"等一会儿再打给我", IntentBusy},
	} {
		if ms := m.Match(tc.text); !has(ms, tc.want) {
			t.Errorf("Match(%q) = %+v, want %s", tc.text, ms, tc.want)
		}
	}
	for _, text := range []string{"我不要打折", "这个是什么意思", "别着急"} {
		if ms := m.Match(text); has(ms, IntentOptOut) || has(ms, IntentWhoIsThis) || has(ms, IntentBusy) {
			t.Errorf("Match(%q) = %+v, want no opt-out, who-is-this or busy", text, ms)
		}
	}
}
