package dialog

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"
)

// BenchmarkStep measures utterance final → next prompt text ready on rule nodes of the finance script: intent
// matching, slot extraction, expression routes and template rendering. It reports p50/p99 per turn.
func BenchmarkStep(b *testing.B) {
	s, err := LoadFile("../examples/finance-overdue/script.yaml")
	if err != nil {
		b.Fatal(err)
	}
	vars := map[string]any{"name": "张三", "overdue_days": 5, "amount": 1000.0}
	inputs := []Input{Say("什么意思"), Say("好的可以分期"), Say("下周一还三百")}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c, _, err := Start(s, "b", vars, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for _, in := range inputs {
			t0 := time.Now()
			if _, err := c.Step(b.Context(), in); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkLoad measures loading and checking a sector script.
func BenchmarkLoad(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := LoadFile("../examples/government/script.yaml"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLLMFirstSentence measures, on a local OpenAI-compatible SSE server, the time from the callee's final
// text to the first complete sentence handed to TTS while the model is still streaming the rest of the answer.
func BenchmarkLLMFirstSentence(b *testing.B) {
	srv := &sseServer{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.answers = [][]string{{"好的,", "我记下了。", "您明天", "还款对吗?"}}
		srv.ServeHTTP(w, r)
	}))
	defer hs.Close()
	llm, err := NewOpenAI(OpenAIConfig{BaseURL: hs.URL + "/v1", Model: "m"})
	if err != nil {
		b.Fatal(err)
	}
	s, err := Load([]byte(llmScript), "llm.yaml")
	if err != nil {
		b.Fatal(err)
	}
	s.Nodes["agent"].LLM.MaxTurns = 1 << 30
	c, _, err := Start(s, "b", map[string]any{"name": "张三"}, Options{LLM: llm})
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		c.st.LLMHistory = nil
		t0 := time.Now()
		var first time.Duration
		if _, err := c.StepStream(b.Context(), Say("我明天还"), func(string) {
			if first == 0 {
				first = time.Since(t0)
			}
		}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, first)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "first-p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "first-p99-µs")
}
