package dialog_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/dialog"
)

// TestRunLLMNodeOnAudio runs an LLM node on a call: the model's streamed sentences are spoken and its end_call
// tool ends the call with the outcome it names.
func TestRunLLMNodeOnAudio(t *testing.T) {
	noLeak(t)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		chunk := func(delta string) {
			fmt.Fprintf(w, `data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":%s}]}`+"\n\n", delta)
			w.(http.Flusher).Flush()
		}
		chunk(`{"content":"好的,"}`)
		chunk(`{"content":"已为您登记。"}`)
		chunk(`{"content":"再见。"}`)
		chunk(`{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"end_call","arguments":"{\"outcome\":\"llm_promise\"}"}}]}`)
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	defer hs.Close()
	llm, err := dialog.NewOpenAI(dialog.OpenAIConfig{BaseURL: hs.URL + "/v1", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := dialog.Load([]byte(`name: agent
start: agent
variables: {name: {type: string, required: true}}
nodes:
  agent:
    say: ["{{.name}}您好,请问什么时候方便还款?"]
    llm: {system: "你是催收助理。", tools: [end_call]}
`), "agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fc := newFakeCall(t, step{say: "我明天还"})
	d := deps(map[string]any{"name": "张三"}, nil, nil)
	d.LLM = llm
	res, err := dialog.Run(t.Context(), fc, s, d)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Outcome.Has("llm_promise") || res.Outcome.End != dialog.EndHangup || fc.cause == 0 {
		t.Fatalf("result %+v", res)
	}
	if r := res.Turns[1].Reply; !strings.Contains(r, "已为您登记。") || !strings.Contains(r, "再见。") {
		t.Fatalf("reply %q", r)
	}
	// The spoken sentences reached the callee: the bot wrote audio after the callee's reply.
	if h := fc.botHeard(); h < 100 {
		t.Fatalf("bot frames heard %d", h)
	}
}

// TestRunLLMFailureIsAnIncident: a model that fails mid-call is not silent: the turn speaks the node's fallback,
// and the failure is an Incident of the call (kind llm, action fallback) and a logged provider failure.
func TestRunLLMFailureIsAnIncident(t *testing.T) {
	noLeak(t)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{"message":"overloaded"}}`, http.StatusServiceUnavailable)
	}))
	defer hs.Close()
	llm, err := dialog.NewOpenAI(dialog.OpenAIConfig{BaseURL: hs.URL + "/v1", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := dialog.Load([]byte(`name: agent
start: agent
nodes:
  agent:
    say: ["您好,请问什么时候方便还款?"]
    llm: {system: "你是催收助理。", tools: [end_call], fallback: "抱歉,请您再说一遍。"}
`), "agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fc := newFakeCall(t, step{say: "我明天还"})
	d := deps(nil, nil, nil)
	d.LLM = llm
	var logs strings.Builder
	log := zerolog.New(&logs)
	d.Logger = &log
	res, _ := dialog.Run(t.Context(), fc, s, d)
	if len(res.Turns) < 2 || res.Turns[1].Reply != "抱歉,请您再说一遍。" {
		t.Fatalf("turns %+v", res.Turns)
	}
	if len(res.Incidents) == 0 || res.Incidents[0].Kind != dialog.IncidentLLM || res.Incidents[0].Action != dialog.ActionFallback ||
		!strings.Contains(res.Incidents[0].Err, "503") {
		t.Errorf("incidents %+v", res.Incidents)
	}
	if !strings.Contains(logs.String(), `"kind":"llm"`) || !strings.Contains(logs.String(), "provider failure") {
		t.Errorf("logs: %s", logs.String())
	}
}
