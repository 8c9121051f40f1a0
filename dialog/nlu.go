package dialog

import (
	"context"
	"time"

	"github.com/outcall/outcall/pkg/nlu"
)

// FromNLU adapts an nlu.Classifier (an *nlu.Matcher, an *nlu.LLMClassifier) to the runtime's Classifier. The
// script's intent names must be ones the classifier knows; an empty or failed answer falls back to the script's
// keywords.
func FromNLU(c nlu.Classifier) Classifier { return nluClassifier{c} }

type nluClassifier struct{ c nlu.Classifier }

func (n nluClassifier) Classify(ctx context.Context, text string, intents []string) ([]Match, error) {
	ms, err := n.c.Classify(ctx, text, intents)
	if err != nil {
		return nil, err
	}
	out := make([]Match, 0, len(ms))
	for _, m := range ms {
		out = append(out, Match{Intent: m.Intent, Score: m.Score, Negated: m.Negated})
	}
	return out, nil
}

// NLUExtract is an Extractor on nlu.Extract: amounts like 一千二百五十块五毛, dates like 本月十五号, digits read
// one by one. Assign it to Options.Extract.
func NLUExtract(text, kind string, ref time.Time) (any, bool) {
	v, ok := nlu.Extract(text, nlu.SlotKind(kind), ref)
	if !ok {
		return nil, false
	}
	switch nlu.SlotKind(kind) {
	case nlu.KindNumber, nlu.KindAmount:
		return v.Number, true
	case nlu.KindDate:
		return v.Time.Format("2006-01-02"), true
	case nlu.KindTime:
		return v.Time.Format("15:04"), true
	case nlu.KindYesNo:
		return v.Bool, true
	case nlu.KindDigits:
		return v.Digits, v.Digits != ""
	}
	return nil, false
}

// FromNLUKnowledge adapts an nlu.KnowledgeBase to Knowledge: the best hit at or above minScore answers.
func FromNLUKnowledge(kb *nlu.KnowledgeBase, minScore float64) Knowledge { return nluKB{kb, minScore} }

type nluKB struct {
	kb  *nlu.KnowledgeBase
	min float64
}

func (k nluKB) Answer(q string) (string, bool) {
	hits := k.kb.Search(q, 1)
	if len(hits) == 0 || hits[0].Score < k.min {
		return "", false
	}
	return hits[0].FAQ.Answer, true
}
