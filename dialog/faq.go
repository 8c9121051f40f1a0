package dialog

import (
	"strings"
	"unicode"
)

// faqIndex is the default Knowledge: FAQ questions as sets of character bigrams (CJK) and words (other scripts),
// scored by the share of a question's terms the utterance contains.
type faqIndex struct {
	s       *Script
	entries []faqEntry
}

type faqEntry struct {
	faq   int
	terms map[string]bool
}

func newFAQIndex(s *Script) *faqIndex {
	ix := &faqIndex{s: s}
	for i, f := range s.FAQ {
		for _, q := range f.Questions {
			if t := terms(q); len(t) > 0 {
				ix.entries = append(ix.entries, faqEntry{faq: i, terms: t})
			}
		}
	}
	return ix
}

// Answer returns the answer of the best question when at least 60 % of its terms occur in q.
func (ix *faqIndex) Answer(q string) (string, bool) {
	qt := terms(q)
	best, bestScore := -1, 0.0
	for _, e := range ix.entries {
		hit := 0
		for t := range e.terms {
			if qt[t] {
				hit++
			}
		}
		if s := float64(hit) / float64(len(e.terms)); s > bestScore {
			best, bestScore = e.faq, s
		}
	}
	if best < 0 || bestScore < 0.6 {
		return "", false
	}
	return ix.s.FAQ[best].Answer, true
}

// terms splits text into CJK character bigrams (single characters for a lone one) and lower-case words.
func terms(text string) map[string]bool {
	out := map[string]bool{}
	var run []rune
	flush := func() {
		switch {
		case len(run) == 1:
			out[string(run)] = true
		case len(run) > 1:
			for i := 0; i+1 < len(run); i++ {
				out[string(run[i:i+2])] = true
			}
		}
		run = run[:0]
	}
	var word strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.Is(unicode.Han, r):
			if word.Len() > 0 {
				out[word.String()] = true
				word.Reset()
			}
			run = append(run, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			flush()
			word.WriteRune(r)
		default:
			flush()
			if word.Len() > 0 {
				out[word.String()] = true
				word.Reset()
			}
		}
	}
	flush()
	if word.Len() > 0 {
		out[word.String()] = true
	}
	return out
}
