package nlu

import (
	"errors"
	"testing"
)

func TestSentiment(t *testing.T) {
	tests := []struct {
		text     string
		min, max float64
	}{
		{"好的，谢谢你", 0.3, 1},
		{"非常满意", 0.6, 1},
		{"thanks, that's very helpful", 0.5, 1},
		{"你们是骗子", -1, -0.6},
		{"气死了，我要投诉你们", -1, -0.8},
		{"太烦了", -1, -0.6},
		{"烦", -0.9, -0.3},
		{"this is ridiculous, it's a scam, I will sue you", -1, -0.9},
		{"I'm not happy", -1, -0.1},
		{"不满意", -1, -0.1},
		{"我不生气", 0, 1},
		{"明天下午三点", 0, 0},
		{"", 0, 0},
		{"ok", 0, 0},
	}
	for _, tc := range tests {
		got := Sentiment(tc.text)
		if got < tc.min || got > tc.max || got < -1 || got > 1 {
			t.Errorf("Sentiment(%q) = %.3f, want in [%v, %v]", tc.text, got, tc.min, tc.max)
		}
	}
	// Intensifiers and exclamations strengthen.
	if !(Sentiment("非常烦") < Sentiment("烦")) {
		t.Errorf("非常烦 %.3f should be below 烦 %.3f", Sentiment("非常烦"), Sentiment("烦"))
	}
	if !(Sentiment("so annoying!!!") < Sentiment("annoying")) {
		t.Error("exclamation should strengthen")
	}
}

func TestMoodHysteresis(t *testing.T) {
	m, err := NewMood(MoodConfig{Alpha: 1, UpsetAt: 0.3, AgitatedAt: 0.6, CalmAt: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		score float64
		want  Level
	}{
		{0, Calm},
		{-0.29, Calm},
		{-0.31, Upset},
		{-0.25, Upset}, // between CalmAt and UpsetAt: stays upset (no flapping)
		{-0.31, Upset},
		{-0.2, Upset},
		{-0.05, Calm},
		{-0.7, Agitated},
		{-0.5, Agitated}, // still above the upset line
		{-0.2, Upset},
		{-0.65, Agitated},
		{0.5, Calm},
	}
	for i, s := range steps {
		if got := m.Update(s.score); got != s.want {
			t.Fatalf("step %d Update(%v) = %v, want %v", i, s.score, got, s.want)
		}
	}
	if m.Level() != Calm || m.Score() != 0.5 {
		t.Errorf("Level %v Score %v", m.Level(), m.Score())
	}
}

func TestMoodSmoothingNoFlap(t *testing.T) {
	m, err := NewMood(MoodConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// Scores oscillating around the upset threshold flip the level at most once.
	changes, last := 0, Calm
	for i := range 40 {
		s := -0.25
		if i%2 == 1 {
			s = -0.35
		}
		if l := m.Update(s); l != last {
			changes++
			last = l
		}
	}
	if changes > 1 {
		t.Errorf("level changed %d times", changes)
	}
	// A run of angry utterances reaches Agitated; calm ones bring it back.
	for range 5 {
		m.Update(Sentiment("气死了，骗子，我要投诉"))
	}
	if m.Level() != Agitated {
		t.Errorf("after anger: %v (%.2f)", m.Level(), m.Score())
	}
	for range 6 {
		m.Update(Sentiment("好的谢谢"))
	}
	if m.Level() != Calm {
		t.Errorf("after thanks: %v (%.2f)", m.Level(), m.Score())
	}
	m.Restore(-0.4, Upset)
	if m.Level() != Upset || m.Score() != -0.4 {
		t.Errorf("Restore: %v %v", m.Level(), m.Score())
	}
}

func TestNewMoodErrors(t *testing.T) {
	for _, c := range []MoodConfig{{Alpha: 2}, {Alpha: -1}, {UpsetAt: 0.7, AgitatedAt: 0.5}, {CalmAt: 0.4, UpsetAt: 0.3}} {
		if _, err := NewMood(c); !errors.Is(err, ErrBadConfig) {
			t.Errorf("NewMood(%+v) err = %v", c, err)
		}
	}
	if Upset.String() != "upset" || Level(9).String() != "Level(9)" {
		t.Error("Level.String")
	}
}
