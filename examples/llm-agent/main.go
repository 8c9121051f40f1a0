// Command llm-agent runs a free-form agent on an OpenAI-compatible model (OpenAI, DeepSeek, Qwen, a local Ollama
// or vLLM server) with a knowledge base (the script's FAQ) and tools (end the call, transfer to a human, record a
// slot, schedule a call back). It needs a model endpoint and says so clearly when none is configured:
//
//	LLM_MODEL=qwen2.5:7b OPENAI_BASE_URL=http://127.0.0.1:11434/v1 go run ./examples/llm-agent
//	LLM_MODEL=gpt-4o-mini OPENAI_API_KEY=sk-... go run ./examples/llm-agent
package main

import (
	_ "embed"

	"github.com/outcall/outcall/dialog"
	_ "github.com/outcall/outcall/pkg/audio/vad/silero" // VAD=silero (cgo; make speech-models)
	_ "github.com/outcall/outcall/pkg/audio/vad/webrtc" // VAD=webrtc (-tags webrtcvad)
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/campaign"
	"github.com/outcall/outcall/pkg/outbound"
)

//go:embed script.yaml
var script []byte

var contacts = []campaign.Contact{
	{ID: "curious", Phone: "+8613800005001", Name: "张三"},
	{ID: "wants-human", Phone: "+8613800005002", Name: "李四"},
}

var callees = map[string]callee.Script{
	// Asks a knowledge-base question, then shows interest: the model should record it and end the call.
	"+8613800005001": outbound.Person("喂?", "方便,年费怎么收", "听起来不错,我有兴趣"),
	// Asks for a person at once: the built-in handler transfers without asking the model.
	"+8613800005002": outbound.Person("喂", "我要转人工"),
}

var app = outbound.App{
	Name: "llm-agent", Title: "LLM agent · llm-agent", Script: script, ScriptFile: "llm-agent/script.yaml",
	Contacts: contacts, Callees: callees,
	Success: func(r dialog.Result) bool { return r.Outcome.Has("interested") },
}

func main() { app.Main() }
