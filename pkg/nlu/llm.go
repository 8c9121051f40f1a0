package nlu

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"
	openai "github.com/sashabaranov/go-openai"

	"github.com/outcall/outcall/internal/openaiclient"
)

// LLMConfig configures an LLMClassifier or an OpenAI embedder against any OpenAI-compatible service (OpenAI,
// DeepSeek, Qwen/DashScope, vLLM, Ollama).
type LLMConfig struct {
	// BaseURL of the API, e.g. "https://api.deepseek.com/v1" or "http://127.0.0.1:8000/v1". default: OpenAI's
	BaseURL string
	// APIKey is sent as a bearer token; never logged. default: none
	APIKey string
	// Model names the chat (or, for NewOpenAIEmbedder, embedding) model. Required.
	Model string
	// Timeout bounds one request; on expiry LLMClassifier answers from its Fallback. default: 800 ms
	Timeout time.Duration
	// Descriptions explain intents to the model by name ("optout": "the callee asks never to be called again").
	// default: none (names only)
	Descriptions map[string]string
	// Fallback answers when the service fails, times out or answers outside the given intents. default: none (the
	// error is returned)
	Fallback Classifier
	// HTTPClient carries the requests. default: a new http.Client
	HTTPClient *http.Client
	// Logger receives failures (never the utterance, key or phone numbers). default: zerolog.Nop()
	Logger *zerolog.Logger
}

// LLMClassifier asks a chat model to pick the intent of an utterance among given names, with a time limit and a
// rules fallback. It is safe for concurrent use.
type LLMClassifier struct {
	client   *openai.Client
	cfg      LLMConfig
	log      zerolog.Logger
	fallback Classifier
}

// NewLLMClassifier returns a classifier for cfg; an empty Model is an error wrapping ErrBadConfig.
func NewLLMClassifier(cfg LLMConfig) (*LLMClassifier, error) {
	client, err := newOpenAIClient(&cfg)
	if err != nil {
		return nil, err
	}
	c := &LLMClassifier{client: client, cfg: cfg, log: zerolog.Nop(), fallback: cfg.Fallback}
	if cfg.Logger != nil {
		c.log = *cfg.Logger
	}
	return c, nil
}

func newOpenAIClient(cfg *LLMConfig) (*openai.Client, error) {
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, fmt.Errorf("%w: LLMConfig.Model is empty", ErrBadConfig)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: LLMConfig.Timeout %v is negative", ErrBadConfig, cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 800 * time.Millisecond
	}
	return openaiclient.New(cfg.APIKey, cfg.BaseURL, cfg.HTTPClient), nil
}

// llmAnswer is the JSON object the model is asked for.
type llmAnswer struct {
	Intent     string   `json:"intent"`
	Confidence *float64 `json:"confidence"`
	Negated    bool     `json:"negated"`
}

// Classify implements Classifier. intents must not be empty (the model needs a closed set); an answer of "none"
// yields no match. On any failure — transport, timeout, malformed JSON, an intent outside the set — it returns the
// Fallback's answer when one is set, else an error wrapping ErrLLM.
func (c *LLMClassifier) Classify(ctx context.Context, text string, intents []string) ([]Match, error) {
	ms, err := c.ask(ctx, text, intents)
	if err == nil {
		return ms, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err() // the caller gave up; only our own time limit falls back
	}
	c.log.Warn().Err(err).Int("intents", len(intents)).Msg("nlu: llm classifier failed; using fallback")
	if c.fallback == nil {
		return nil, err
	}
	return c.fallback.Classify(ctx, text, intents)
}

func (c *LLMClassifier) ask(ctx context.Context, text string, intents []string) ([]Match, error) {
	if len(intents) == 0 {
		return nil, fmt.Errorf("%w: no intents to choose from", ErrLLM)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var sys strings.Builder
	sys.WriteString("You classify one utterance of a person answering an outbound phone call (Chinese or English). " +
		"Choose the single best intent from this list, or \"none\" if no intent fits:\n")
	names := slices.Clone(intents)
	sort.Strings(names)
	for _, n := range names {
		sys.WriteString("- ")
		sys.WriteString(n)
		if d := c.cfg.Descriptions[n]; d != "" {
			sys.WriteString(": ")
			sys.WriteString(d)
		}
		sys.WriteString("\n")
	}
	sys.WriteString(`Answer with a JSON object only: {"intent": "<name or none>", "confidence": <0..1>, "negated": <true if the person says the intent in the negative>}`)
	var a llmAnswer
	if err := chatJSON(ctx, c.client, c.cfg.Model, sys.String(), text, &a); err != nil {
		return nil, err
	}
	if a.Intent == "none" || a.Intent == "" {
		return nil, nil
	}
	if !slices.Contains(intents, a.Intent) {
		return nil, fmt.Errorf("%w: answer names intent %q outside the %d given", ErrLLM, a.Intent, len(intents))
	}
	conf := 0.8
	if a.Confidence != nil && *a.Confidence >= 0 && *a.Confidence <= 1 {
		conf = *a.Confidence
	}
	return []Match{{Intent: a.Intent, Score: conf, Negated: a.Negated, Span: text}}, nil
}

// chatJSON asks model for a JSON object (system prompt, then the user's text) and decodes it into out.
func chatJSON(ctx context.Context, client *openai.Client, model, system, user string, out any) error {
	resp, err := client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{
		Model: model,
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: system},
			{Role: openai.ChatMessageRoleUser, Content: user},
		},
		ResponseFormat: &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject},
		Temperature:    0,
		MaxTokens:      60,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrLLM, err)
	}
	if len(resp.Choices) == 0 {
		return fmt.Errorf("%w: answer has no choices", ErrLLM)
	}
	raw := strings.TrimSpace(resp.Choices[0].Message.Content)
	raw = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(raw, "```json"), "```"), "```")
	if err := json.Unmarshal([]byte(strings.TrimSpace(raw)), out); err != nil {
		return fmt.Errorf("%w: answer is not the JSON asked for: %w", ErrLLM, err)
	}
	return nil
}

// LLMSentiment scores utterances with a chat model, falling back to the lexicon (Sentiment) when the model fails
// or runs out of time. It is safe for concurrent use.
type LLMSentiment struct {
	client *openai.Client
	cfg    LLMConfig
	log    zerolog.Logger
}

// NewLLMSentiment returns a scorer for cfg (Descriptions and Fallback are not used); an empty Model is an error
// wrapping ErrBadConfig.
func NewLLMSentiment(cfg LLMConfig) (*LLMSentiment, error) {
	client, err := newOpenAIClient(&cfg)
	if err != nil {
		return nil, err
	}
	s := &LLMSentiment{client: client, cfg: cfg, log: zerolog.Nop()}
	if cfg.Logger != nil {
		s.log = *cfg.Logger
	}
	return s, nil
}

// Score returns the utterance's sentiment in [-1, 1] as the model judges it, or the lexicon's score when the model
// fails, times out or answers out of range. It returns an error only when ctx is done.
func (s *LLMSentiment) Score(ctx context.Context, text string) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	tctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var a struct {
		Score *float64 `json:"score"`
	}
	err := chatJSON(tctx, s.client, s.cfg.Model, "You rate how the person answering an outbound phone call feels, from "+
		"-1 (furious, insulting, threatening to complain) through 0 (neutral) to 1 (pleased, thankful). "+
		`Answer with a JSON object only: {"score": <number from -1 to 1>}`, text, &a)
	if err == nil && (a.Score == nil || *a.Score < -1 || *a.Score > 1) {
		err = fmt.Errorf("%w: score missing or out of range", ErrLLM)
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		s.log.Warn().Err(err).Msg("nlu: llm sentiment failed; using the lexicon")
		return Sentiment(text), nil
	}
	return *a.Score, nil
}

// OpenAIEmbedder implements Embedder with an OpenAI-compatible /embeddings endpoint.
type OpenAIEmbedder struct {
	client *openai.Client
	cfg    LLMConfig
}

// NewOpenAIEmbedder returns an Embedder for cfg (Model is the embedding model; Descriptions and Fallback are not
// used); an empty Model is an error wrapping ErrBadConfig.
func NewOpenAIEmbedder(cfg LLMConfig) (*OpenAIEmbedder, error) {
	client, err := newOpenAIClient(&cfg)
	if err != nil {
		return nil, err
	}
	return &OpenAIEmbedder{client: client, cfg: cfg}, nil
}

// Embed returns one vector per text, in order, within the configured Timeout.
func (e *OpenAIEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	resp, err := e.client.CreateEmbeddings(ctx, openai.EmbeddingRequest{Input: texts, Model: openai.EmbeddingModel(e.cfg.Model)})
	if err != nil {
		return nil, fmt.Errorf("%w: embeddings: %w", ErrLLM, err)
	}
	out := make([][]float32, len(texts))
	for _, d := range resp.Data {
		if d.Index < 0 || d.Index >= len(out) {
			return nil, fmt.Errorf("%w: embedding index %d out of range", ErrLLM, d.Index)
		}
		out[d.Index] = d.Embedding
	}
	for i, v := range out {
		if v == nil {
			return nil, fmt.Errorf("%w: no embedding for text #%d", ErrLLM, i)
		}
	}
	return out, nil
}

func errEmbedCount(want, got int) error {
	return fmt.Errorf("%w: %d embeddings for %d texts", ErrLLM, got, want)
}
