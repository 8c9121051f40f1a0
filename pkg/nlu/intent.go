package nlu

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// IntentDef defines one intent by what a callee may say. Keywords and Patterns are matched case-insensitively on text
// folded to half-width lower case; an ASCII keyword must match whole words ("no" does not match "know").
type IntentDef struct {
	// Name identifies the intent; it must be unique within a Matcher and non-empty.
	Name string
	// Keywords are phrases whose presence signals the intent: 转人工, "real person".
	Keywords []string
	// Patterns are regular expressions (RE2 syntax) whose match signals the intent; a bad one is an error from
	// NewMatcher naming the intent.
	Patterns []string
	// Examples are whole utterances of the intent; an utterance similar enough to one (character bigram overlap)
	// matches with a lower score than a keyword would.
	Examples []string
	// Negatable says what a negated hit ("不需要" for a keyword 需要, "don't need" for "need") means: true reports it
	// as a Match with Negated set; false (the default) suppresses it, so the intent simply does not match.
	Negatable bool
}

// Match is one intent recognised in an utterance.
type Match struct {
	// Intent is the IntentDef.Name.
	Intent string
	// Score is the confidence in [0, 1]: a keyword covering the whole utterance scores 1.
	Score float64
	// Negated is set when the intent was said in the negative (only for Negatable intents).
	Negated bool
	// Span is the part of the utterance that triggered the match, as the callee's text has it.
	Span string
}

// Classifier names the intents of an utterance, best first, choosing among intents (all known intents when empty).
// *Matcher and *LLMClassifier implement it.
type Classifier interface {
	Classify(ctx context.Context, text string, intents []string) ([]Match, error)
}

// Matcher recognises intents by keywords, regular expressions and examples. It is immutable and safe for
// concurrent use.
type Matcher struct {
	intents []compiledIntent
	byName  map[string]int
	byFirst map[rune][]kwRef // keywords by their first rune: one map lookup per rune of the utterance
}

type kwRef struct {
	intent int
	kw     string
}

type compiledIntent struct {
	def      IntentDef
	keywords []string // normalized
	patterns []*regexp.Regexp
	examples []exampleFeat
}

type exampleFeat struct {
	grams   map[string]struct{}
	negated bool
}

// NewMatcher compiles intent definitions. It returns an error wrapping ErrBadIntent for an empty or duplicate name,
// an empty keyword, or a pattern that does not compile (naming the intent and the pattern).
func NewMatcher(defs []IntentDef) (*Matcher, error) {
	m := &Matcher{byName: make(map[string]int, len(defs)), byFirst: make(map[rune][]kwRef)}
	for i, d := range defs {
		if strings.TrimSpace(d.Name) == "" {
			return nil, fmt.Errorf("%w: intent #%d has no name", ErrBadIntent, i)
		}
		if _, dup := m.byName[d.Name]; dup {
			return nil, fmt.Errorf("%w: intent %q defined twice", ErrBadIntent, d.Name)
		}
		ci := compiledIntent{def: d}
		for _, k := range d.Keywords {
			nk := strings.TrimSpace(normalize(k))
			if nk == "" {
				return nil, fmt.Errorf("%w: intent %q has an empty keyword", ErrBadIntent, d.Name)
			}
			ci.keywords = append(ci.keywords, nk)
			first, _ := utf8.DecodeRuneInString(nk)
			m.byFirst[first] = append(m.byFirst[first], kwRef{intent: len(m.intents), kw: nk})
		}
		for _, p := range d.Patterns {
			re, err := regexp.Compile("(?i)" + p)
			if err != nil {
				return nil, fmt.Errorf("%w: intent %q pattern %q: %v", ErrBadIntent, d.Name, p, err)
			}
			ci.patterns = append(ci.patterns, re)
		}
		for _, e := range d.Examples {
			ne := normalize(e)
			ci.examples = append(ci.examples, exampleFeat{grams: gramSet(ne), negated: hasNegation(ne)})
		}
		m.byName[d.Name] = len(m.intents)
		m.intents = append(m.intents, ci)
	}
	return m, nil
}

// Intents lists the intent names in definition order.
func (m *Matcher) Intents() []string {
	out := make([]string, len(m.intents))
	for i, ci := range m.intents {
		out[i] = ci.def.Name
	}
	return out
}

// Classify implements Classifier: Match restricted to intents (all when empty). It never fails except when ctx is
// already done.
func (m *Matcher) Classify(ctx context.Context, text string, intents []string) ([]Match, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return m.match(text, intents), nil
}

// Match returns the intents recognised in text, best first (higher Score; on a tie, not negated before negated,
// then by name). It returns nil when nothing matches.
func (m *Matcher) Match(text string) []Match {
	return m.match(text, nil)
}

// hit is one keyword, pattern or example occurrence in the normalized text (byte offsets).
type hit struct {
	intent     int
	start, end int
	negated    bool
	score      float64
	example    bool
}

func (m *Matcher) match(text string, only []string) []Match {
	if m == nil || len(m.intents) == 0 {
		return nil
	}
	var allow []bool
	if len(only) > 0 {
		allow = make([]bool, len(m.intents))
		for _, n := range only {
			if i, ok := m.byName[n]; ok {
				allow[i] = true
			}
		}
	}
	t := normalize(text)
	total := SpokenLength(t)
	if total == 0 {
		return nil
	}
	var hits []hit
	for s, r := range t {
		for _, k := range m.byFirst[r] {
			if allow != nil && !allow[k.intent] || !strings.HasPrefix(t[s:], k.kw) {
				continue
			}
			if e := s + len(k.kw); wordBounded(t, s, e) {
				hits = append(hits, hit{intent: k.intent, start: s, end: e})
			}
		}
	}
	for idx := range m.intents {
		if allow != nil && !allow[idx] {
			continue
		}
		ci := &m.intents[idx]
		for _, re := range ci.patterns {
			for _, loc := range re.FindAllStringIndex(t, -1) {
				if loc[1] > loc[0] {
					hits = append(hits, hit{intent: idx, start: loc[0], end: loc[1]})
				}
			}
		}
	}
	// Drop hits inside a longer hit of another intent or inside a neutral phrase: "不" (deny) inside "不需要"
	// (refuse), "行" (confirm) inside "银行".
	neutral := neutralSpans(t)
	kept := make([]hit, 0, len(hits))
	for _, h := range hits {
		if containedStrictly(h, hits, neutral) {
			continue
		}
		h.negated = negatedBefore(t, h.start, neutral)
		h.score = 0.5 + 0.5*float64(SpokenLength(t[h.start:h.end]))/float64(total)
		kept = append(kept, h)
	}
	hits = kept
	// Examples: similarity of the whole utterance.
	var grams map[string]struct{}
	for idx := range m.intents {
		ci := &m.intents[idx]
		if len(ci.examples) == 0 || (allow != nil && !allow[idx]) {
			continue
		}
		if grams == nil {
			grams = gramSet(t)
		}
		negT := hasNegation(t)
		best := 0.0
		for _, ex := range ci.examples {
			sim := dice(grams, ex.grams)
			if ex.negated != negT {
				sim *= 0.5 // "需要" vs "不需要" are not alike
			}
			best = max(best, sim)
		}
		if best >= exampleMinSim {
			hits = append(hits, hit{intent: idx, start: 0, end: len(t), score: 0.35 + 0.5*best, example: true})
		}
	}
	if len(hits) == 0 {
		return nil
	}
	type agg struct {
		pos, neg       hit
		npos, nneg     int
		hasPos, hasNeg bool
	}
	per := make(map[int]*agg, 4)
	for _, h := range hits {
		a := per[h.intent]
		if a == nil {
			a = &agg{}
			per[h.intent] = a
		}
		if h.negated {
			a.nneg++
			if !a.hasNeg || h.score > a.neg.score {
				a.neg, a.hasNeg = h, true
			}
		} else {
			a.npos++
			if !a.hasPos || h.score > a.pos.score {
				a.pos, a.hasPos = h, true
			}
		}
	}
	out := make([]Match, 0, len(per))
	for idx, a := range per {
		ci := &m.intents[idx]
		switch {
		case a.hasPos:
			s := min(1, a.pos.score+0.05*float64(a.npos-1))
			out = append(out, Match{Intent: ci.def.Name, Score: s, Span: spanText(text, t, a.pos)})
		case a.hasNeg && ci.def.Negatable:
			out = append(out, Match{Intent: ci.def.Name, Score: a.neg.score, Negated: true, Span: spanText(text, t, a.neg)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		if out[i].Negated != out[j].Negated {
			return !out[i].Negated
		}
		return out[i].Intent < out[j].Intent
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

// exampleMinSim is the bigram Dice similarity an utterance needs to match an example.
const exampleMinSim = 0.5

// wordBounded reports whether t[s:e] starts and ends on word boundaries where the text is ASCII letters or digits.
func wordBounded(t string, s, e int) bool {
	if s > 0 && isASCIIAlnum(t[s-1]) && isASCIIAlnum(t[s]) {
		return false
	}
	if e < len(t) && isASCIIAlnum(t[e]) && isASCIIAlnum(t[e-1]) {
		return false
	}
	return true
}

func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z'
}

func containedStrictly(h hit, hits []hit, neutral [][2]int) bool {
	for _, o := range hits {
		if o.intent != h.intent && o.start <= h.start && h.end <= o.end && o.end-o.start > h.end-h.start {
			return true
		}
	}
	for _, n := range neutral {
		if n[0] <= h.start && h.end <= n[1] && n[1]-n[0] > h.end-h.start {
			return true
		}
	}
	return false
}

// neutralPhrases contain the characters of common keywords without carrying their meaning.
var neutralPhrases = []string{"对不起", "不好意思", "你好", "您好", "好像", "好久", "好几", "还好", "银行", "行业", "进行", "执行",
	"行程", "要是", "但是", "可是", "就是", "还是", "是否", "是不是", "需不需要", "要不要", "对不对", "好不好", "行不行", "可不可以",
	"能不能", "会不会", "有没有", "要不", "不然", "想想", "想一下", "想一想", "嗯哼", "好看", "好吃", "好玩", "好听", "right now", "right away", "no one", "no idea", "不管", "不过", "不久", "不少", "不仅", "差不多", "没关系", "对方", "对象", "针对", "面对", "可能", "可惜", "知道吗"}

// neutralByFirst indexes neutralPhrases by their first rune.
var neutralByFirst = func() map[rune][]string {
	m := make(map[rune][]string)
	for _, p := range neutralPhrases {
		r, _ := utf8.DecodeRuneInString(p)
		m[r] = append(m[r], p)
	}
	return m
}()

func neutralSpans(t string) [][2]int {
	var out [][2]int
	for s, r := range t {
		for _, p := range neutralByFirst[r] {
			if strings.HasPrefix(t[s:], p) && wordBounded(t, s, s+len(p)) {
				out = append(out, [2]int{s, s + len(p)})
			}
		}
	}
	return out
}

// Negation cues. Chinese cues are single characters found within a few characters before a hit in the same
// clause; English cues are words within a few words before it.
var (
	negCuesZH = map[rune]bool{'不': true, '没': true, '别': true, '无': true, '未': true, '甭': true, '莫': true}
	negCuesEN = map[string]bool{"not": true, "don't": true, "dont": true, "never": true, "no": true, "doesn't": true,
		"didn't": true, "isn't": true, "wasn't": true, "won't": true, "can't": true, "cannot": true, "without": true,
		"neither": true, "nor": true, "aren't": true, "haven't": true}
)

const (
	negWindowZH = 4 // CJK characters before a hit
	negWindowEN = 3 // words before a hit
)

// negatedBefore reports whether the clause before byte offset s in t carries an odd number of negation cues close
// to s ("不需要" negates 需要; "不是不需要" does not).
func negatedBefore(t string, s int, neutral [][2]int) bool {
	cues := 0
	zh, words := 0, 0
	inWord := false
	wordEnd := s
	for i := s; i > 0; {
		r, size := utf8.DecodeLastRuneInString(t[:i])
		i -= size
		if isClauseBreak(r) {
			break
		}
		switch {
		case isCJK(r):
			if inWord {
				inWord = false
				words++
				if negCuesEN[t[i+size:wordEnd]] {
					cues++
				}
			}
			zh++
			if zh > negWindowZH {
				return cues%2 == 1
			}
			if negCuesZH[r] && !inSpans(i, neutral) {
				cues++ // the 不 of 能不能 or 是不是 asks, it does not negate
			}
		case isWordRune(r):
			if !inWord {
				inWord = true
				wordEnd = i + size
			}
			if i == 0 {
				words++
				if negCuesEN[t[i:wordEnd]] {
					cues++
				}
			}
		default:
			if inWord {
				inWord = false
				words++
				if negCuesEN[t[i+size:wordEnd]] {
					cues++
				}
			}
		}
		if words >= negWindowEN {
			break
		}
	}
	return cues%2 == 1
}

func inSpans(i int, spans [][2]int) bool {
	for _, sp := range spans {
		if sp[0] <= i && i < sp[1] {
			return true
		}
	}
	return false
}

func isClauseBreak(r rune) bool {
	switch r {
	case ',', '.', '!', '?', ';', ':', '，', '。', '！', '？', '；', '：', '…', '\n':
		return true
	}
	return false
}

// hasNegation reports whether normalized text contains any negation cue.
func hasNegation(t string) bool {
	for _, r := range t {
		if negCuesZH[r] {
			return true
		}
	}
	for _, w := range strings.FieldsFunc(t, func(r rune) bool { return !isWordRune(r) }) {
		if negCuesEN[w] {
			return true
		}
	}
	return false
}

// gramSet returns the features of normalized text: CJK character bigrams (a lone character as a unigram) and
// lower-case words.
func gramSet(t string) map[string]struct{} {
	set := make(map[string]struct{})
	for _, g := range terms(t, false) {
		set[g] = struct{}{}
	}
	return set
}

// terms splits normalized text into CJK character bigrams and words; with dropStop, stop words and stop characters
// are left out.
func terms(t string, dropStop bool) []string {
	var out []string
	var run []rune
	flush := func() {
		switch len(run) {
		case 0:
		case 1:
			out = append(out, string(run))
		default:
			for i := 0; i+1 < len(run); i++ {
				if g := string(run[i : i+2]); !dropStop || !stopBigramZH[g] {
					out = append(out, g)
				}
			}
		}
		run = run[:0]
	}
	word := -1
	for i, r := range t {
		if isCJK(r) {
			if word >= 0 {
				out = appendWord(out, t[word:i], dropStop)
				word = -1
			}
			if dropStop && stopZH[r] {
				flush() // "我的账单" indexes as 账单; a stop character separates runs
				continue
			}
			run = append(run, r)
			continue
		}
		flush()
		if isWordRune(r) && r != '\'' || r == '\'' && word >= 0 {
			if word < 0 {
				word = i
			}
			continue
		}
		if word >= 0 {
			out = appendWord(out, t[word:i], dropStop)
			word = -1
		}
	}
	flush()
	if word >= 0 {
		out = appendWord(out, t[word:], dropStop)
	}
	return out
}

func appendWord(out []string, w string, dropStop bool) []string {
	w = strings.TrimRight(w, "'")
	if w == "" || dropStop && stopEN[w] {
		return out
	}
	if dropStop {
		w = stem(w)
	}
	return append(out, w)
}

// stem strips a plural or verb ending so "payments" finds "payment".
func stem(w string) string {
	if len(w) > 4 && !unicode.IsDigit(rune(w[0])) {
		for _, suf := range []string{"ing", "ed", "es", "s"} {
			if strings.HasSuffix(w, suf) && len(w)-len(suf) >= 3 {
				return w[:len(w)-len(suf)]
			}
		}
	}
	return w
}

func dice(a, b map[string]struct{}) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	small, large := a, b
	if len(small) > len(large) {
		small, large = large, small
	}
	n := 0
	for g := range small {
		if _, ok := large[g]; ok {
			n++
		}
	}
	return 2 * float64(n) / float64(len(a)+len(b))
}

// spanText maps a hit in the normalized text back to the callee's original text (normalization keeps rune counts).
func spanText(orig, t string, h hit) string {
	rs := utf8.RuneCountInString(t[:h.start])
	re := rs + utf8.RuneCountInString(t[h.start:h.end])
	return runeSlice(orig, rs, re)
}

// runeSlice returns s[from:to] counted in runes.
func runeSlice(s string, from, to int) string {
	i, start, end := 0, len(s), len(s)
	for b := range s {
		if i == from {
			start = b
		}
		if i == to {
			end = b
			break
		}
		i++
	}
	if start > end {
		return ""
	}
	return s[start:end]
}
