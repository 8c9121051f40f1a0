package nlu

import (
	"context"
	"math"
	"sync"
	"testing"
)

// TestConcurrentUse runs every shared value from many goroutines; -race checks the claim of the package doc.
func TestConcurrentUse(t *testing.T) {
	m := commonMatcher(t)
	f := &fakeOpenAI{embed: embedByTopic}
	emb, err := NewOpenAIEmbedder(LLMConfig{BaseURL: f.start(t), Model: "e"})
	if err != nil {
		t.Fatal(err)
	}
	kb := NewKnowledgeBase(faqs, WithEmbedder(emb))
	mood, _ := NewMood(MoodConfig{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				u := utterances[(g+i)%len(utterances)]
				if got := m.Match(u); len(got) > 0 && got[0].Score <= 0 {
					t.Errorf("bad score for %q", u)
				}
				ExtractAll(u, ref)
				mood.Update(Sentiment(u))
				if _, err := kb.SearchContext(context.Background(), u, 2); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if s := mood.Score(); math.IsNaN(s) || s < -1 || s > 1 {
		t.Errorf("mood score %v", s)
	}
}

func FuzzTurnHelpers(f *testing.F) {
	for _, s := range []string{"嗯嗯", "uh-huh", "幺三八零", "double", "triple three", "气死了!!!", "不不不烦", "", "\xff\xfe", "double double"} {
		f.Add(s)
	}
	kb := NewKnowledgeBase(faqs)
	f.Fuzz(func(t *testing.T, s string) {
		IsBackchannel(s)
		if SpokenLength(s) < 0 {
			t.Fatal("negative length")
		}
		IsDigitString(s)
		if v := Sentiment(s); math.IsNaN(v) || v < -1 || v > 1 {
			t.Fatalf("Sentiment(%q) = %v", s, v)
		}
		for _, h := range kb.Search(s, 3) {
			if h.Score <= 0 || h.Score > 1 {
				t.Fatalf("Search(%q) score %v", s, h.Score)
			}
		}
	})
}
