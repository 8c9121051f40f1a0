package vadcorpus

import (
	"math"
	"math/rand/v2"

	"github.com/outcall/outcall/pkg/audio"
)

// Stream is utterances laid end to end with silence between them, and its labels.
type Stream struct {
	Clean       []int16
	Labels      []bool   // per frame
	Utterances  [][2]int // first and last+1 labelled speech frame of each utterance
	SpeechPower float64  // mean power of the labelled speech frames, for SNR
}

// Build lays us out with 1.0-2.0 s of digital silence before each and after the last (the lengths cycle, so the
// detectors' hangover and floor tracking meet several gaps).
func Build(us []Utterance) *Stream {
	st := &Stream{}
	gap := func(i int) {
		st.Clean = append(st.Clean, make([]int16, Rate*(5+i%6)/5)...)
		for len(st.Labels) < len(st.Clean)/FrameLen {
			st.Labels = append(st.Labels, false)
		}
	}
	var psum float64
	var pn int
	for i, u := range us {
		gap(i)
		first := len(st.Clean) / FrameLen
		s := u.Samples[:len(u.Samples)/FrameLen*FrameLen]
		st.Clean = append(st.Clean, s...)
		lab := Labels(s)
		lo, hi := -1, -1
		for k, l := range lab {
			if l {
				if lo < 0 {
					lo = k
				}
				hi = k + 1
				for _, v := range s[k*FrameLen : (k+1)*FrameLen] {
					psum += float64(v) * float64(v)
				}
				pn += FrameLen
			}
		}
		st.Labels = append(st.Labels, lab...)
		if lo >= 0 {
			st.Utterances = append(st.Utterances, [2]int{first + lo, first + hi})
		}
	}
	gap(len(us))
	st.SpeechPower = psum / float64(max(pn, 1))
	return st
}

// Kinds of noise.
const (
	White  = "white"
	Babble = "babble"
	Street = "street"
)

// Noise returns n samples of kind (unit power, in LSB², before scaling): white Gaussian; babble, the sum of the
// talkers' tracks each from its own offset; street, low-passed noise (rumble of traffic, below about 500 Hz) with
// random transients (bursts of 30-300 ms, 6-12 dB over the rumble, about one every 2 s: doors, horns, brakes).
func Noise(kind string, n int, talkers [][]int16, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]float64, n)
	switch kind {
	case White:
		for i := range out {
			out[i] = rng.NormFloat64()
		}
	case Babble:
		for k, t := range talkers {
			off := (k*7919 + int(seed)) % len(t)
			for i := range out {
				out[i] += float64(t[(off+i)%len(t)])
			}
		}
	case Street:
		var y1, y2 float64
		a := math.Exp(-2 * math.Pi * 500 / Rate)
		for i := range out {
			y1 = a*y1 + (1-a)*rng.NormFloat64()
			y2 = a*y2 + (1-a)*y1
			out[i] = y2
		}
		scale(out, 1)
		for i := rng.IntN(2 * Rate); i < n; i += Rate/2 + rng.IntN(3*Rate) {
			l := Rate * (30 + rng.IntN(270)) / 1000
			g := math.Pow(10, (6+6*rng.Float64())/20)
			f := 300 + 2000*rng.Float64() // a tone-like burst (horn, brake squeal) or a knock
			for j := 0; j < l && i+j < n; j++ {
				env := math.Exp(-3 * float64(j) / float64(l))
				out[i+j] += g * env * (0.6*math.Sin(2*math.Pi*f*float64(j)/Rate)*math.Sqrt2 + 0.4*rng.NormFloat64())
			}
		}
	}
	scale(out, 1)
	return out
}

// scale sets x's mean power to p.
func scale(x []float64, p float64) {
	var e float64
	for _, v := range x {
		e += v * v
	}
	if e == 0 {
		return
	}
	g := math.Sqrt(p * float64(len(x)) / e)
	for i := range x {
		x[i] *= g
	}
}

// Mix adds noise (unit power) to the stream at snr dB against its speech power (noise nil: clean) and passes the
// result through G.711 µ-law and back, as a telephone call would.
func (st *Stream) Mix(noise []float64, snr float64) []int16 {
	g := 0.0
	if noise != nil {
		g = math.Sqrt(st.SpeechPower / math.Pow(10, snr/10))
	}
	out := make([]int16, len(st.Clean))
	for i, v := range st.Clean {
		x := float64(v)
		if noise != nil {
			x += g * noise[i%len(noise)]
		}
		out[i] = audio.ULawToLinear(audio.LinearToULaw(int16(max(-32768, min(32767, math.Round(x))))))
	}
	return out
}
