package dialog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	openai "github.com/sashabaranov/go-openai"

	"github.com/outcall/outcall/internal/openaiclient"
)

// LLMNode makes a node converse through a language model: each reply the script's routes do not catch goes to
// the model with the system prompt, the variables, knowledge snippets and the conversation so far; the model's
// streamed text is spoken sentence by sentence and its tool calls end, transfer, set slots or schedule a callback.
type LLMNode struct {
	System   string   `yaml:"system"`    // system prompt (template on variables and slots); required
	MaxTurns int      `yaml:"max_turns"` // model turns at this node before escalating to a human; default 8
	Timeout  Duration `yaml:"timeout"`   // limit for one model answer; default 6s
	Tools    []string `yaml:"tools"`     // allowed tools; default all: end_call, transfer_to_human, set_slot, schedule_callback
	Banned   []string `yaml:"banned"`    // phrases never spoken: a sentence holding one is replaced by Fallback
	Fallback string   `yaml:"fallback"`  // spoken when the model fails, times out or says a banned phrase; default: the no-match prompt

	system   *template.Template
	fallback *template.Template
}

// Tool names an LLM node may allow.
const (
	ToolEndCall          = "end_call"          // {"outcome": tag}
	ToolTransferToHuman  = "transfer_to_human" // {"reason": text}
	ToolSetSlot          = "set_slot"          // {"name": slot, "value": any}
	ToolScheduleCallback = "schedule_callback" // {"time": RFC 3339 or words like 明天下午三点}
)

var allTools = []string{ToolEndCall, ToolTransferToHuman, ToolSetSlot, ToolScheduleCallback}

// ChatMessage is one message of a model conversation.
type ChatMessage struct {
	Role    string `json:"role"` // system, user, assistant
	Content string `json:"content"`
}

// ChatRequest is what an LLM is asked.
type ChatRequest struct {
	Messages []ChatMessage
	Tools    []string // names of the tools the model may call
}

// ToolCall is a tool the model called.
type ToolCall struct {
	Name string
	Args map[string]any
}

// ChatResponse is a model's complete answer.
type ChatResponse struct {
	Text      string
	ToolCalls []ToolCall
}

// LLM is a streaming chat model. Chat calls onText with each piece of text as it arrives (from one goroutine,
// before Chat returns) and returns the whole answer.
type LLM interface {
	Chat(ctx context.Context, req ChatRequest, onText func(delta string)) (ChatResponse, error)
}

// OpenAIConfig configures an OpenAI-compatible chat model (OpenAI, DeepSeek, Qwen, vLLM, ...).
type OpenAIConfig struct {
	BaseURL     string       // API base, e.g. "https://api.deepseek.com/v1"; default OpenAI's
	APIKey      string       // bearer token; may be empty for local servers
	Model       string       // model name; required
	Temperature float32      // default 0 (the server's default)
	MaxTokens   int          // answer limit; default 0 (the server's default)
	HTTPClient  *http.Client // default: http.DefaultClient (time limits come from the context)
}

// OpenAI is an LLM on the OpenAI chat-completions streaming API.
type OpenAI struct {
	c   *openai.Client
	cfg OpenAIConfig
}

// ErrLLM wraps failures of the model call.
var ErrLLM = errors.New("dialog: LLM")

// NewOpenAI returns an LLM for cfg.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	if cfg.Model == "" {
		return nil, fmt.Errorf("%w: model is required", ErrLLM)
	}
	return &OpenAI{c: openaiclient.New(cfg.APIKey, cfg.BaseURL, cfg.HTTPClient), cfg: cfg}, nil
}

var toolSchemas = map[string]openai.FunctionDefinition{
	ToolEndCall: {Name: ToolEndCall, Description: "End the call politely with an outcome tag.",
		Parameters: json.RawMessage(`{"type":"object","properties":{"outcome":{"type":"string"}},"required":["outcome"]}`)},
	ToolTransferToHuman: {Name: ToolTransferToHuman, Description: "Transfer the callee to a human agent.",
		Parameters: json.RawMessage(`{"type":"object","properties":{"reason":{"type":"string"}},"required":["reason"]}`)},
	ToolSetSlot: {Name: ToolSetSlot, Description: "Record a value the callee gave.",
		Parameters: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"},"value":{}},"required":["name","value"]}`)},
	ToolScheduleCallback: {Name: ToolScheduleCallback, Description: "Schedule a call back at the time the callee asked for.",
		Parameters: json.RawMessage(`{"type":"object","properties":{"time":{"type":"string"}},"required":["time"]}`)},
}

// Chat implements LLM with a streaming chat completion.
func (o *OpenAI) Chat(ctx context.Context, req ChatRequest, onText func(string)) (ChatResponse, error) {
	creq := openai.ChatCompletionRequest{Model: o.cfg.Model, Stream: true, Temperature: o.cfg.Temperature, MaxTokens: o.cfg.MaxTokens}
	for _, m := range req.Messages {
		creq.Messages = append(creq.Messages, openai.ChatCompletionMessage{Role: m.Role, Content: m.Content})
	}
	for _, t := range req.Tools {
		if def, ok := toolSchemas[t]; ok {
			creq.Tools = append(creq.Tools, openai.Tool{Type: openai.ToolTypeFunction, Function: &def})
		}
	}
	st, err := o.c.CreateChatCompletionStream(ctx, creq)
	if err != nil {
		return ChatResponse{}, fmt.Errorf("%w: %w", ErrLLM, err)
	}
	defer st.Close()
	var text strings.Builder
	type partial struct{ name, args strings.Builder }
	var calls []*partial
	for {
		resp, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return ChatResponse{Text: text.String()}, fmt.Errorf("%w: stream: %w", ErrLLM, err)
		}
		for _, ch := range resp.Choices {
			if d := ch.Delta.Content; d != "" {
				text.WriteString(d)
				if onText != nil {
					onText(d)
				}
			}
			for _, tc := range ch.Delta.ToolCalls {
				i := len(calls)
				if tc.Index != nil {
					i = *tc.Index
				}
				if i < 0 || i > 64 {
					continue
				}
				for len(calls) <= i {
					calls = append(calls, &partial{})
				}
				calls[i].name.WriteString(tc.Function.Name)
				calls[i].args.WriteString(tc.Function.Arguments)
			}
		}
	}
	out := ChatResponse{Text: text.String()}
	for _, p := range calls {
		if p.name.Len() == 0 {
			continue // an index the server skipped
		}
		tc := ToolCall{Name: p.name.String(), Args: map[string]any{}}
		if a := strings.TrimSpace(p.args.String()); a != "" {
			if err := json.Unmarshal([]byte(a), &tc.Args); err != nil {
				return out, fmt.Errorf("%w: tool %s arguments %q: %w", ErrLLM, tc.Name, a, err)
			}
		}
		out.ToolCalls = append(out.ToolCalls, tc)
	}
	return out, nil
}

// SentenceCutter cuts streamed text into sentences at zh (。！？；) and en (. ! ? ;) ends, so each can be
// spoken as soon as it is complete. An en full stop ends a sentence only before white space, so "3.5" stays whole.
type SentenceCutter struct {
	buf strings.Builder
}

// Push adds streamed text and returns the sentences it completed.
func (c *SentenceCutter) Push(delta string) []string {
	c.buf.WriteString(delta)
	s := c.buf.String()
	var out []string
	start := 0
	for i, r := range s {
		end := -1
		switch r {
		case '。', '！', '？', '；', '!', '?', '\n':
			end = i + utf8.RuneLen(r)
		case '.', ';':
			if next := i + 1; next < len(s) && (s[next] == ' ' || s[next] == '\n') {
				end = next
			}
		}
		if end > start {
			if t := strings.TrimSpace(s[start:end]); t != "" {
				out = append(out, t)
			}
			start = end
		}
	}
	c.buf.Reset()
	c.buf.WriteString(s[start:])
	return out
}

// Flush returns the text after the last sentence end (the model's unterminated last sentence), if any.
func (c *SentenceCutter) Flush() string {
	t := strings.TrimSpace(c.buf.String())
	c.buf.Reset()
	return t
}

// llmTurn answers the callee's text through the model. Sentences go to onSentence as they complete.
func (c *Conversation) llmTurn(ctx context.Context, r *Reply, n *Node, text string, onSentence func(string)) {
	ln := n.LLM
	st := c.st
	env := c.envFor("", text, "")
	fallback := c.render(ln.fallback, "", env)
	if fallback == "" {
		fallback = c.global("no_match")
	}
	st.LLMTurns++
	if st.LLMTurns > ln.MaxTurns {
		c.toHuman(r, "llm_max_turns", TagUnresolved)
		return
	}
	if c.o.LLM == nil {
		c.say(r, fallback)
		r.Node, r.Listen, r.Speed = n.id, c.listenOf(n), c.speedOf(n)
		return
	}
	ans, err := c.askLLM(ctx, ln, c.llmMessages(ln, env, text), onSentence)
	spoken := ans.spoken
	if err != nil || ans.blocked || len(spoken) == 0 && len(ans.resp.ToolCalls) == 0 {
		if err != nil {
			r.LLMError = err.Error()
		}
		spoken = append(spoken, fallback)
		if onSentence != nil {
			onSentence(fallback)
		}
	}
	r.Streamed = onSentence != nil
	for _, s := range spoken {
		c.say(r, s)
	}
	st.LLMHistory = append(st.LLMHistory, ChatMessage{Role: "user", Content: text},
		ChatMessage{Role: "assistant", Content: strings.Join(spoken, "")})
	r.Node, r.Listen, r.Speed = n.id, c.listenOf(n), c.speedOf(n)
	if err != nil {
		return
	}
	c.setSlots(r, ln, ans.resp.ToolCalls)
	c.endByTools(r, ln, ans.resp.ToolCalls) // after the slots are set, whatever order the model used
}

// llmMessages is the conversation so far for the model, with text the callee's latest words.
func (c *Conversation) llmMessages(ln *LLMNode, env map[string]any, text string) []ChatMessage {
	system := c.render(ln.system, "", env)
	if c.o.Knowledge != nil {
		if ans, ok := c.o.Knowledge.Answer(text); ok {
			system += "\n参考资料 / Reference: " + c.render(nil, ans, env)
		}
	}
	msgs := []ChatMessage{{Role: "system", Content: system + "\n" + describeState(c)}}
	msgs = append(msgs, c.st.LLMHistory...)
	return append(msgs, ChatMessage{Role: "user", Content: text})
}

// llmAnswer is the model's answer as the callee got it.
type llmAnswer struct {
	resp    ChatResponse
	spoken  []string // the sentences passed on
	blocked bool     // a sentence held a banned phrase: it and the rest were not passed on
}

// askLLM streams the model's answer to msgs, cut into sentences for onSentence.
func (c *Conversation) askLLM(ctx context.Context, ln *LLMNode, msgs []ChatMessage, onSentence func(string)) (llmAnswer, error) {
	tctx, cancel := context.WithTimeout(ctx, time.Duration(ln.Timeout))
	defer cancel()
	var cut SentenceCutter
	var spoken []string
	blocked := false
	emit := func(s string) {
		if blocked || s == "" {
			return
		}
		for _, b := range ln.Banned {
			if b != "" && strings.Contains(s, b) {
				blocked = true
				return
			}
		}
		spoken = append(spoken, s)
		if onSentence != nil {
			onSentence(s)
		}
	}
	resp, err := c.o.LLM.Chat(tctx, ChatRequest{Messages: msgs, Tools: ln.Tools}, func(d string) {
		for _, s := range cut.Push(d) {
			emit(s)
		}
	})
	if err == nil {
		emit(cut.Flush())
	}
	return llmAnswer{resp: resp, spoken: spoken, blocked: blocked}, err
}

// setSlots carries out the model's set_slot calls that ln allows; the others are refused in r.ToolsRefused.
func (c *Conversation) setSlots(r *Reply, ln *LLMNode, calls []ToolCall) {
	for _, tc := range calls {
		if !contains(ln.Tools, tc.Name) {
			r.ToolsRefused = append(r.ToolsRefused, tc.Name)
			continue
		}
		if tc.Name != ToolSetSlot {
			continue
		}
		name, _ := tc.Args["name"].(string)
		sl := c.s.slotBy[name]
		if sl == nil {
			r.ToolsRefused = append(r.ToolsRefused, tc.Name+":"+name)
			continue
		}
		if v, ok := normalizeSlot(sl.Kind, tc.Args["value"]); ok {
			c.st.Slots[name] = v
			if r.Slots == nil {
				r.Slots = map[string]any{}
			}
			r.Slots[name] = v
		}
	}
}

// endByTools carries out the first ending tool call ln allows: end the call, transfer to a human, call back.
func (c *Conversation) endByTools(r *Reply, ln *LLMNode, calls []ToolCall) {
	st := c.st
	for _, tc := range calls {
		if !contains(ln.Tools, tc.Name) || st.Done {
			continue
		}
		switch tc.Name {
		case ToolEndCall:
			tag, _ := tc.Args["outcome"].(string)
			if tag == "" {
				tag = "llm_end"
			}
			c.finish(r, "", EndHangup, tag)
		case ToolTransferToHuman:
			reason, _ := tc.Args["reason"].(string)
			if reason == "" {
				reason = "llm"
			}
			st.Outcome.TransferReason = reason
			c.finish(r, "", EndTransfer, TagHuman)
		case ToolScheduleCallback:
			when, _ := tc.Args["time"].(string)
			at, err := time.Parse(time.RFC3339, when)
			if err != nil || !at.After(c.o.Now()) {
				at = c.callbackTime(when)
			}
			st.Outcome.CallbackAt = at
			c.finish(r, "", EndHangup, TagCallback)
		}
	}
}

func describeState(c *Conversation) string {
	b, _ := json.Marshal(map[string]any{"variables": c.st.Vars, "slots": c.st.Slots})
	return "State: " + string(b)
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
