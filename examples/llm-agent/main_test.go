package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/outbound"
	"github.com/outcall/outcall/pkg/outbound/outboundtest"
)

func TestNoModelIsAClearError(t *testing.T) {
	_, err := app.Run(context.Background(), outbound.Simulated(outbound.Asterisk), outbound.Options{Out: t.TempDir()}, io.Discard, io.Discard)
	if !errors.Is(err, outbound.ErrConfig) || !strings.Contains(err.Error(), "LLM_MODEL") || !strings.Contains(err.Error(), "OPENAI_BASE_URL") {
		t.Fatalf("err = %v", err)
	}
}

// fakeModel is an OpenAI-compatible streaming chat endpoint with canned answers chosen by the callee's last words.
func fakeModel(t *testing.T, calls *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/models") { // the health check at start
			fmt.Fprint(w, `{"object":"list","data":[{"id":"fake","object":"model"}]}`)
			return
		}
		calls.Add(1)
		var req struct {
			Messages []struct{ Role, Content string }
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		last := req.Messages[len(req.Messages)-1].Content
		w.Header().Set("Content-Type", "text/event-stream")
		send := func(delta map[string]any) {
			b, _ := json.Marshal(map[string]any{"id": "c1", "object": "chat.completion.chunk", "model": "fake",
				"choices": []map[string]any{{"index": 0, "delta": delta}}})
			fmt.Fprintf(w, "data: %s\n\n", b)
		}
		tool := func(i int, name, args string) map[string]any {
			return map[string]any{"tool_calls": []map[string]any{{"index": i, "id": fmt.Sprint("call_", i), "type": "function",
				"function": map[string]any{"name": name, "arguments": args}}}}
		}
		switch {
		case strings.Contains(last, "兴趣"):
			send(map[string]any{"role": "assistant", "content": "好的,已为您记录,稍后短信发送权益说明。"})
			send(tool(0, "set_slot", `{"name":"interest","value":"升级权益"}`))
			send(tool(1, "end_call", `{"outcome":"interested"}`))
		default:
			send(map[string]any{"role": "assistant", "content": "首年免年费,刷卡满六次免次年年费。"})
			send(map[string]any{"content": "另外每年有六次机场贵宾厅,您感兴趣吗?"})
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
}

func TestAgentWithModel(t *testing.T) {
	var calls atomic.Int32
	srv := fakeModel(t, &calls)
	defer srv.Close()
	env := outbound.Simulated(outbound.Asterisk)
	env.LLMModel, env.OpenAIBase = "fake", srv.URL+"/v1"
	ctx := context.Background()
	res, err := outboundtest.RunEnv(ctx, app, env, t.TempDir(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	outboundtest.Check(t, res.Records, []outboundtest.Expect{
		{ID: "curious", Tags: []string{"interested"}, Slots: map[string]any{"interest": "升级权益"}},
		{ID: "wants-human", Tags: []string{dialog.TagHuman}, End: dialog.EndTransfer, Reason: "requested"},
	})
	// The fee question is answered from the knowledge base; the interest goes to the model, whose sentence is
	// spoken and whose tool calls record the slot and end the call.
	if calls.Load() != 1 {
		t.Errorf("the model was asked %d times, want 1", calls.Load())
	}
	if r := outboundtest.ByID(res.Records)["curious"].Result; r != nil && len(r.Turns) == 3 {
		if !strings.Contains(r.Turns[1].Reply, "首年免年费") || !strings.Contains(r.Turns[2].Reply, "已为您记录") {
			t.Errorf("replies %q / %q", r.Turns[1].Reply, r.Turns[2].Reply)
		}
	} else {
		t.Errorf("curious: want 3 turns")
	}
}

// TestUnreachableModelIsAClearError: a model server that is not there stops the program at start, naming the
// setting and the address, instead of every LLM turn silently speaking its fallback.
func TestUnreachableModelIsAClearError(t *testing.T) {
	env := outbound.Simulated(outbound.Asterisk)
	env.LLMModel, env.OpenAIBase = "qwen", "http://127.0.0.1:1/v1"
	_, err := app.Run(context.Background(), env, outbound.Options{Out: t.TempDir()}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "LLM_MODEL=qwen") || !strings.Contains(err.Error(), "http://127.0.0.1:1/v1") ||
		!strings.Contains(err.Error(), "does not answer") {
		t.Fatalf("err = %v", err)
	}
}

// TestModelFailureIsLogged: a model that fails during the call (here every chat request is refused) is logged as
// a provider failure and recorded as an incident of the call, while the callee hears the node's fallback.
func TestModelFailureIsLogged(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/models") {
			fmt.Fprint(w, `{"object":"list","data":[{"id":"fake","object":"model"}]}`)
			return
		}
		http.Error(w, `{"error":{"message":"model overloaded"}}`, http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	env := outbound.Simulated(outbound.Asterisk)
	env.LLMModel, env.OpenAIBase = "fake", srv.URL+"/v1"
	var stdout, stderr bytes.Buffer
	// The callee asks the model something, hears the fallback and hangs up.
	one := app
	one.Contacts = app.Contacts[:1]
	asks := outbound.Person("喂?", "听起来不错,我有兴趣")
	asks.Steps = append(asks.Steps, callee.Step{Action: callee.HangUp, When: callee.AfterBot})
	one.Callees = map[string]callee.Script{app.Contacts[0].Phone: asks}
	defer outboundtest.Lock()()
	res, err := one.Run(context.Background(), env, outbound.Options{Out: t.TempDir()}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	r := res.Records[0].Result
	if r == nil || !slices.ContainsFunc(r.Incidents, func(in dialog.Incident) bool {
		return in.Kind == dialog.IncidentLLM && in.Action == dialog.ActionFallback
	}) {
		t.Fatalf("no LLM incident: %+v", r)
	}
	if !strings.Contains(stderr.String(), "provider failure") || !strings.Contains(stderr.String(), "kind=llm") {
		t.Errorf("the failure was not logged:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), "! llm failed at turn") {
		t.Errorf("the transcript does not show the failure:\n%s", stdout.String())
	}
}
