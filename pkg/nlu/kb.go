package nlu

import (
	"context"
	"math"
	"sort"
	"sync"

	"github.com/rs/zerolog"
)

// FAQ is one knowledge-base entry: the ways a callee may ask, and the answer to speak.
type FAQ struct {
	// ID identifies the entry in journals and scripts.
	ID string
	// Questions are phrasings of the question (zh or en); each is indexed.
	Questions []string
	// Answer is the text to speak.
	Answer string
}

// Hit is one entry found by KnowledgeBase.Search.
type Hit struct {
	// FAQ is the entry.
	FAQ FAQ
	// Score in [0, 1] is the share of the query's information the best matching question covers (BM25, normalised),
	// blended with embedding similarity when an Embedder is set.
	Score float64
}

// Embedder turns texts into vectors for semantic re-ranking. NewOpenAIEmbedder implements it.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// KBOption sets an optional extra of a KnowledgeBase.
type KBOption func(*KnowledgeBase)

// WithMinScore sets the score below which a hit is dropped, so off-topic questions return nothing. default: 0.3
func WithMinScore(s float64) KBOption { return func(kb *KnowledgeBase) { kb.minScore = s } }

// WithEmbedder re-ranks the BM25 candidates of SearchContext by embedding similarity (half BM25, half cosine).
func WithEmbedder(e Embedder) KBOption { return func(kb *KnowledgeBase) { kb.embedder = e } }

// WithKBLogger sets where SearchContext reports embedding failures. default: zerolog.Nop()
func WithKBLogger(l zerolog.Logger) KBOption { return func(kb *KnowledgeBase) { kb.log = l } }

// KnowledgeBase answers callers' questions from FAQ entries: BM25 over Chinese character bigrams and English words,
// stop words left out. It is safe for concurrent use.
type KnowledgeBase struct {
	entries  []FAQ
	docs     []kbDoc
	df       map[string]int
	avgLen   float64
	minScore float64
	embedder Embedder
	log      zerolog.Logger

	mu   sync.Mutex
	vecs map[string][]float32 // question text → embedding
}

type kbDoc struct {
	entry int
	text  string
	tf    map[string]int
	len   int
}

// BM25 parameters.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// NewKnowledgeBase indexes entries. Entries without questions are kept but can never be found.
func NewKnowledgeBase(entries []FAQ, opts ...KBOption) *KnowledgeBase {
	kb := &KnowledgeBase{
		entries:  append([]FAQ(nil), entries...),
		df:       make(map[string]int),
		minScore: 0.3,
		log:      zerolog.Nop(),
		vecs:     make(map[string][]float32),
	}
	for _, o := range opts {
		o(kb)
	}
	total := 0
	for i, e := range kb.entries {
		for _, q := range e.Questions {
			ts := terms(normalize(q), true)
			if len(ts) == 0 {
				continue
			}
			d := kbDoc{entry: i, text: q, tf: make(map[string]int, len(ts)), len: len(ts)}
			for _, t := range ts {
				if d.tf[t] == 0 {
					kb.df[t]++
				}
				d.tf[t]++
			}
			total += len(ts)
			kb.docs = append(kb.docs, d)
		}
	}
	if len(kb.docs) > 0 {
		kb.avgLen = float64(total) / float64(len(kb.docs))
	}
	return kb
}

func (kb *KnowledgeBase) idf(t string) float64 {
	n := float64(len(kb.docs))
	df, ok := kb.df[t]
	if !ok {
		df = 1 // an unknown query word weighs like the rarest known one
	}
	return math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5))
}

type scored struct {
	entry    int
	score    float64
	question string
}

// rank scores every entry by its best question.
func (kb *KnowledgeBase) rank(query string) []scored {
	qs := terms(normalize(query), true)
	if len(qs) == 0 || len(kb.docs) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(qs))
	var uniq []string
	norm := 0.0
	for _, t := range qs {
		if !seen[t] {
			seen[t] = true
			uniq = append(uniq, t)
			norm += kb.idf(t)
		}
	}
	best := make(map[int]scored)
	for _, d := range kb.docs {
		s := 0.0
		for _, t := range uniq {
			tf := float64(d.tf[t])
			if tf == 0 {
				continue
			}
			s += kb.idf(t) * tf * (bm25K1 + 1) / (tf + bm25K1*(1-bm25B+bm25B*float64(d.len)/kb.avgLen))
		}
		if s <= 0 {
			continue
		}
		s = math.Min(1, s/norm)
		if b, ok := best[d.entry]; !ok || s > b.score {
			best[d.entry] = scored{entry: d.entry, score: s, question: d.text}
		}
	}
	out := make([]scored, 0, len(best))
	for _, s := range best {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].score != out[j].score {
			return out[i].score > out[j].score
		}
		return out[i].entry < out[j].entry
	})
	return out
}

// Search returns up to k entries answering query, best first, each scoring at least the minimum score; none for an
// off-topic query or k <= 0.
func (kb *KnowledgeBase) Search(query string, k int) []Hit {
	if k <= 0 {
		return nil
	}
	var out []Hit
	for _, s := range kb.rank(query) {
		if s.score < kb.minScore || len(out) == k {
			break
		}
		out = append(out, Hit{FAQ: kb.entries[s.entry], Score: s.score})
	}
	return out
}

// SearchContext is Search with the Embedder's re-ranking when one is set. If embedding fails it logs the failure
// and returns the BM25 result; it returns an error only when ctx is done.
func (kb *KnowledgeBase) SearchContext(ctx context.Context, query string, k int) ([]Hit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if kb.embedder == nil || k <= 0 {
		return kb.Search(query, k), nil
	}
	cands := kb.rank(query)
	if len(cands) > 3*k+5 {
		cands = cands[:3*k+5]
	}
	if len(cands) == 0 {
		return nil, nil
	}
	qv, err := kb.embedQuery(ctx, query, cands)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		kb.log.Warn().Err(err).Msg("nlu: knowledge base embedding failed; using BM25 ranking")
		return kb.Search(query, k), nil
	}
	for i := range cands {
		bestCos := 0.0
		kb.mu.Lock()
		for _, q := range kb.entries[cands[i].entry].Questions {
			if v, ok := kb.vecs[q]; ok {
				bestCos = math.Max(bestCos, cosine(qv, v))
			}
		}
		kb.mu.Unlock()
		cands[i].score = 0.5*cands[i].score + 0.5*bestCos
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
	var out []Hit
	for _, s := range cands {
		if s.score < kb.minScore || len(out) == k {
			break
		}
		out = append(out, Hit{FAQ: kb.entries[s.entry], Score: s.score})
	}
	return out, nil
}

// embedQuery embeds the query and every not yet cached question of the candidates in one request.
func (kb *KnowledgeBase) embedQuery(ctx context.Context, query string, cands []scored) ([]float32, error) {
	texts := []string{query}
	kb.mu.Lock()
	want := make(map[string]bool)
	for _, c := range cands {
		for _, q := range kb.entries[c.entry].Questions {
			if _, ok := kb.vecs[q]; !ok && !want[q] {
				want[q] = true
				texts = append(texts, q)
			}
		}
	}
	kb.mu.Unlock()
	vecs, err := kb.embedder.Embed(ctx, texts)
	if err != nil {
		return nil, err
	}
	if len(vecs) != len(texts) {
		return nil, errEmbedCount(len(texts), len(vecs))
	}
	kb.mu.Lock()
	for i, t := range texts[1:] {
		kb.vecs[t] = vecs[i+1]
	}
	kb.mu.Unlock()
	return vecs[0], nil
}

func cosine(a, b []float32) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return math.Max(0, dot/math.Sqrt(na*nb))
}
