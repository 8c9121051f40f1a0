package audio

import (
	"math"
	"time"
)

// VADConfig configures a voice activity detector. Levels are in dB relative to the detector's running estimate
// of the background noise.
type VADConfig struct {
	Threshold float64       // a frame this far above the noise floor counts toward starting speech; default: 9 dB
	Release   float64       // speech continues while frames stay this far above the floor (hysteresis); default: 5 dB
	MinSpeech time.Duration // frames above Threshold needed, within one run, before speech starts; default: 60 ms
	Hangover  time.Duration // quiet time after which speech ends; default: 300 ms
	MinLevel  float64       // frames quieter than this (dBFS) are never speech; default: -55 dBFS
}

// VADEventKind says whether speech started or ended.
type VADEventKind int

// VAD event kinds.
const (
	SpeechStart VADEventKind = iota + 1
	SpeechEnd
)

// String returns "speech-start" or "speech-end".
func (k VADEventKind) String() string {
	switch k {
	case SpeechStart:
		return "speech-start"
	case SpeechEnd:
		return "speech-end"
	}
	return "none"
}

// VADEvent reports a speech boundary. At is frame-accurate and measured from the first sample the detector saw:
// for SpeechStart the beginning of the run of frames above the Release level that was confirmed as speech, moved
// back over up to 3 directly preceding frames at least Release/2 above the floor (a soft onset); for SpeechEnd the
// end of the last frame above the Release level (after an abrupt stop far above the noise, the band filter's
// few-millisecond tail can carry that one frame late). Both are reported after the fact: a start once MinSpeech has
// been confirmed (Detected), an end once Hangover has passed.
type VADEvent struct {
	Kind     VADEventKind
	At       time.Duration // boundary position in the stream
	Detected time.Duration // stream position when the event was emitted (end of the frame that decided it)
}

// VAD is a streaming energy voice activity detector with an adaptive noise floor, one per call direction. It
// takes frames of any rate and length (20 ms usual) and allocates nothing per frame. Not safe for concurrent use.
type VAD struct {
	cfg VADConfig

	pos    int64 // samples seen, at rate
	rate   int
	floor  float64 // noise floor estimate, dB (re 1 LSB²)
	dev    float64 // mean absolute deviation of noise frames from the floor, dB
	frames int     // frames seen, for the warm-up average
	bq     biquad  // speech-band filter ahead of the energy measure

	speaking  bool
	runStart  int64 // sample position where the current above-Release run began; -1 when none
	runLoud   time.Duration
	quiet     time.Duration // in speech: time since the last frame above Release
	lastVoice int64         // in speech: sample position of the end of the last frame above Release
	level     float64       // last frame's level, dB re 1 LSB²
	loud      bool          // the last frame was loud enough to count toward starting speech
	voiced    bool          // the last frame was at the Release level
	prob      float64       // the last frame's speech probability

	// Recent frames before the current run, newest last: how far above the floor each was and its length, so a
	// confirmed start can reach back over a soft onset.
	back    [vadLookback]float64
	backLen [vadLookback]int64
	backN   int
}

// vadLookback is how many frames before a run a start may be moved back over, while they stay at least half the
// Release level above the floor.
const vadLookback = 3

// floorMinDB is how far below MinLevel the noise floor can fall.
const floorMinDB = 10

// warmupFrames is how many first frames set the initial noise floor by plain averaging.
const warmupFrames = 10

// fullScaleDB is full scale, 20·log10(32768), in dB re 1 LSB²; dBFS here matches Level (full-scale square = 0).
const fullScaleDB = 90.30899869919435

// NewVAD returns a detector with cfg's zero fields set to their defaults.
func NewVAD(cfg VADConfig) *VAD {
	if cfg.Threshold == 0 {
		cfg.Threshold = 9
	}
	if cfg.Release == 0 {
		cfg.Release = 5
	}
	if cfg.Release > cfg.Threshold {
		cfg.Release = cfg.Threshold
	}
	if cfg.MinSpeech == 0 {
		cfg.MinSpeech = 60 * time.Millisecond
	}
	if cfg.Hangover == 0 {
		cfg.Hangover = 300 * time.Millisecond
	}
	if cfg.MinLevel == 0 {
		cfg.MinLevel = -55
	}
	return &VAD{cfg: cfg, runStart: -1}
}

// Reset forgets all state, as for a new stream.
func (v *VAD) Reset() { *v = VAD{cfg: v.cfg, runStart: -1} }

// Speaking reports whether the detector is inside speech (between a SpeechStart and its SpeechEnd).
func (v *VAD) Speaking() bool { return v.speaking }

// Loud reports whether the last frame was loud enough (Threshold above the noise floor, and audible) to count
// toward starting speech: the earliest sign that someone may be starting to talk, MinSpeech before a SpeechStart
// can confirm it.
func (v *VAD) Loud() bool { return v.loud }

// NoiseFloor returns the current noise floor estimate in dBFS.
func (v *VAD) NoiseFloor() float64 { return v.floor - fullScaleDB }

// Level returns the last frame's speech-band (200-1200 Hz) level in dBFS.
func (v *VAD) Level() float64 { return v.level - fullScaleDB }

// Position returns how much audio the detector has seen.
func (v *VAD) Position() time.Duration { return v.dur(v.pos) }

func (v *VAD) dur(samples int64) time.Duration {
	if v.rate == 0 {
		return 0
	}
	return time.Duration(samples * int64(time.Second) / int64(v.rate))
}

// Process analyses one frame and returns the event it completes, if any. A change of rate resets the detector.
func (v *VAD) Process(f Frame) (VADEvent, bool) {
	if len(f.Samples) == 0 || f.Rate <= 0 {
		return VADEvent{}, false
	}
	if f.Rate != v.rate {
		if v.rate != 0 {
			v.Reset()
		}
		v.rate = f.Rate
		v.bq = newBandPass(float64(f.Rate), vadBandLow, vadBandHigh)
	}
	// Energy in the band where voiced speech carries most of its power: against white noise this alone gains
	// about 5 dB of SNR, and it ignores hum and hiss.
	var sum float64
	bq := v.bq
	for _, s := range f.Samples {
		y := bq.step(float64(s))
		sum += y * y
	}
	v.bq = bq
	e := 10 * math.Log10(sum/float64(len(f.Samples))+1e-3)
	v.level = e
	start := v.pos
	v.pos += int64(len(f.Samples))
	d := v.dur(int64(len(f.Samples)))

	v.frames++
	// The noise statistics see a frame no quieter than floorMinDB below MinLevel: digital silence (a muted or idle
	// line, µ-law zero) would otherwise sink the floor by 60 dB, and the leap from it to the line's own hiss would
	// widen the deviation so far that no speech would ever count as loud.
	ef := max(e, v.cfg.MinLevel+fullScaleDB-floorMinDB)
	if v.frames <= warmupFrames {
		// Warm-up: the floor is the plain average of the first frames, a fair start in fluctuating noise.
		v.floor += (ef - v.floor) / float64(v.frames)
		v.dev += (math.Abs(ef-v.floor) - v.dev) / float64(v.frames)
	}
	above := e - v.floor
	audible := e-fullScaleDB >= v.cfg.MinLevel
	// Thresholds widen with the noise's own fluctuation (babble varies by several dB frame to frame).
	thr, rel := max(v.cfg.Threshold, 3.5*v.dev), max(v.cfg.Release, 1.5*v.dev)
	loud := audible && above >= thr
	voiced := audible && above >= rel
	v.loud, v.voiced, v.prob = loud, voiced, 0
	if audible {
		v.prob = energyProbability(above, rel, thr)
	}

	// Noise floor: the running mean level of frames that do not look like speech (pauses inside speech count),
	// falling a little faster than it rises; frames that look like speech pull it up only very slowly, so a long
	// utterance does not become the floor but a lasting rise in noise is eventually adopted.
	switch {
	case v.frames <= warmupFrames:
	case ef < v.floor:
		v.floor += 0.1 * (ef - v.floor)
	case voiced:
		v.floor += 0.002 * (ef - v.floor)
	default:
		v.floor += 0.05 * (ef - v.floor)
		v.dev += 0.05 * (math.Abs(ef-v.floor) - v.dev)
	}

	if !v.speaking {
		if !voiced {
			v.runStart, v.runLoud = -1, 0
			v.remember(above, int64(len(f.Samples)))
			return VADEvent{}, false
		}
		if v.runStart < 0 {
			v.runStart = start
		}
		if loud {
			v.runLoud += d
		}
		if v.runLoud >= v.cfg.MinSpeech {
			v.speaking, v.quiet, v.lastVoice = true, 0, v.pos
			at := v.runStart
			for i := v.backN - 1; i >= 0 && v.back[i] >= v.cfg.Release/2; i-- {
				at -= v.backLen[i]
			}
			ev := VADEvent{Kind: SpeechStart, At: v.dur(at), Detected: v.dur(v.pos)}
			v.runStart, v.runLoud, v.backN = -1, 0, 0
			return ev, true
		}
		return VADEvent{}, false
	}
	if voiced {
		v.quiet, v.lastVoice = 0, v.pos
		return VADEvent{}, false
	}
	v.quiet += d
	if v.quiet >= v.cfg.Hangover {
		v.speaking = false
		return VADEvent{Kind: SpeechEnd, At: v.dur(v.lastVoice), Detected: v.dur(v.pos)}, true
	}
	return VADEvent{}, false
}

// remember records a frame outside speech for the onset look-back.
func (v *VAD) remember(above float64, n int64) {
	if v.backN == vadLookback {
		copy(v.back[:], v.back[1:])
		copy(v.backLen[:], v.backLen[1:])
		v.backN--
	}
	v.back[v.backN], v.backLen[v.backN] = above, n
	v.backN++
}

// Speech band for the VAD's energy measure, Hz.
const (
	vadBandLow  = 200
	vadBandHigh = 1200
)

// biquad is a direct-form-I second-order IIR section.
type biquad struct {
	b0, b1, b2, a1, a2 float64
	x1, x2, y1, y2     float64
}

// newBandPass returns a band-pass biquad (0 dB peak gain) spanning lo to hi Hz at sampling rate fs.
func newBandPass(fs, lo, hi float64) biquad {
	f0 := math.Sqrt(lo * hi)
	w0 := 2 * math.Pi * f0 / fs
	bw := math.Log2(hi / lo)
	alpha := math.Sin(w0) * math.Sinh(math.Ln2/2*bw*w0/math.Sin(w0))
	a0 := 1 + alpha
	return biquad{b0: alpha / a0, b1: 0, b2: -alpha / a0, a1: -2 * math.Cos(w0) / a0, a2: (1 - alpha) / a0}
}

func (q *biquad) step(x float64) float64 {
	y := q.b0*x + q.b1*q.x1 + q.b2*q.x2 - q.a1*q.y1 - q.a2*q.y2
	q.x2, q.x1 = q.x1, x
	q.y2, q.y1 = q.y1, y
	return y
}
