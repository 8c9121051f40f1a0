package dialog

import (
	"testing"
	"time"
)

func TestBasicExtract(t *testing.T) {
	ref := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // a Monday
	tests := []struct {
		text, kind string
		want       any
	}{
		{"一千二", "amount", 1200.0},
		{"两万", "amount", 20000.0},
		{"三点五", "number", 3.5},
		{"五百块", "amount", 500.0},
		{"1500元", "amount", 1500.0},
		{"下周一还三百", "amount", 300.0},
		{"五号还一千二", "amount", 1200.0},
		{"明天", "date", "2026-03-03"},
		{"后天", "date", "2026-03-04"},
		{"下周三", "date", "2026-03-11"},
		{"周六", "date", "2026-03-07"},
		{"十五号", "date", "2026-03-15"},
		{"3月20日", "date", "2026-03-20"},
		{"下午三点", "time", "15:00"},
		{"零八幺五", "digits", "0815"},
		{"不是", "yesno", false},
		{"是的", "yesno", true},
	}
	for _, tc := range tests {
		got, ok := basicExtract(tc.text, tc.kind, ref)
		if !ok || got != tc.want {
			t.Errorf("%s %q = %v (%v), want %v", tc.kind, tc.text, got, ok, tc.want)
		}
	}
	for _, none := range []struct{ text, kind string }{{"你好", "amount"}, {"你好", "date"}, {"嗯", "digits"}} {
		if v, ok := basicExtract(none.text, none.kind, ref); ok {
			t.Errorf("%s %q = %v, want none", none.kind, none.text, v)
		}
	}
}

func TestKeywordNegation(t *testing.T) {
	in := &Intent{Name: IntentHuman, Keywords: []string{"人工"}}
	if m, ok := keywordMatch(in, "不需要人工", "不需要人工"); !ok || !m.Negated {
		t.Fatalf("negated: %+v %v", m, ok)
	}
	if m, ok := keywordMatch(in, "给我转人工", "给我转人工"); !ok || m.Negated || m.Score <= 0.5 {
		t.Fatalf("plain: %+v %v", m, ok)
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
	for _, s := range []string{"一千二百五十块", "下周日", "13月40日", "点点点", "十十十万万亿", "9999999999999999999999元", "\xff号"} {
		f.Add(s)
	}
	ref := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		for kind := range slotKinds {
			v, ok := basicExtract(s, kind, ref)
			if ok && v == nil {
				t.Fatalf("%s %q: ok with nil", kind, s)
			}
		}
		_, _ = parseChineseNumber(s)
	})
}
