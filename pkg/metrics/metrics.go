// Package metrics holds outcall's Prometheus collectors: calls, outcomes, gate refusals, and speech/LLM latency.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics is one set of collectors. Register it on a registry of your choice (prometheus.DefaultRegisterer or a
// new one); a nil *Metrics is valid and records nothing, so callers never need to check.
type Metrics struct {
	CallsActive   prometheus.Gauge
	Dialed        prometheus.Counter
	Answered      prometheus.Counter
	Outcomes      *prometheus.CounterVec // label: outcome
	Classes       *prometheus.CounterVec // label: class (human, machine, fax, sit, announcement, silence)
	GateRefusals  *prometheus.CounterVec // label: gate
	ASRLatency    prometheus.Histogram   // end of speech → final result, seconds
	TTSLatency    prometheus.Histogram   // request → first audio, seconds
	LLMLatency    prometheus.Histogram   // request → first sentence, seconds
	TurnLatency   prometheus.Histogram   // callee stops → bot's first reply frame, seconds
	DroppedEvents *prometheus.CounterVec // label: source (ari, esl, rtp)
}

// New builds the collectors with the "outcall_" prefix.
func New() *Metrics {
	lat := func(name, help string) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "outcall", Name: name, Help: help,
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .2, .35, .5, .75, 1, 1.5, 2, 3, 5}})
	}
	return &Metrics{
		CallsActive: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "outcall", Name: "calls_active",
			Help: "Calls currently live."}),
		Dialed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "outcall", Name: "calls_dialed_total",
			Help: "Dial attempts started."}),
		Answered: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "outcall", Name: "calls_answered_total",
			Help: "Dial attempts answered."}),
		Outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "outcall", Name: "call_outcomes_total",
			Help: "Attempts by outcome."}, []string{"outcome"}),
		Classes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "outcall", Name: "answer_classes_total",
			Help: "Answered calls by answer classification."}, []string{"class"}),
		GateRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "outcall",
			Name: "gate_refusals_total", Help: "Dials refused by a gate."}, []string{"gate"}),
		ASRLatency:  lat("asr_latency_seconds", "End of speech to final ASR result."),
		TTSLatency:  lat("tts_first_audio_seconds", "TTS request to first audio frame."),
		LLMLatency:  lat("llm_first_sentence_seconds", "LLM request to first complete sentence."),
		TurnLatency: lat("turn_latency_seconds", "Callee stops speaking to the bot's first reply frame."),
		DroppedEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "outcall",
			Name: "dropped_events_total", Help: "Events or packets dropped (malformed, unexpected, overflow)."},
			[]string{"source"}),
	}
}

// Register registers every collector on r.
func (m *Metrics) Register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.CallsActive, m.Dialed, m.Answered, m.Outcomes, m.Classes,
		m.GateRefusals, m.ASRLatency, m.TTSLatency, m.LLMLatency, m.TurnLatency, m.DroppedEvents} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// CallStarted counts a dial and a live call; the returned func ends it.
func (m *Metrics) CallStarted() (answered func(), ended func()) {
	if m == nil {
		return func() {}, func() {}
	}
	m.Dialed.Inc()
	live := false
	return func() { m.Answered.Inc(); m.CallsActive.Inc(); live = true },
		func() {
			if live {
				m.CallsActive.Dec()
			}
		}
}

// Outcome counts an attempt's outcome.
func (m *Metrics) Outcome(o string) {
	if m != nil {
		m.Outcomes.WithLabelValues(o).Inc()
	}
}

// Class counts an answer classification.
func (m *Metrics) Class(c string) {
	if m != nil {
		m.Classes.WithLabelValues(c).Inc()
	}
}

// GateRefused counts a refusal by gate.
func (m *Metrics) GateRefused(gate string) {
	if m != nil {
		m.GateRefusals.WithLabelValues(gate).Inc()
	}
}

// Turn latencies, as a dialog journals them (dialog.Latency), for ObserveTurn.
type TurnLatency struct {
	ASR      time.Duration // end of speech → final transcript
	Decide   time.Duration // final transcript → reply text (an LLM node's first sentence)
	TTSFirst time.Duration // reply text → first audio frame written
	LLM      bool          // the reply came from an LLM node
}

// ObserveTurn records one turn's latencies in the ASR, TTS, LLM and turn histograms (zero durations are skipped).
func (m *Metrics) ObserveTurn(l TurnLatency) {
	if m == nil {
		return
	}
	if l.ASR > 0 {
		m.ASRLatency.Observe(l.ASR.Seconds())
	}
	if l.TTSFirst > 0 {
		m.TTSLatency.Observe(l.TTSFirst.Seconds())
	}
	if l.LLM && l.Decide > 0 {
		m.LLMLatency.Observe(l.Decide.Seconds())
	}
	if total := l.ASR + l.Decide + l.TTSFirst; total > 0 {
		m.TurnLatency.Observe(total.Seconds())
	}
}
