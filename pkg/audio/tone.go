package audio

import (
	"math"
	"time"
)

// Goertzel measures one frequency's power in a block of samples (the Goertzel algorithm: a single DFT term by a
// second-order recursion). Feed it with Add, read Power, Reset between blocks. The zero value is unusable; use
// NewGoertzel.
type Goertzel struct {
	coeff  float64
	s1, s2 float64
	n      int
}

// NewGoertzel returns a filter for freq Hz at rate samples per second.
func NewGoertzel(freq float64, rate int) Goertzel {
	return Goertzel{coeff: 2 * math.Cos(2*math.Pi*freq/float64(rate))}
}

// Add runs samples through the filter.
func (g *Goertzel) Add(samples []int16) {
	s1, s2, c := g.s1, g.s2, g.coeff
	for _, x := range samples {
		s1, s2 = float64(x)+c*s1-s2, s1
	}
	g.s1, g.s2 = s1, s2
	g.n += len(samples)
}

// Power returns the mean-square level of the frequency's component over the samples added since Reset, in the
// units of the samples squared: a sine of amplitude A exactly at the frequency gives A²/2.
func (g *Goertzel) Power() float64 {
	if g.n == 0 {
		return 0
	}
	p := g.s1*g.s1 + g.s2*g.s2 - g.coeff*g.s1*g.s2
	return 2 * p / (float64(g.n) * float64(g.n))
}

// Reset starts a new block.
func (g *Goertzel) Reset() { g.s1, g.s2, g.n = 0, 0, 0 }

// addBank runs samples through every filter of a bank, four at a time so their recursions overlap in the CPU.
func addBank(gs []Goertzel, samples []int16) {
	i := 0
	for ; i+4 <= len(gs); i += 4 {
		g := gs[i : i+4 : i+4]
		c0, c1, c2, c3 := g[0].coeff, g[1].coeff, g[2].coeff, g[3].coeff
		a1, a2, b1, b2 := g[0].s1, g[0].s2, g[1].s1, g[1].s2
		e1, e2, f1, f2 := g[2].s1, g[2].s2, g[3].s1, g[3].s2
		for _, v := range samples {
			x := float64(v)
			a1, a2 = x+c0*a1-a2, a1
			b1, b2 = x+c1*b1-b2, b1
			e1, e2 = x+c2*e1-e2, e1
			f1, f2 = x+c3*f1-f2, f1
		}
		g[0].s1, g[0].s2, g[1].s1, g[1].s2 = a1, a2, b1, b2
		g[2].s1, g[2].s2, g[3].s1, g[3].s2 = e1, e2, f1, f2
		for j := range g {
			g[j].n += len(samples)
		}
	}
	for ; i < len(gs); i++ {
		gs[i].Add(samples)
	}
}

func resetBank(gs []Goertzel) {
	for i := range gs {
		gs[i].Reset()
	}
}

// ToneKind identifies a call-progress or signalling tone.
type ToneKind int

// Tones the detector reports.
const (
	ToneDTMF       ToneKind = iota + 1 // a DTMF digit (Digit)
	ToneSIT                            // special information tone: 913.8/985.2, 1370.6/1428.5, 1776.7 Hz in sequence
	ToneFax                            // fax calling tone (CNG): 1100 Hz for about 0.5 s
	ToneBeep                           // answering-machine beep: one steady tone of 850-1100 Hz
	ToneRingbackCN                     // Chinese ringback: 450 Hz, 1 s on
	ToneRingbackNA                     // North American ringback: 440+480 Hz, 2 s on
)

// String returns the tone's short name, such as "dtmf" or "ringback-cn".
func (k ToneKind) String() string {
	switch k {
	case ToneDTMF:
		return "dtmf"
	case ToneSIT:
		return "sit"
	case ToneFax:
		return "fax"
	case ToneBeep:
		return "beep"
	case ToneRingbackCN:
		return "ringback-cn"
	case ToneRingbackNA:
		return "ringback-na"
	}
	return "unknown"
}

// ToneEvent reports a detected tone.
type ToneEvent struct {
	Kind     ToneKind
	Digit    byte          // for ToneDTMF: '0'-'9', '*', '#', 'A'-'D'
	Freq     float64       // for ToneBeep: the beep's frequency (±25 Hz)
	At       time.Duration // where the tone (for SIT, its first segment) began in the stream
	Duration time.Duration // how long it had lasted when reported
}

// ToneConfig configures a tone detector.
type ToneConfig struct {
	MinLevel  float64       // tones quieter than this (dBFS, RMS) are ignored; default: -40
	DTMFMin   time.Duration // a digit must last this long; default: 40 ms
	BeepMin   time.Duration // a beep must last this long; default: 200 ms
	BeepMax   time.Duration // a steady tone longer than this is not a beep (reported when it ends); default: 0 (no limit, reported at BeepMin)
	Ringbacks int           // ringback "on" periods to see before reporting; default: 1
}

// ToneDetector finds DTMF digits, SIT, fax CNG, answering-machine beeps and ringback in a stream of 20 ms frames
// (any rate from 8 kHz up), with Goertzel filters. One per call direction; not safe for concurrent use; it
// allocates nothing per frame once its bank is built for the stream's rate.
type ToneDetector struct {
	cfg  ToneConfig
	rate int
	pos  int64 // samples seen

	dtmf      [8]Goertzel
	single    [16]Goertzel // SIT (5 filters) then the beep band, 850..1100 Hz in 25 Hz steps (11), run as one bank
	ring      [3]Goertzel  // 440, 450, 480 Hz over 40 ms blocks
	ringMS    float64      // mean-square accumulator for the ring block
	ringN     int
	ringFrame int

	dtmfDigit byte
	dtmfStart int64
	dtmfSent  bool

	run      toneRun // current single-tone run (20 ms analysis)
	sitStage int     // SIT segments seen in order (0-2)
	sitStart int64
	sitEnd   int64 // where the last SIT segment ended
	beepSent bool

	ringRun  toneRun // current ringback run (40 ms analysis)
	ringSeen int
}

type toneClass int

const (
	classNone toneClass = iota
	classSIT1
	classSIT2
	classSIT3
	classFax
	classBeep
	classCN
	classNA
)

type toneRun struct {
	class  toneClass
	freq   float64
	start  int64
	frames int64 // samples in run
}

var (
	dtmfRows = [4]float64{697, 770, 852, 941}
	dtmfCols = [4]float64{1209, 1336, 1477, 1633}
	dtmfKeys = [4][4]byte{{'1', '2', '3', 'A'}, {'4', '5', '6', 'B'}, {'7', '8', '9', 'C'}, {'*', '0', '#', 'D'}}
	sitFreqs = [5]float64{913.8, 985.2, 1370.6, 1428.5, 1776.7}
)

// NewToneDetector returns a detector with cfg's zero fields set to their defaults.
func NewToneDetector(cfg ToneConfig) *ToneDetector {
	if cfg.MinLevel == 0 {
		cfg.MinLevel = -40
	}
	if cfg.DTMFMin == 0 {
		cfg.DTMFMin = 40 * time.Millisecond
	}
	if cfg.BeepMin == 0 {
		cfg.BeepMin = 200 * time.Millisecond
	}
	if cfg.Ringbacks <= 0 {
		cfg.Ringbacks = 1
	}
	return &ToneDetector{cfg: cfg}
}

func (d *ToneDetector) setRate(rate int) {
	*d = ToneDetector{cfg: d.cfg, rate: rate}
	for i := range 4 {
		d.dtmf[i] = NewGoertzel(dtmfRows[i], rate)
		d.dtmf[4+i] = NewGoertzel(dtmfCols[i], rate)
	}
	for i, f := range sitFreqs {
		d.single[i] = NewGoertzel(f, rate)
	}
	for i := range 11 {
		d.single[5+i] = NewGoertzel(850+25*float64(i), rate)
	}
	for i, f := range []float64{440, 450, 480} {
		d.ring[i] = NewGoertzel(f, rate)
	}
}

func (d *ToneDetector) dur(samples int64) time.Duration {
	return time.Duration(samples * int64(time.Second) / int64(d.rate))
}

// Process analyses one frame (normally 20 ms) and appends any tones it completes to dst, which it returns.
func (d *ToneDetector) Process(dst []ToneEvent, f Frame) []ToneEvent {
	if len(f.Samples) == 0 || f.Rate < 8000 {
		return dst
	}
	if f.Rate != d.rate {
		d.setRate(f.Rate)
	}
	start := d.pos
	d.pos += int64(len(f.Samples))
	var ms float64
	for _, s := range f.Samples {
		ms += float64(s) * float64(s)
	}
	ms /= float64(len(f.Samples))
	audible := ms > 0 && 10*math.Log10(ms/(32768*32768)) >= d.cfg.MinLevel

	dst = d.detectDTMF(dst, f.Samples, ms, audible, start)
	dst = d.detectSingle(dst, f.Samples, ms, audible, start)
	dst = d.detectRingback(dst, f.Samples, ms)
	return dst
}

func (d *ToneDetector) detectDTMF(dst []ToneEvent, s []int16, ms float64, audible bool, start int64) []ToneEvent {
	var p [8]float64
	resetBank(d.dtmf[:])
	addBank(d.dtmf[:], s)
	for i := range d.dtmf {
		p[i] = d.dtmf[i].Power()
	}
	digit := byte(0)
	if audible {
		r, r2 := top2(p[:4])
		c, c2 := top2(p[4:])
		pr, pc := p[r], p[4+c]
		switch {
		case pr+pc < 0.6*ms: // the two tones must carry most of the energy
		case p[r2] > pr/6 || p[4+c2] > pc/6: // one clear winner per group
		case pr > 6.3*pc || pc > 6.3*pr: // twist within 8 dB
		default:
			digit = dtmfKeys[r][c]
		}
	}
	if digit == 0 || digit != d.dtmfDigit {
		d.dtmfDigit, d.dtmfStart, d.dtmfSent = digit, start, false
		if digit == 0 {
			return dst
		}
	}
	if el := d.dur(d.pos - d.dtmfStart); !d.dtmfSent && el >= d.cfg.DTMFMin {
		d.dtmfSent = true
		dst = append(dst, ToneEvent{Kind: ToneDTMF, Digit: digit, At: d.dur(d.dtmfStart), Duration: el})
	}
	return dst
}

// top2 returns the indexes of the largest and second largest values.
func top2(p []float64) (int, int) {
	a, b := 0, 1
	if p[b] > p[a] {
		a, b = b, a
	}
	for i := 2; i < len(p); i++ {
		switch {
		case p[i] > p[a]:
			a, b = i, a
		case p[i] > p[b]:
			b = i
		}
	}
	return a, b
}

// detectSingle classifies the frame's dominant single tone (SIT segments, fax CNG, beep band) and tracks runs.
func (d *ToneDetector) detectSingle(dst []ToneEvent, s []int16, ms float64, audible bool, start int64) []ToneEvent {
	class, freq := classNone, 0.0
	if audible {
		best, bestP := -1, 0.0
		resetBank(d.single[:])
		addBank(d.single[:], s)
		sit, beep := d.single[:5], d.single[5:]
		for i := range sit {
			if p := sit[i].Power(); p > bestP {
				best, bestP = i, p
			}
		}
		bbest, bbestP := -1, 0.0
		for i := range beep {
			if p := beep[i].Power(); p > bbestP {
				bbest, bbestP = i, p
			}
		}
		switch {
		case bestP >= 0.6*ms && bestP >= bbestP:
			freq = sitFreqs[best]
			class = [5]toneClass{classSIT1, classSIT1, classSIT2, classSIT2, classSIT3}[best]
		case bbestP >= 0.6*ms:
			freq = 850 + 25*float64(bbest)
			class = classBeep
			if math.Abs(freq-1100) <= 38 {
				class = classFax
			}
		}
	}
	r := &d.run
	if class != classNone && class == r.class && math.Abs(freq-r.freq) <= 50 {
		r.frames += int64(len(s))
	} else {
		dst = d.endRun(dst, start)
		*r = toneRun{class: class, freq: freq, start: start, frames: int64(len(s))}
		d.beepSent = false
	}
	// Reports that need not wait for the run to end.
	el := d.dur(r.frames)
	switch r.class {
	case classBeep:
		if !d.beepSent && d.cfg.BeepMax == 0 && el >= d.cfg.BeepMin {
			d.beepSent = true
			dst = append(dst, ToneEvent{Kind: ToneBeep, Freq: r.freq, At: d.dur(r.start), Duration: el})
		}
	case classSIT3:
		if d.sitStage == 2 && r.start-d.sitEnd <= int64(d.rate/25) && el >= 200*time.Millisecond {
			d.sitStage = 0
			dst = append(dst, ToneEvent{Kind: ToneSIT, At: d.dur(d.sitStart), Duration: d.dur(d.pos - d.sitStart)})
		}
	}
	return dst
}

// endRun evaluates the single-tone run that just ended at sample end.
func (d *ToneDetector) endRun(dst []ToneEvent, end int64) []ToneEvent {
	r := d.run
	el := d.dur(r.frames)
	segOK := el >= 200*time.Millisecond && el <= 450*time.Millisecond // SIT segments are 274 or 380 ms
	gapOK := r.start-d.sitEnd <= int64(d.rate/25)                     // at most 40 ms between segments
	switch r.class {
	case classSIT1:
		if segOK {
			d.sitStage, d.sitStart, d.sitEnd = 1, r.start, end
		} else {
			d.sitStage = 0
		}
	case classSIT2:
		if segOK && d.sitStage == 1 && gapOK {
			d.sitStage, d.sitEnd = 2, end
		} else {
			d.sitStage = 0
		}
	case classFax:
		if el >= 400*time.Millisecond && el <= 700*time.Millisecond {
			dst = append(dst, ToneEvent{Kind: ToneFax, Freq: r.freq, At: d.dur(r.start), Duration: el})
		}
	case classBeep:
		if !d.beepSent && d.cfg.BeepMax > 0 && el >= d.cfg.BeepMin && el <= d.cfg.BeepMax {
			dst = append(dst, ToneEvent{Kind: ToneBeep, Freq: r.freq, At: d.dur(r.start), Duration: el})
		}
	case classNone:
		// a short gap keeps the SIT sequence alive (checked by gapOK)
		return dst
	}
	if r.class != classSIT1 && r.class != classSIT2 && r.class != classSIT3 {
		d.sitStage = 0
	}
	return dst
}

// detectRingback analyses 40 ms blocks (two frames): 440 and 480 Hz are only 40 Hz apart.
func (d *ToneDetector) detectRingback(dst []ToneEvent, s []int16, ms float64) []ToneEvent {
	if d.ringFrame == 0 {
		for i := range d.ring {
			d.ring[i].Reset()
		}
		d.ringMS, d.ringN = 0, 0
	}
	addBank(d.ring[:], s)
	d.ringMS += ms * float64(len(s))
	d.ringN += len(s)
	d.ringFrame++
	if d.ringFrame < 2 {
		return dst
	}
	d.ringFrame = 0
	blockStart := d.pos - int64(d.ringN)
	total := d.ringMS / float64(d.ringN)
	p440, p450, p480 := d.ring[0].Power(), d.ring[1].Power(), d.ring[2].Power()
	class := classNone
	if total > 0 && 10*math.Log10(total/(32768*32768)) >= d.cfg.MinLevel {
		switch {
		case p450 >= 0.6*total && p480 < 0.15*total:
			class = classCN
		case p440 >= 0.2*total && p480 >= 0.2*total && p440+p480 >= 0.6*total:
			class = classNA
		}
	}
	r := &d.ringRun
	if class != classNone && class == r.class {
		r.frames += int64(d.ringN)
		return dst
	}
	// The run ended: judge its length against the cadence.
	el := d.dur(r.frames)
	var kind ToneKind
	switch {
	case r.class == classCN && el >= 800*time.Millisecond && el <= 1300*time.Millisecond:
		kind = ToneRingbackCN
	case r.class == classNA && el >= 1600*time.Millisecond && el <= 2500*time.Millisecond:
		kind = ToneRingbackNA
	}
	if kind != 0 {
		d.ringSeen++
		if d.ringSeen == d.cfg.Ringbacks {
			dst = append(dst, ToneEvent{Kind: kind, At: d.dur(r.start), Duration: el})
		}
	}
	*r = toneRun{class: class, start: blockStart, frames: int64(d.ringN)}
	return dst
}

// PeakFrequency returns the frequency between lo and hi Hz (stepped by step Hz) with the most power in samples at
// rate, and that power (Goertzel units: A²/2 for a sine of amplitude A). Tests and line checks use it to tell which
// tone came back: over 200 ms, a 5 Hz step resolves a 1 kHz tone to 0.5 %.
func PeakFrequency(samples []int16, rate int, lo, hi, step float64) (freq, power float64) {
	for f := lo; f <= hi; f += step {
		g := NewGoertzel(f, rate)
		g.Add(samples)
		if p := g.Power(); p > power {
			freq, power = f, p
		}
	}
	return freq, power
}
