package metrics

import (
	"strings"
	"testing"

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
