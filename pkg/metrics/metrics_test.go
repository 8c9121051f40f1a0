package metrics

import (
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsCount(t *testing.T) {
	m := New()
	reg := prometheus.NewRegistry()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	answered, ended := m.CallStarted()
	answered()
	if got := testutil.ToFloat64(m.CallsActive); got != 1 {
		t.Fatalf("calls_active = %v, want 1", got)
	}
	ended()
	m.Outcome("busy")
	m.GateRefused("window")
	if got := testutil.ToFloat64(m.CallsActive); got != 0 {
		t.Fatalf("calls_active after end = %v", got)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP outcall_gate_refusals_total Dials refused by a gate.
# TYPE outcall_gate_refusals_total counter
outcall_gate_refusals_total{gate="window"} 1
`), "outcall_gate_refusals_total"); err != nil {
		t.Fatal(err)
	}
	var nilM *Metrics
	nilM.Outcome("x") // a nil *Metrics records nothing and does not panic
	a, e := nilM.CallStarted()
	a()
	e()
}

func TestObserveTurn(t *testing.T) {
	m := New()
	m.ObserveTurn(TurnLatency{ASR: 300 * time.Millisecond, Decide: time.Millisecond, TTSFirst: 40 * time.Millisecond})
	m.ObserveTurn(TurnLatency{Decide: 900 * time.Millisecond, LLM: true})
	if n := testutil.CollectAndCount(m.ASRLatency); n != 1 {
		t.Fatalf("asr histogram series %d", n)
	}
	var got [4]uint64
	for i, h := range []prometheus.Histogram{m.ASRLatency, m.TTSLatency, m.LLMLatency, m.TurnLatency} {
		ch := make(chan prometheus.Metric, 1)
		h.Collect(ch)
		var pb dto.Metric
		if err := (<-ch).Write(&pb); err != nil {
			t.Fatal(err)
		}
		got[i] = pb.GetHistogram().GetSampleCount()
	}
	if got != [4]uint64{1, 1, 1, 2} {
		t.Fatalf("samples asr/tts/llm/turn = %v, want [1 1 1 2]", got)
	}
}
