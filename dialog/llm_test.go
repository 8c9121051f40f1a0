package dialog

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

const llmScript = `name: llm
start: agent
variables: {name: {type: string, required: true}}
slots: [{name: pay_date, kind: date}]
nodes:
  agent:
    say: ["{{.name}}您好,我是智能助理。"]
    llm:
      system: "你是银行客服,客户是{{.name}}。"
      max_turns: 2
      timeout: 2s
      tools: [end_call, set_slot]
      banned: [保证收益]
      fallback: "抱歉,请您稍后再说一遍。"
`

// sseServer is a fake OpenAI-compatible chat endpoint: each request is answered with the next list of chunks
// (content strings, or "tool:name:{json}" for a tool call), streamed as server-sent events. A chunk "wait" blocks
// until release is signalled, so a test can prove the first sentence arrived before the answer was complete.
type sseServer struct {
	answers [][]string
	release chan struct{}
	bodies  []map[string]any
	delay   time.Duration
}

func (s *sseServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	s.bodies = append(s.bodies, body)
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "text/event-stream")
	var chunks []string
	if len(s.answers) > 0 {
		chunks, s.answers = s.answers[0], s.answers[1:]
	}
	fl := w.(http.Flusher)
	for i, c := range chunks {
		if c == "wait" {
			<-s.release
			continue
		}
		delta := map[string]any{"content": c}
		if name, args, ok := strings.Cut(strings.TrimPrefix(c, "tool:"), ":"); ok && strings.HasPrefix(c, "tool:") {
			delta = map[string]any{"tool_calls": []map[string]any{{"index": i, "id": fmt.Sprint("call", i), "type": "function",
				"function": map[string]any{"name": name, "arguments": args}}}}
		}
		b, _ := json.Marshal(map[string]any{"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
			"choices": []map[string]any{{"index": 0, "delta": delta}}})
		fmt.Fprintf(w, "data: %s\n\n", b)
		fl.Flush()
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	fl.Flush()
}

func newLLMConv(t *testing.T, srv *sseServer) *Conversation {
	t.Helper()
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	llm, err := NewOpenAI(OpenAIConfig{BaseURL: hs.URL + "/v1", APIKey: "k", Model: "test-model"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load([]byte(llmScript), "llm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, r, err := Start(s, "llm-1", map[string]any{"name": "张三"}, Options{LLM: llm})
	if err != nil || r.Prompt != "张三您好,我是智能助理。" {
		t.Fatalf("start: %v %q", err, r.Prompt)
	}
	return c
}

func TestLLMStreamsSentencesAndTools(t *testing.T) {
	srv := &sseServer{release: make(chan struct{}), answers: [][]string{
		{"好的,", "我记下了。", "wait", "您明天", "还款对吗?", "tool:set_slot:{\"name\":\"pay_date\",\"value\":\"2026-03-03\"}"},
		{"感谢您,再见。", "tool:end_call:{\"outcome\":\"promise_to_pay\"}", "tool:transfer_to_human:{\"reason\":\"x\"}"},
	}}
	c := newLLMConv(t, srv)
	var got []string
	r, err := c.StepStream(t.Context(), Say("我明天还"), func(s string) {
		got = append(got, s)
		if len(got) == 1 {
			close(srv.release) // the first sentence arrived while the server still held the rest
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"好的,我记下了。", "您明天还款对吗?"}) || !r.Streamed || r.Prompt != "好的,我记下了。 您明天还款对吗?" {
		t.Fatalf("sentences %q reply %+v", got, r)
	}
	if c.State().Slots["pay_date"] != "2026-03-03" || r.Done {
		t.Fatalf("slots %v done %v", c.State().Slots, r.Done)
	}
	// The request carried the system prompt with variables, and only the allowed tools.
	b := srv.bodies[0]
	msgs, _ := json.Marshal(b["messages"])
	if !strings.Contains(string(msgs), "客户是张三") || len(b["tools"].([]any)) != 2 || b["stream"] != true {
		t.Fatalf("request %v", b)
	}
	r, err = c.Step(t.Context(), Say("对"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Done || !c.State().Outcome.Has("promise_to_pay") || c.State().Outcome.End != EndHangup ||
		!slices.Equal(r.ToolsRefused, []string{ToolTransferToHuman}) {
		t.Fatalf("end: %+v outcome %+v", r, c.State().Outcome)
	}
	// The second request carried the history.
	msgs, _ = json.Marshal(srv.bodies[1]["messages"])
	if !strings.Contains(string(msgs), "您明天还款对吗") {
		t.Fatalf("history missing: %s", msgs)
	}
}

func TestLLMGuardrails(t *testing.T) {
	t.Run("banned phrase", func(t *testing.T) {
		c := newLLMConv(t, &sseServer{answers: [][]string{{"这款产品", "保证收益百分之十。", "快买吧。"}}})
		r, err := c.Step(t.Context(), Say("收益怎么样"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(r.Prompt, "保证收益") || !strings.Contains(r.Prompt, "抱歉,请您稍后再说一遍。") || strings.Contains(r.Prompt, "快买吧") {
			t.Fatalf("prompt %q", r.Prompt)
		}
	})
	t.Run("time limit", func(t *testing.T) {
		c := newLLMConv(t, &sseServer{delay: 5 * time.Second, answers: [][]string{{"太晚了。"}}})
		c.s.Nodes["agent"].LLM.Timeout = Duration(100 * time.Millisecond)
		r, err := c.Step(t.Context(), Say("你好"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Prompt != "抱歉,请您稍后再说一遍。" || r.LLMError == "" || r.Done {
			t.Fatalf("reply %+v", r)
		}
	})
	t.Run("max turns", func(t *testing.T) {
		c := newLLMConv(t, &sseServer{answers: [][]string{{"一。"}, {"二。"}, {"三。"}}})
		for i := 0; i < 2; i++ {
			if r, err := c.Step(t.Context(), Say("继续")); err != nil || r.Done {
				t.Fatalf("turn %d: %v %+v", i, err, r)
			}
		}
		r, err := c.Step(t.Context(), Say("继续"))
		if err != nil || !r.Done || r.End != EndTransfer || c.State().Outcome.TransferReason != "llm_max_turns" {
			t.Fatalf("third turn: %v %+v", err, r)
		}
	})
	t.Run("global handlers still apply", func(t *testing.T) {
		c := newLLMConv(t, &sseServer{})
		r, err := c.Step(t.Context(), Say("别再打了"))
		if err != nil || !c.State().Outcome.OptOut || !r.Done {
			t.Fatalf("%v %+v", err, r)
		}
	})
}

func TestSentenceCutter(t *testing.T) {
	var c SentenceCutter
	var got []string
	for _, d := range []string{"您好", "。我是", "助手！Price is 3", ".5 dollars. OK", "? 最后一句"} {
		got = append(got, c.Push(d)...)
	}
	got = append(got, c.Flush())
	want := []string{"您好。", "我是助手！", "Price is 3.5 dollars.", "OK?", "最后一句"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
}

func FuzzSentenceCutter(f *testing.F) {
	f.Add("您好。我是助手！", 3)
	f.Add("Price is 3.5 dollars. OK? yes", 1)
	f.Add("\xff\xfe。。", 2)
	f.Fuzz(func(t *testing.T, s string, step int) {
		if step <= 0 || step > 64 {
			step = 1
		}
		var c SentenceCutter
		var out strings.Builder
		for i := 0; i < len(s); i += step {
			for _, x := range c.Push(s[i:min(i+step, len(s))]) {
				out.WriteString(x)
			}
		}
		out.WriteString(c.Flush())
		// Nothing but white space is lost, and nothing is invented.
		strip := func(x string) string { return strings.Join(strings.Fields(x), "") }
		if strip(out.String()) != strip(s) {
			t.Fatalf("cut %q into %q", s, out.String())
		}
	})
}
