package audio

import "math"

// Level summarises a run of samples. Decibels are relative to full scale (dBFS): a full-scale square wave is
// 0 dBFS RMS, a full-scale sine -3.01 dBFS RMS. Digital silence is -Inf dBFS.
type Level struct {
	RMS     float64 // root-mean-square level, dBFS
	Peak    float64 // largest absolute sample, dBFS
	Clipped int     // samples at the int16 limits (32767 or -32768)
	Samples int     // samples measured
}

// Meter accumulates a Level over any number of calls to Add; the zero value is ready. It allocates nothing.
type Meter struct {
	sumSq   float64
	peak    int
	clipped int
	n       int
}

// Add measures more samples.
func (m *Meter) Add(samples []int16) {
	for _, s := range samples {
		v := int(s)
		m.sumSq += float64(v * v)
		if v < 0 {
			v = -v
		}
		if v > m.peak {
			m.peak = v
		}
		if s == math.MaxInt16 || s == math.MinInt16 {
			m.clipped++
		}
	}
	m.n += len(samples)
}

// Level returns what has been measured since the meter was created or Reset.
func (m *Meter) Level() Level {
	l := Level{RMS: math.Inf(-1), Peak: math.Inf(-1), Clipped: m.clipped, Samples: m.n}
	if m.n > 0 && m.sumSq > 0 {
		l.RMS = 10 * math.Log10(m.sumSq/float64(m.n)/(32768*32768))
		l.Peak = 20 * math.Log10(float64(m.peak)/32768)
	}
	return l
}

// Reset clears the meter.
func (m *Meter) Reset() { *m = Meter{} }

// MeasureLevel returns the level of samples.
func MeasureLevel(samples []int16) Level {
	var m Meter
	m.Add(samples)
	return m.Level()
}
