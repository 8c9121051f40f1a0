package campaign

// Metrics receives what a Runner counts. pkg/metrics implements it with Prometheus collectors; the interface lives
// here, with its consumer, so the campaign does not depend on a metrics system.
type Metrics interface {
	// CallStarted counts a dial; answered counts it answered (and live), ended ends it.
	CallStarted() (answered func(), ended func())
	// Outcome counts an attempt's outcome.
	Outcome(outcome string)
	// GateRefused counts a contact refused by a gate (window, DNC, caps, consent, "live").
	GateRefused(gate string)
}

// ClassMetrics counts the answer classifier's verdicts (pkg/metrics implements it).
type ClassMetrics interface {
	Class(class string)
}

// noMetrics counts nothing: the default.
type noMetrics struct{}

func (noMetrics) CallStarted() (func(), func()) { return func() {}, func() {} }
func (noMetrics) Outcome(string)                {}
func (noMetrics) GateRefused(string)            {}
func (noMetrics) Class(string)                  {}
