package dialog_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/ttstest"
)

// seqRecognizer hands each Start to the next recognizer of its list (the last one serves the rest): a provider
// whose first stream dies and whose restart behaves differently.
type seqRecognizer struct {
	mu   sync.Mutex
	rs   []asr.Recognizer
	runs int
}

func (s *seqRecognizer) Start(ctx context.Context, c asr.Config) (asr.Stream, error) {
	s.mu.Lock()
	r := s.rs[min(s.runs, len(s.rs)-1)]
	s.runs++
	s.mu.Unlock()
	return r.Start(ctx, c)
}

func (s *seqRecognizer) starts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs
}

// closingRecognizer's streams close Results without an error as soon as they start: a provider that drops the
// connection cleanly.
type closingRecognizer struct{}

type closedStream struct{ ch chan asr.Result }

func (closingRecognizer) Start(ctx context.Context, c asr.Config) (asr.Stream, error) {
	ch := make(chan asr.Result)
	close(ch)
	return closedStream{ch}, nil
}
func (s closedStream) Write(audio.Frame) error    { return nil }
func (s closedStream) Results() <-chan asr.Result { return s.ch }
func (s closedStream) Close() error               { return nil }

// flakyTTS fails the first rendering of its first prompt after a few frames, then renders normally.
type flakyTTS struct {
	ttstest.Synthesizer
	calls atomic.Int64
}

func (f *flakyTTS) Synthesize(ctx context.Context, r tts.Request) (audio.Source, error) {
	if f.calls.Add(1) == 1 {
		return (&ttstest.Synthesizer{FailAfter: 5}).Synthesize(ctx, r)
	}
	return f.Synthesizer.Synthesize(ctx, r)
}

var financeVars = map[string]any{"name": "张三", "overdue_days": 1, "amount": 1000.0}

func actions(res dialog.Result) []string {
	var out []string
	for _, in := range res.Incidents {
		out = append(out, in.Kind+":"+in.Action)
	}
	return out
}

func TestRunProviderFailures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		asr      asr.Recognizer
		tts      tts.Synthesizer
		steps    []step
		wantTags []string // all present
		wantEnd  dialog.EndAction
		wantInc  []string // kind:action, in order
	}{
		{
			// The stream dies mid-way through the callee's answer; a new one hears it when asked again.
			name: "asr dies, restart succeeds",
			asr: &seqRecognizer{rs: []asr.Recognizer{
				&asrtest.Recognizer{Faults: asrtest.Faults{FailUtterance: 1}}, &asrtest.Recognizer{}}},
			steps:    []step{{say: "好的,我明天还"}, {say: "好的,我明天还"}, {say: "对的"}},
			wantTags: []string{"promise_to_pay"}, wantEnd: dialog.EndHangup,
			wantInc: []string{"asr:restarted"},
		},
		{
			name:     "asr results close, restart succeeds",
			asr:      &seqRecognizer{rs: []asr.Recognizer{closingRecognizer{}, &asrtest.Recognizer{}}},
			steps:    []step{{say: "好的,我明天还"}, {say: "对的"}},
			wantTags: []string{"promise_to_pay"}, wantEnd: dialog.EndHangup,
			wantInc: []string{"asr:restarted"},
		},
		{
			// The restart fails too: the script's escalation node (risk_human, a transfer) takes the call.
			name: "asr dies, restart fails",
			asr: &seqRecognizer{rs: []asr.Recognizer{
				&asrtest.Recognizer{Faults: asrtest.Faults{FailUtterance: 1}},
				&asrtest.Recognizer{Faults: asrtest.Faults{StartErr: asrtest.ErrInjected}}}},
			steps:    []step{{say: "好的,我明天还"}},
			wantTags: []string{dialog.TagASRFailed, "risk_alert", dialog.TagHuman}, wantEnd: dialog.EndTransfer,
			wantInc: []string{"asr:escalated"},
		},
		{
			name:     "asr never starts",
			asr:      &asrtest.Recognizer{Faults: asrtest.Faults{StartErr: asrtest.ErrInjected}},
			wantTags: []string{dialog.TagASRFailed, "risk_alert"}, wantEnd: dialog.EndTransfer,
			wantInc: []string{"asr:escalated"},
		},
		{
			// Every rendering fails: the opening prompt escalates; the escalation's own prompt fails as well, and
			// the transfer still happens.
			name:     "tts down",
			tts:      &ttstest.Synthesizer{Err: ttstest.ErrInjected},
			wantTags: []string{dialog.TagTTSFailed, "risk_alert"}, wantEnd: dialog.EndTransfer,
			wantInc: []string{"tts:escalated", "tts:ignored"},
		},
		{
			// A Resilient with a fallback voice hides the outage from the conversation.
			name: "tts down behind a fallback",
			tts: tts.NewResilient(&ttstest.Synthesizer{Err: ttstest.ErrInjected},
				tts.ResilientConfig{Retries: -1, Fallback: &ttstest.Synthesizer{}}),
			steps:    []step{{say: "好的,我明天还"}, {say: "对的"}},
			wantTags: []string{"promise_to_pay"}, wantEnd: dialog.EndHangup,
		},
		{
			// The opening prompt breaks after 100 ms; the second rendering continues it and the call goes on.
			name:     "tts fails once mid-prompt",
			tts:      &flakyTTS{},
			steps:    []step{{say: "好的,我明天还"}, {say: "对的"}},
			wantTags: []string{"promise_to_pay"}, wantEnd: dialog.EndHangup,
			wantInc: []string{"tts:retried"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeak(t)
			s := load(t, "../examples/finance-overdue/script.yaml")
			fc := newFakeCall(t, tc.steps...)
			d := deps(financeVars, nil, &notes{})
			if tc.asr != nil {
				d.ASR = tc.asr
			}
			if tc.tts != nil {
				d.TTS = tc.tts
			}
			res, err := dialog.Run(t.Context(), fc, s, d)
			if err != nil {
				t.Fatalf("Run: %v (incidents %+v)", err, res.Incidents)
			}
			for _, tag := range tc.wantTags {
				if !res.Outcome.Has(tag) {
					t.Errorf("outcome %+v lacks %q", res.Outcome, tag)
				}
			}
			if res.Outcome.End != tc.wantEnd {
				t.Errorf("end %q, want %q", res.Outcome.End, tc.wantEnd)
			}
			if tc.wantEnd == dialog.EndTransfer && fc.transfer == nil {
				t.Error("no transfer on the call")
			}
			if tc.wantEnd == dialog.EndHangup && fc.cause != call.CauseNormal {
				t.Errorf("hangup cause %v", fc.cause)
			}
			if got := actions(res); !slices.Equal(got, tc.wantInc) {
				t.Errorf("incidents %v, want %v (%+v)", got, tc.wantInc, res.Incidents)
			}
			for _, in := range res.Incidents {
				if in.Err == "" || in.Node == "" {
					t.Errorf("incident without cause or node: %+v", in)
				}
			}
		})
	}
}

// A failed stream is restarted once per call by default: a second failure escalates.
func TestRunASRRestartBudget(t *testing.T) {
	noLeak(t)
	s := load(t, "../examples/finance-overdue/script.yaml")
	// The restarted stream dies too (its provider drops the connection at once).
	rec := &seqRecognizer{rs: []asr.Recognizer{&asrtest.Recognizer{Faults: asrtest.Faults{FailUtterance: 1}}, closingRecognizer{}}}
	fc := newFakeCall(t, step{say: "好的,我明天还"}, step{say: "好的,我明天还"})
	d := deps(financeVars, nil, nil)
	d.ASR = rec
	res, err := dialog.Run(t.Context(), fc, s, d)
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(res); !slices.Equal(got, []string{"asr:restarted", "asr:escalated"}) || rec.starts() != 2 {
		t.Fatalf("incidents %v after %d starts; outcome %+v turns %+v", got, rec.starts(), res.Outcome, res.Turns)
	}
	if !res.Outcome.Has(dialog.TagASRFailed) || fc.transfer == nil {
		t.Fatalf("outcome %+v transfer %v", res.Outcome, fc.transfer)
	}
	last := res.Turns[len(res.Turns)-1]
	if last.Input != dialog.TagASRFailed || last.NextNode != "risk_human" {
		t.Fatalf("journal's last turn %+v", last)
	}
}

// The stream dies while the closing prompt plays (the callee talks over it): the prompt still plays to its end
// and the call ends as the script says.
func TestRunASRDiesDuringClosingPrompt(t *testing.T) {
	noLeak(t)
	s := load(t, "../examples/finance-overdue/script.yaml")
	fc := newFakeCall(t, step{say: "好的,我明天还"}, step{say: "对的"}, step{say: "好的好的好的好的", gap: 30})
	d := deps(financeVars, nil, nil)
	d.ASR = &asrtest.Recognizer{Faults: asrtest.Faults{FailUtterance: 3}}
	res, err := dialog.Run(t.Context(), fc, s, d)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Outcome.Has("promise_to_pay") || res.Outcome.End != dialog.EndHangup || fc.cause != call.CauseNormal {
		t.Fatalf("outcome %+v", res.Outcome)
	}
	if got := actions(res); !slices.Equal(got, []string{"asr:ignored"}) {
		t.Fatalf("incidents %v", got)
	}
	// Count the audio of every prompt; the fake call's playout may trail the runtime's clock by a few frames
	// when the machine is busy, while cutting the closing prompt at the failure loses most of it.
	frames, closing := 0, 0
	for _, tr := range res.Turns {
		pcm, err := ttstest.Render(tr.Reply, 8000)
		if err != nil {
			t.Fatal(err)
		}
		frames += len(pcm) / 160
		closing = len(pcm) / 160
	}
	if heard := fc.botHeard(); heard < frames-closing/2 {
		t.Fatalf("callee heard %d bot frames of %d: the closing prompt was cut", heard, frames)
	}
}

// refusingTransfer is a call whose PBX refuses every transfer, as a driver does for a target with no endpoint.
type refusingTransfer struct{ *fakeCall }

func (c refusingTransfer) Transfer(context.Context, call.Target) error {
	return errors.New("transfer target has no endpoint")
}

// TestFailedTransferHangsUp: a transfer that cannot be made ends the call with an incident instead of leaving the
// callee on a silent open line.
func TestFailedTransferHangsUp(t *testing.T) {
	s, err := dialog.Load([]byte(`name: notarget
start: ask
intents: [{name: agent, keywords: [人工]}]
nodes:
  ask:
    say: ["请问需要人工服务吗?"]
    routes: [{intent: agent, goto: agent}]
  agent: {say: ["好的,正在转接。"], end: {action: transfer, reason: requested}}
`), "notarget.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fc := newFakeCall(t, step{say: "我要人工"})
	res, err := dialog.Run(t.Context(), refusingTransfer{fc}, s, dialog.Deps{ASR: &asrtest.Recognizer{}, TTS: &ttstest.Synthesizer{}})
	if err == nil {
		t.Fatal("a refused transfer reported no error")
	}
	fc.mu.Lock()
	hung := fc.hungUp
	fc.mu.Unlock()
	if !hung {
		t.Fatal("the call was left open after the failed transfer")
	}
	if n := len(res.Incidents); n == 0 || res.Incidents[n-1].Kind != dialog.IncidentTransfer || res.Incidents[n-1].Action != dialog.ActionHungUp {
		t.Fatalf("incidents %+v", res.Incidents)
	}
}
