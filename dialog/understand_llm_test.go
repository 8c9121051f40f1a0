package dialog

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/nlu"
)

// fakeChat is an OpenAI-compatible chat endpoint on 127.0.0.1 that answers every classification with answer (the
// JSON object the model would write), fails with status when set, or holds the request until the client gives
// up when hang is set. It counts the requests.
type fakeChat struct {
	answer string
	status int
	hang   bool
	asked  atomic.Int32
	done   chan struct{} // closed at the test's end: a held request returns
}

func (f *fakeChat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.asked.Add(1)
	switch {
	case f.hang:
		select { // the classifier's own time limit ends it; the test's end at the latest
		case <-r.Context().Done():
		case <-f.done:
		}
		return
	case f.status != 0:
		http.Error(w, "overloaded", f.status)
		return
	}
	content, _ := json.Marshal(f.answer)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,`+
		`"message":{"role":"assistant","content":%s},"finish_reason":"stop"}]}`, content)
}

// unsureSim is the finance script with f's server as Options.Unsure.
func unsureSim(t *testing.T, f *fakeChat) *Simulator {
	t.Helper()
	hs := httptest.NewServer(f)
	t.Cleanup(hs.Close)
	f.done = make(chan struct{})
	t.Cleanup(func() { close(f.done) }) // runs before hs.Close
	llm, err := nlu.NewLLMClassifier(nlu.LLMConfig{BaseURL: hs.URL + "/v1", Model: "m", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadFile("../examples/finance-overdue/script.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sim, err := NewSimulator(s, fin(1), Options{Now: monday, Unsure: llm, UnsureTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return sim
}

// unsureText is a reply the rules and the n-gram model cannot place at the finance script's gentle node.
const unsureText = "这个嘛,我琢磨琢磨"

// TestUnsureLLM: the LLM classifier is asked only when the rules are unsure, bounded by a time limit, and fails
// closed to the rules' answer; it never records an opt-out and never puts a slot value the words lack.
func TestUnsureLLM(t *testing.T) {
	if got, _ := finSim(t, 1).conv.classify(t.Context(), finSim(t, 1).conv.s.Nodes["gentle"], unsureText); got != "" {
		t.Fatalf("the rules place %q as %q: pick another unsure reply for this test", unsureText, got)
	}
	t.Run("asked when unsure; its intent is taken, its slots are not", func(t *testing.T) {
		f := &fakeChat{answer: `{"intent":"will_pay","confidence":0.9,"pay_amount":5000,"pay_date":"2026-03-05"}`}
		sim := unsureSim(t, f)
		r := sim.Say(unsureText)
		if f.asked.Load() != 1 || r.Intent != "will_pay" {
			t.Fatalf("asked %d, intent %q", f.asked.Load(), r.Intent)
		}
		if _, ok := sim.Slots()["pay_amount"]; ok {
			t.Fatalf("slot invented: %v", sim.Slots())
		}
		if _, ok := sim.Slots()["pay_date"]; ok {
			t.Fatalf("slot invented: %v", sim.Slots())
		}
	})
	t.Run("not asked when the rules are sure", func(t *testing.T) {
		f := &fakeChat{answer: `{"intent":"cannot_pay","confidence":1}`}
		sim := unsureSim(t, f)
		if r := sim.Say("好的,我明天还"); r.Intent != "will_pay" || f.asked.Load() != 0 {
			t.Fatalf("asked %d, intent %q", f.asked.Load(), r.Intent)
		}
	})
	for name, f := range map[string]*fakeChat{
		"a timeout":                 {hang: true},
		"a server error":            {status: http.StatusServiceUnavailable},
		"malformed JSON":            {answer: `will_pay!`},
		"an intent outside the set": {answer: `{"intent":"transfer_money","confidence":0.99}`},
		"an opt-out guessed":        {answer: `{"intent":"opt_out","confidence":0.99}`},
		"a negated answer":          {answer: `{"intent":"will_pay","confidence":0.9,"negated":true}`},
		"none":                      {answer: `{"intent":"none"}`},
	} {
		t.Run("fails closed on "+name, func(t *testing.T) {
			sim := unsureSim(t, f)
			r := sim.Say(unsureText)
			if f.asked.Load() != 1 || r.Intent != "" || sim.Outcome().OptOut || sim.Done() {
				t.Fatalf("asked %d, intent %q, outcome %+v", f.asked.Load(), r.Intent, sim.Outcome())
			}
		})
	}
}
