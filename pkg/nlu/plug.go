package nlu

import "time"

// ExtractAny is Extract for callers that want a plain Go value by kind name: float64 for "number", "amount" and
// "percent", time.Time for "date" and "time", bool for "yesno", string for "digits". An unknown kind finds nothing.
// Its signature fits dialog.Options.Extract.
func ExtractAny(text, kind string, ref time.Time) (any, bool) {
	v, ok := Extract(text, SlotKind(kind), ref)
	if !ok {
		return nil, false
	}
	switch v.Kind {
	case KindDate, KindTime:
		return v.Time, true
	case KindYesNo:
		return v.Bool, true
	case KindDigits:
		return v.Digits, true
	}
	return v.Number, true
}

// Answer returns the answer of the best entry for question, if one scores at least the minimum score. It fits
// dialog.Knowledge.
func (kb *KnowledgeBase) Answer(question string) (string, bool) {
	hits := kb.Search(question, 1)
	if len(hits) == 0 {
		return "", false
	}
	return hits[0].FAQ.Answer, true
}
