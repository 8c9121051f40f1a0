package nlu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakeOpenAI serves /chat/completions and /embeddings on 127.0.0.1.
type fakeOpenAI struct {
	chat      func(system, user string) (content string, status int, delay time.Duration)
	embed     func(texts []string) [][]float32
	chatCalls atomic.Int32
	embCalls  atomic.Int32
	cancelled atomic.Int32
	lastAuth  atomic.Value
}

func (f *fakeOpenAI) start(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

func (f *fakeOpenAI) serve(w http.ResponseWriter, r *http.Request) {
	f.lastAuth.Store(r.Header.Get("Authorization"))
	switch r.URL.Path {
	case "/v1/chat/completions":
		f.chatCalls.Add(1)
		var req struct {
			Messages []struct{ Role, Content string }
			Response struct{ Type string } `json:"response_format"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) != 2 || req.Response.Type != "json_object" {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		content, status, delay := f.chat(req.Messages[0].Content, req.Messages[1].Content)
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				f.cancelled.Add(1) // the client gave up before the answer
				return
			}
		}
		if status != 0 {
			w.WriteHeader(status)
			w.Write([]byte(`{"error":{"message":"overloaded","type":"server_error"}}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"id": "x", "object": "chat.completion", "model": "m",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": content}}},
		})
	case "/v1/embeddings":
		f.embCalls.Add(1)
		var req struct {
			Input []string `json:"input"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		vecs := f.embed(req.Input)
		data := make([]any, len(vecs))
		for i, v := range vecs {
			data[i] = map[string]any{"object": "embedding", "index": i, "embedding": v}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": "e"})
	default:
		http.NotFound(w, r)
	}
}

func TestLLMClassifier(t *testing.T) {
	f := &fakeOpenAI{chat: func(system, user string) (string, int, time.Duration) {
		switch {
		case strings.Contains(user, "slow"):
			return `{"intent":"busy"}`, 0, 2 * time.Second
		case strings.Contains(user, "500"):
			return "", http.StatusInternalServerError, 0
		case strings.Contains(user, "garbage"):
			return "I think it's optout", 0, 0
		case strings.Contains(user, "outside"):
			return `{"intent":"transfer_money"}`, 0, 0
		case strings.Contains(user, "weather") || !strings.Contains(system, "- optout: never call again"):
			return `{"intent":"none"}`, 0, 0
		}
		return "```json\n{\"intent\":\"optout\",\"confidence\":0.93}\n```", 0, 0
	}}
	url := f.start(t)
	fallback := commonMatcher(t)
	c, err := NewLLMClassifier(LLMConfig{BaseURL: url, APIKey: "sk-secret", Model: "deepseek-chat", Timeout: 300 * time.Millisecond,
		Descriptions: map[string]string{IntentOptOut: "never call again"}, Fallback: fallback})
	if err != nil {
		t.Fatal(err)
	}
	intents := []string{IntentOptOut, IntentBusy, IntentConfirm}
	ctx := context.Background()

	got, err := c.Classify(ctx, "我以后不想再接到你们电话", intents)
	if err != nil || len(got) != 1 || got[0].Intent != IntentOptOut || got[0].Score != 0.93 {
		t.Errorf("llm answer: %+v, %v", got, err)
	}
	if auth, _ := f.lastAuth.Load().(string); auth != "Bearer sk-secret" {
		t.Errorf("auth header %q", auth)
	}
	got, err = c.Classify(ctx, "what's the weather", intents)
	if err != nil || len(got) != 0 {
		t.Errorf("none: %+v, %v", got, err)
	}
	// Each failure answers from the rules.
	for _, text := range []string{"slow: 我在开会", "500: 我在开会", "garbage: 我在开会", "outside: 我在开会"} {
		got, err := c.Classify(ctx, text, intents)
		if err != nil || len(got) == 0 || got[0].Intent != IntentBusy {
			t.Errorf("%s: fallback gave %+v, %v", text, got, err)
		}
	}
	// The slow answer (2 s) was abandoned at the time limit, not awaited.
	deadline := time.Now().Add(5 * time.Second)
	for f.cancelled.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if f.cancelled.Load() != 1 {
		t.Errorf("the slow request was not cancelled by the time limit (%d)", f.cancelled.Load())
	}
	// Without a fallback the error is returned.
	bare, _ := NewLLMClassifier(LLMConfig{BaseURL: url, Model: "m", Timeout: 300 * time.Millisecond})
	if _, err := bare.Classify(ctx, "500", intents); !errors.Is(err, ErrLLM) {
		t.Errorf("no fallback: %v", err)
	}
	if _, err := bare.Classify(ctx, "x", nil); !errors.Is(err, ErrLLM) {
		t.Errorf("no intents: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Classify(cctx, "slow", intents); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := NewLLMClassifier(LLMConfig{}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("empty model: %v", err)
	}
	var _ Classifier = c
	var _ Classifier = fallback
}

var faqs = []FAQ{
	{ID: "rate", Questions: []string{"利息是多少", "利率怎么算", "what is the interest rate", "how much interest"}, Answer: "年化利率 7.2%。"},
	{ID: "late_fee", Questions: []string{"逾期有什么后果", "逾期会影响征信吗", "is there a late fee", "will it hurt my credit"}, Answer: "逾期会产生罚息并上报征信。"},
	{ID: "pay_how", Questions: []string{"怎么还款", "还款方式有哪些", "在哪里还款", "how do I pay", "how can I make a payment"}, Answer: "可以在 APP 一键还款。"},
	{ID: "hours", Questions: []string{"客服几点上班", "工作时间", "what are your opening hours"}, Answer: "每天 9 点到 21 点。"},
	{ID: "empty"},
}

func TestKnowledgeBase(t *testing.T) {
	kb := NewKnowledgeBase(faqs)
	tests := []struct {
		query, want string
	}{
		{"请问你们的利息是多少啊", "rate"},
		{"利率是多少", "rate"},
		{"我逾期了会影响征信吗", "late_fee"},
		{"我要怎么还款", "pay_how"},
		{"还款方式", "pay_how"},
		{"What's the interest rate?", "rate"},
		{"How do I make a payment", "pay_how"},
		{"Will this hurt my credit score?", "late_fee"},
		{"你们几点上班", "hours"},
		// Off-topic: nothing.
		{"今天天气怎么样", ""},
		{"我想买一台电视", ""},
		{"what's the weather like", ""},
		{"嗯", ""},
		{"", ""},
	}
	for _, tc := range tests {
		hits := kb.Search(tc.query, 3)
		got := ""
		if len(hits) > 0 {
			got = hits[0].FAQ.ID
		}
		if got != tc.want {
			t.Errorf("Search(%q) = %q (%+v), want %q", tc.query, got, hits, tc.want)
		}
		for i, h := range hits {
			if h.Score <= 0 || h.Score > 1 || i > 0 && h.Score > hits[i-1].Score {
				t.Errorf("Search(%q) scores not ranked in (0,1]: %+v", tc.query, hits)
			}
		}
	}
	if len(kb.Search("利息", 0)) != 0 {
		t.Error("k=0 must return nothing")
	}
	strict := NewKnowledgeBase(faqs, WithMinScore(0.99))
	if hits := strict.Search("利息是多少，手续费呢", 3); len(hits) != 0 {
		t.Errorf("MinScore 0.99: %+v", hits)
	}
	if hits := NewKnowledgeBase(nil).Search("利息", 3); hits != nil {
		t.Errorf("empty kb: %+v", hits)
	}
}

// embedByTopic maps texts to unit vectors by topic words, standing in for a real embedding model.
func embedByTopic(texts []string) [][]float32 {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := []float32{0.05, 0.05, 0.05}
		switch {
		case strings.Contains(t, "征信") || strings.Contains(t, "credit") || strings.Contains(t, "后果"):
			v[0] = 1
		case strings.Contains(t, "还款") || strings.Contains(t, "pay"):
			v[1] = 1
		default:
			v[2] = 1
		}
		out[i] = v
	}
	return out
}

func TestKnowledgeBaseEmbeddings(t *testing.T) {
	f := &fakeOpenAI{embed: embedByTopic}
	url := f.start(t)
	emb, err := NewOpenAIEmbedder(LLMConfig{BaseURL: url, Model: "text-embedding-3-small"})
	if err != nil {
		t.Fatal(err)
	}
	kb := NewKnowledgeBase(faqs, WithEmbedder(emb))
	ctx := context.Background()
	// BM25 alone ranks pay_how (还款) above late_fee and both below MinScore; the embedding (征信 topic) lifts
	// late_fee.
	q := "还款晚了会上征信吗"
	plainKB := NewKnowledgeBase(faqs)
	if r := plainKB.rank(q); len(r) < 2 || plainKB.entries[r[0].entry].ID != "pay_how" || len(plainKB.Search(q, 3)) != 0 {
		t.Fatalf("premise: BM25 ranking %+v", r)
	}
	hits, err := kb.SearchContext(ctx, q, 3)
	if err != nil || len(hits) != 1 || hits[0].FAQ.ID != "late_fee" {
		t.Fatalf("re-ranked = %+v, %v", hits, err)
	}
	calls := f.embCalls.Load()
	if _, err := kb.SearchContext(ctx, q, 3); err != nil || f.embCalls.Load() != calls+1 {
		t.Errorf("question vectors should be cached: calls %d → %d", calls, f.embCalls.Load())
	}
	if hits, _ := kb.SearchContext(ctx, "今天天气怎么样", 3); len(hits) != 0 {
		t.Errorf("off-topic with embeddings: %+v", hits)
	}
	// A failing embedder falls back to BM25.
	down := &fakeOpenAI{embed: func([]string) [][]float32 { return nil }}
	downURL := down.start(t)
	bad, _ := NewOpenAIEmbedder(LLMConfig{BaseURL: downURL, Model: "e"})
	var logs bytes.Buffer
	kb2 := NewKnowledgeBase(faqs, WithEmbedder(bad), WithKBLogger(zerolog.New(&logs)))
	hits, err = kb2.SearchContext(ctx, "我要怎么还款，卡号6222021234567890", 3)
	if err != nil || len(hits) == 0 || hits[0].FAQ.ID != "pay_how" {
		t.Errorf("fallback to BM25: %+v, %v", hits, err)
	}
	if !strings.Contains(logs.String(), "embedding failed") || strings.Contains(logs.String(), "6222") {
		t.Errorf("log: want a warning without the query, got %q", logs.String())
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := kb.SearchContext(cctx, q, 3); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := NewOpenAIEmbedder(LLMConfig{}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("empty model: %v", err)
	}
}

func TestLLMClassifierLogsNoPII(t *testing.T) {
	f := &fakeOpenAI{chat: func(system, user string) (string, int, time.Duration) {
		if strings.Contains(user, "slow") {
			return `{"intent":"busy"}`, 0, time.Second
		}
		return "", http.StatusInternalServerError, 0
	}}
	url := f.start(t)
	var buf bytes.Buffer
	logger := zerolog.New(&buf)
	c, err := NewLLMClassifier(LLMConfig{BaseURL: url, APIKey: "sk-very-secret", Model: "m", Timeout: 200 * time.Millisecond,
		Fallback: commonMatcher(t), Logger: &logger})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"我的手机号是13800138000，别再打了", "slow 13800138000 别再打了"} {
		got, err := c.Classify(context.Background(), text, []string{IntentOptOut, IntentBusy})
		if err != nil || len(got) == 0 || got[0].Intent != IntentOptOut {
			t.Errorf("fallback: %+v, %v", got, err)
		}
	}
	logs := buf.String()
	if strings.Count(logs, "llm classifier failed") != 2 {
		t.Errorf("want two warnings, got %q", logs)
	}
	for _, secret := range []string{"13800138000", "sk-very-secret", "别再打了"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q: %s", secret, logs)
		}
	}
}

func TestLLMSentiment(t *testing.T) {
	f := &fakeOpenAI{chat: func(system, user string) (string, int, time.Duration) {
		switch {
		case !strings.Contains(system, "feels"):
			return "", http.StatusBadRequest, 0
		case strings.Contains(user, "slow"):
			return `{"score":0.9}`, 0, time.Second
		case strings.Contains(user, "range"):
			return `{"score":7}`, 0, 0
		case strings.Contains(user, "down"):
			return "", http.StatusServiceUnavailable, 0
		}
		return `{"score":-0.75}`, 0, 0
	}}
	s, err := NewLLMSentiment(LLMConfig{BaseURL: f.start(t), Model: "m", Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got, err := s.Score(ctx, "你们这服务真让人失望"); err != nil || got != -0.75 {
		t.Errorf("model score = %v, %v", got, err)
	}
	for _, text := range []string{"slow 骗子", "range 骗子", "down 骗子"} {
		got, err := s.Score(ctx, text)
		if err != nil || got != Sentiment(text) || got >= 0 {
			t.Errorf("%s: fallback = %v, %v (lexicon %v)", text, got, err, Sentiment(text))
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Score(cctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := NewLLMSentiment(LLMConfig{Model: "m", Timeout: -1}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("negative timeout: %v", err)
	}
}
