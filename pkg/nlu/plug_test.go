package nlu

import (
	"testing"
	"time"
)

func TestExtractAny(t *testing.T) {
	tests := []struct {
		text, kind string
		want       any
	}{
		{"一千二百五十块", "amount", 1250.0},
		{"两万", "number", 20000.0},
		{"百分之五", "percent", 5.0},
		{"明天", "date", day(2026, 11, 24)},
		{"不是", "yesno", false},
		{"尾号六七八九", "digits", "6789"},
	}
	for _, tc := range tests {
		got, ok := ExtractAny(tc.text, tc.kind, ref)
		if !ok {
			t.Errorf("ExtractAny(%q, %s) found nothing", tc.text, tc.kind)
			continue
		}
		if tt, isTime := got.(time.Time); isTime {
			if !tt.Equal(tc.want.(time.Time)) {
				t.Errorf("ExtractAny(%q, %s) = %v, want %v", tc.text, tc.kind, got, tc.want)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("ExtractAny(%q, %s) = %#v, want %#v", tc.text, tc.kind, got, tc.want)
		}
	}
	if _, ok := ExtractAny("一千", "colour", ref); ok {
		t.Error("unknown kind must find nothing")
	}
	if v, ok := ExtractAny("下午三点", "time", ref); !ok || v.(time.Time).Hour() != 15 {
		t.Errorf("time: %v %v", v, ok)
	}
}

func TestKnowledgeBaseAnswer(t *testing.T) {
	kb := NewKnowledgeBase(faqs)
	if a, ok := kb.Answer("怎么还款"); !ok || a != "可以在 APP 一键还款。" {
		t.Errorf("Answer = %q, %v", a, ok)
	}
	if a, ok := kb.Answer("今天天气怎么样"); ok {
		t.Errorf("off-topic answered %q", a)
	}
}
