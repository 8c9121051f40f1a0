package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/internal/exampleenv"
)

func TestNoModelIsAClearError(t *testing.T) {
	_, err := example.Run(context.Background(), exampleenv.Default(), exampleenv.Options{Out: t.TempDir()}, io.Discard, io.Discard)
	if !errors.Is(err, exampleenv.ErrConfig) || !strings.Contains(err.Error(), "LLM_MODEL") || !strings.Contains(err.Error(), "OPENAI_BASE_URL") {
		t.Fatalf("err = %v", err)
	}
}

// fakeModel is an OpenAI-compatible streaming chat endpoint with canned answers chosen by the callee's last words.
func fakeModel(t *testing.T, calls *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	env := exampleenv.Default()
	env.LLMModel, env.OpenAIBase = "fake", srv.URL+"/v1"
	ctx := context.Background()
	res, err := example.RunForTestEnv(ctx, env, t.TempDir(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	exampleenv.Check(t, res.Records, []exampleenv.Expect{
		{ID: "curious", Tags: []string{"interested"}, Slots: map[string]any{"interest": "升级权益"}},
		{ID: "wants-human", Tags: []string{dialog.TagHuman}, End: dialog.EndTransfer, Reason: "requested"},
	})
	// The fee question is answered from the knowledge base; the interest goes to the model, whose sentence is
	// spoken and whose tool calls record the slot and end the call.
	if calls.Load() != 1 {
		t.Errorf("the model was asked %d times, want 1", calls.Load())
	}
	if r := exampleenv.ByID(res.Records)["curious"].Result; r != nil && len(r.Turns) == 3 {
		if !strings.Contains(r.Turns[1].Reply, "首年免年费") || !strings.Contains(r.Turns[2].Reply, "已为您记录") {
			t.Errorf("replies %q / %q", r.Turns[1].Reply, r.Turns[2].Reply)
		}
	} else {
		t.Errorf("curious: want 3 turns")
	}
}
