package nlu

import (
	"context"
	"math"
	"sort"
	"strings"
)

// Example is one labelled utterance for training a Model.
type Example struct {
	Text   string
	Intent string // "" for an utterance that carries none of the intents
}

// NoIntent is the label a Model gives utterances that carry no intent.
const NoIntent = "_none"

// Model is a character n-gram (1- to 3-gram) naive Bayes intent classifier, trained from examples in pure Go. The
// grams said inside a negation's scope count again with a mark (不太方便 is also ¬方便), see negatedGrams. It
// generalises past keyword lists (另外那个号码早就不用了 ~ wrong person) and answers with a posterior probability, so
// a caller can keep only confident answers. It is immutable and safe for concurrent use.
type Model struct {
	labels []string
	prior  map[string]float64
	counts map[string]map[string]float64 // label → gram → count
	totals map[string]float64
	vocab  float64
	min    float64
}

// TrainModel trains a Model; minProb is the posterior below which Classify answers nothing (default 0.6).
func TrainModel(examples []Example, minProb float64) *Model {
	if minProb <= 0 {
		minProb = 0.6
	}
	m := &Model{prior: map[string]float64{}, counts: map[string]map[string]float64{}, totals: map[string]float64{}, min: minProb}
	vocab := map[string]bool{}
	for _, e := range examples {
		l := e.Intent
		if l == "" {
			l = NoIntent
		}
		if m.counts[l] == nil {
			m.counts[l] = map[string]float64{}
			m.labels = append(m.labels, l)
		}
		m.prior[l]++
		for _, g := range nbFeatures(e.Text) {
			m.counts[l][g]++
			m.totals[l]++
			vocab[g] = true
		}
	}
	sort.Strings(m.labels)
	m.vocab = float64(len(vocab)) + 1
	for l := range m.prior {
		m.prior[l] = math.Log(m.prior[l] / float64(len(examples)))
	}
	return m
}

// Classify implements Classifier: the most probable of intents (all labels when empty) whose posterior, among
// those intents and NoIntent, reaches the model's minimum. It returns nil when the best is NoIntent or unsure.
func (m *Model) Classify(ctx context.Context, text string, intents []string) ([]Match, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cands := intents
	if len(cands) == 0 {
		cands = m.labels
	}
	grams := nbFeatures(text)
	if len(grams) == 0 {
		return nil, nil
	}
	type sc struct {
		l string
		s float64
	}
	var scores []sc
	seen := map[string]bool{}
	for _, l := range append(append([]string(nil), cands...), NoIntent) {
		if m.counts[l] == nil || seen[l] {
			continue
		}
		seen[l] = true
		s := m.prior[l]
		for _, g := range grams {
			s += math.Log((m.counts[l][g] + 0.5) / (m.totals[l] + 0.5*m.vocab))
		}
		scores = append(scores, sc{l, s})
	}
	if len(scores) == 0 {
		return nil, nil
	}
	sort.Slice(scores, func(i, j int) bool {
		return scores[i].s > scores[j].s || scores[i].s == scores[j].s && scores[i].l < scores[j].l
	})
	// Posterior of the best, with the grams treated as one piece of evidence (divided by their number) so that the
	// independence assumption does not make every answer look certain.
	n := float64(len(grams))
	sum := 0.0
	for _, s := range scores {
		sum += math.Exp((s.s - scores[0].s) / math.Sqrt(n))
	}
	p := 1 / sum
	if scores[0].l == NoIntent || p < m.min {
		return nil, nil
	}
	return []Match{{Intent: scores[0].l, Score: p, Span: text}}, nil
}

// negatedGrams are the CJK characters and character pairs within negWindowZH characters after a negation cue of
// the same clause (不太方便: 太, 方, 便, 太方, 方便), and the English words within negWindowEN words after one
// ("don't call me": call, me). A second cue closes the scope of the first (不是不想还).
func negatedGrams(text string) []string {
	t := normalize(text)
	var out []string
	for _, clause := range strings.FieldsFunc(t, func(r rune) bool { return isClauseBreak(r) || r == '!' }) {
		rs := []rune(clause)
		for i := 0; i < len(rs); i++ {
			if !negCuesZH[rs[i]] {
				continue
			}
			for j := i + 1; j < len(rs) && j <= i+negWindowZH && isCJK(rs[j]) && !negCuesZH[rs[j]]; j++ {
				out = append(out, string(rs[j]))
				if j+1 < len(rs) && j+1 <= i+negWindowZH && isCJK(rs[j+1]) && !negCuesZH[rs[j+1]] {
					out = append(out, string(rs[j:j+2]))
				}
			}
		}
		words := strings.FieldsFunc(clause, func(r rune) bool { return !isWordRune(r) })
		for i, w := range words {
			if !negCuesEN[w] {
				continue
			}
			for j := i + 1; j < len(words) && j <= i+negWindowEN && !negCuesEN[words[j]]; j++ {
				out = append(out, "w:"+words[j])
			}
		}
	}
	return out
}

func nbFeatures(text string) []string {
	out := charGrams(text)
	for _, g := range negatedGrams(text) {
		out = append(out, "¬"+g)
	}
	return out
}

// charGrams returns the features of text: CJK character 1- to 3-grams with boundary marks, and lower-case words
// and word bigrams for other scripts. Punctuation and fillers (嗯, 啊, 那个) carry nothing and are dropped.
func charGrams(text string) []string {
	t := normalize(text)
	var out []string
	for _, clause := range strings.FieldsFunc(t, func(r rune) bool { return isClauseBreak(r) || r == '!' }) {
		var run []rune
		var words []string
		flushRun := func() {
			if len(run) == 0 {
				return
			}
			rs := append(append([]rune{'^'}, run...), '$')
			for i := range rs {
				for n := 1; n <= 3 && i+n <= len(rs); n++ {
					if n == 1 && (rs[i] == '^' || rs[i] == '$') {
						continue
					}
					out = append(out, string(rs[i:i+n]))
				}
			}
			run = run[:0]
		}
		flushWords := func() {
			for i, w := range words {
				out = append(out, "w:"+w)
				if i > 0 {
					out = append(out, "w:"+words[i-1]+"_"+w)
				}
			}
			words = words[:0]
		}
		word := -1
		for i, r := range clause + " " {
			if isWordRune(r) && !isCJK(r) {
				if word < 0 {
					word = i
				}
				continue
			}
			if word >= 0 {
				words = append(words, clause[word:i])
				word = -1
			}
			if isCJK(r) && !fillerRune[r] {
				run = append(run, r)
			} else if r != ' ' || len(run) > 0 {
				flushRun()
			}
		}
		flushRun()
		flushWords()
	}
	return out
}

// fillerRune are the characters of hesitations and particles that say nothing about the intent.
var fillerRune = map[rune]bool{'嗯': true, '啊': true, '呃': true, '额': true, '哦': true, '噢': true, '唉': true, '哎': true,
	'呀': true, '吧': true, '啦': true, '嘛': true, '哈': true, '喂': true}
