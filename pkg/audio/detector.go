package audio

import (
	"math"
	"time"
)

// SpeechDetector is a streaming voice activity detector, one per call direction: the pure-Go *VAD here, or a
// provider in pkg/audio/vad/... (WebRTC, Silero). It reports per-frame speech probability as well as the speech
// start and end events, so that endpointing and barge-in can weigh how sure the detector is. Not safe for
// concurrent use.
type SpeechDetector interface {
	// Process analyses one frame and returns the speech boundary it completes, if any.
	Process(f Frame) (VADEvent, bool)
	// Probability returns the last frame's speech probability in [0, 1]; 0.5 or more means the detector takes
	// the frame for voice. Detectors that only decide yes or no report 0 or 1.
	Probability() float64
	// Loud reports whether the last frame counts toward starting speech (the earliest sign of a talker).
	Loud() bool
	// Voiced reports whether the last frame keeps speech going (a lower bar than Loud: hysteresis).
	Voiced() bool
	// Speaking reports whether the detector is inside speech (between a SpeechStart and its SpeechEnd).
	Speaking() bool
	// Reset forgets all state, as for a new stream.
	Reset()
}

// DetectorFactory makes a fresh SpeechDetector, one per call direction; a configuration holds a factory because a
// detector carries the state of one stream.
type DetectorFactory func() (SpeechDetector, error)

// EnergyDetector returns a factory of the pure-Go detector, NewVAD(cfg).
func EnergyDetector(cfg VADConfig) DetectorFactory {
	return func() (SpeechDetector, error) { return NewVAD(cfg), nil }
}

var _ SpeechDetector = (*VAD)(nil)

// Probability returns the last frame's speech probability: a logistic of its level above the noise floor, 0.5 at
// the Release level (the frame is voiced) and 0.9 at the Threshold level (it is loud), both widened as the
// detector widens them in fluctuating noise; 0 for a frame below MinLevel.
func (v *VAD) Probability() float64 { return v.prob }

// Voiced reports whether the last frame was at least the Release level above the noise floor (and audible).
func (v *VAD) Voiced() bool { return v.voiced }

// energyProbability maps a level above the floor to a probability: 0.5 at rel, 0.9 at thr.
func energyProbability(above, rel, thr float64) float64 {
	scale := math.Log(9) / max(thr-rel, 1)
	return 1 / (1 + math.Exp(-(above-rel)*scale))
}

// GateConfig configures a SpeechGate: probability thresholds with hysteresis and the same timing rules as
// VADConfig.
type GateConfig struct {
	Threshold float64       // a frame with at least this probability counts toward starting speech; default 0.5
	Release   float64       // speech continues while frames have at least this probability; default Threshold-0.15, at least 0.01
	MinSpeech time.Duration // time of frames at Threshold, within one run at Release, before speech starts; default 60 ms
	Hangover  time.Duration // time below Release after which speech ends; default 300 ms
}

// SpeechGate turns per-frame speech probabilities into speech start and end events, for detectors that output a
// probability (or a yes/no as 0 or 1). Events are timed like VAD's: a start at the beginning of the run of frames
// at Release that reached MinSpeech at Threshold, an end at the end of the last frame at Release, once Hangover
// has passed. The zero value is not usable: call NewSpeechGate.
type SpeechGate struct {
	cfg      GateConfig
	pos      int64 // samples seen
	rate     int
	prob     float64
	speaking bool
	loud     bool
	voiced   bool
	runStart int64 // sample position where the current run at Release began; -1 when none
	runLoud  time.Duration
	quiet    time.Duration
	lastVoc  int64 // in speech: end of the last frame at Release
}

// NewSpeechGate returns a gate with cfg's zero fields set to their defaults.
func NewSpeechGate(cfg GateConfig) *SpeechGate {
	if cfg.Threshold <= 0 {
		cfg.Threshold = 0.5
	}
	if cfg.Release <= 0 {
		cfg.Release = max(cfg.Threshold-0.15, 0.01)
	}
	cfg.Release = min(cfg.Release, cfg.Threshold)
	if cfg.MinSpeech <= 0 {
		cfg.MinSpeech = 60 * time.Millisecond
	}
	if cfg.Hangover <= 0 {
		cfg.Hangover = 300 * time.Millisecond
	}
	return &SpeechGate{cfg: cfg, runStart: -1}
}

// Config returns the gate's configuration with defaults applied.
func (g *SpeechGate) Config() GateConfig { return g.cfg }

// Reset forgets all state, as for a new stream.
func (g *SpeechGate) Reset() { *g = SpeechGate{cfg: g.cfg, runStart: -1} }

// Probability returns the last probability stepped.
func (g *SpeechGate) Probability() float64 { return g.prob }

// Loud reports whether the last step was at Threshold.
func (g *SpeechGate) Loud() bool { return g.loud }

// Voiced reports whether the last step was at Release.
func (g *SpeechGate) Voiced() bool { return g.voiced }

// Speaking reports whether the gate is inside speech.
func (g *SpeechGate) Speaking() bool { return g.speaking }

func (g *SpeechGate) dur(samples int64) time.Duration {
	if g.rate == 0 {
		return 0
	}
	return time.Duration(samples * int64(time.Second) / int64(g.rate))
}

// Step takes the probability p of the next n samples at rate and returns the event it completes, if any. A change
// of rate resets the gate.
func (g *SpeechGate) Step(p float64, n, rate int) (VADEvent, bool) {
	if n <= 0 || rate <= 0 {
		return VADEvent{}, false
	}
	if rate != g.rate {
		g.Reset()
		g.rate = rate
	}
	start := g.pos
	g.pos += int64(n)
	d := g.dur(int64(n))
	g.prob = p
	g.loud, g.voiced = p >= g.cfg.Threshold, p >= g.cfg.Release
	if !g.speaking {
		if !g.voiced {
			g.runStart, g.runLoud = -1, 0
			return VADEvent{}, false
		}
		if g.runStart < 0 {
			g.runStart = start
		}
		if g.loud {
			g.runLoud += d
		}
		if g.runLoud < g.cfg.MinSpeech {
			return VADEvent{}, false
		}
		g.speaking, g.quiet, g.lastVoc = true, 0, g.pos
		ev := VADEvent{Kind: SpeechStart, At: g.dur(g.runStart), Detected: g.dur(g.pos)}
		g.runStart, g.runLoud = -1, 0
		return ev, true
	}
	if g.voiced {
		g.quiet, g.lastVoc = 0, g.pos
		return VADEvent{}, false
	}
	g.quiet += d
	if g.quiet < g.cfg.Hangover {
		return VADEvent{}, false
	}
	g.speaking = false
	return VADEvent{Kind: SpeechEnd, At: g.dur(g.lastVoc), Detected: g.dur(g.pos)}, true
}
