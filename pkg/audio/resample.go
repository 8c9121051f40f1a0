package audio

import (
	"fmt"
	"math"
	"time"
)

// Resampler converts a stream of PCM16 samples between 8, 16, 24 and 48 kHz with a polyphase windowed-sinc
// (Kaiser) filter. It keeps its filter history between calls, so a stream cut into frames resamples exactly as
// if processed whole: no clicks at frame edges. A Resampler serves one stream; it is not safe for concurrent use.
//
// The filter's cut-off sits at the lower rate's Nyquist frequency, with the transition band spanning 0.85 to 1.15
// times it (so 3.4-4.6 kHz around 8 kHz), designed for 72 dB stop-band attenuation. Its delay is Delay().
type Resampler struct {
	from, to int
	l, m     int       // interpolate by l, decimate by m
	k        int       // taps per phase (history length)
	phases   []phase   // per output phase, the folded non-zero taps
	buf      []float32 // input window: buf[0] is input sample q-k+1 for the next output's q
	n        int       // valid samples in buf
	q, p     int       // next output's newest input index (relative to buf: k-1+q) and phase
}

// Supported resampler rates.
var resampleRates = []int{8000, 16000, 24000, 48000}

// resamplerDesign caches filter banks by rate pair; they are read-only once built.
type designKey struct{ from, to int }

type design struct {
	l, m, k int
	phases  []phase
}

// phase is one polyphase branch over the k-sample window. The prototype is symmetric, so mirrored taps share one
// multiply. Without interior zeros it is stored contiguously (sym): y = Σ half[t]·(w[t] + w[n-1-t]) + mid·w[n/2]
// over w = x[off:off+n]. Otherwise (half-band decimators, every other tap zero) as pairs:
// y = Σ coef[t]·(x[ia[t]] + x[ib[t]]), zero taps left out, an unpaired tap with ia == ib and half its coefficient.
type phase struct {
	sym    bool
	off, n int
	half   []float32
	mid    float32

	coef   []float32
	ia, ib []int32
}

var designs = map[designKey]*design{}

func init() {
	for _, a := range resampleRates {
		for _, b := range resampleRates {
			if a != b {
				designs[designKey{a, b}] = newDesign(a, b)
			}
		}
	}
}

// NewResampler returns a resampler from one rate to another, each 8000, 16000, 24000 or 48000. Equal rates give a
// pass-through resampler.
func NewResampler(from, to int) (*Resampler, error) {
	if !supportedRate(from) || !supportedRate(to) {
		return nil, fmt.Errorf("resampler %d → %d Hz: rates must be 8000, 16000, 24000 or 48000: %w", from, to, ErrFormat)
	}
	r := &Resampler{from: from, to: to, l: 1, m: 1}
	if from == to {
		return r, nil
	}
	d := designs[designKey{from, to}]
	r.l, r.m, r.k, r.phases = d.l, d.m, d.k, d.phases
	r.buf = make([]float32, r.k-1+from/50*2) // history plus room for two 20 ms frames before growing
	r.Reset()
	return r, nil
}

func supportedRate(r int) bool {
	for _, x := range resampleRates {
		if x == r {
			return true
		}
	}
	return false
}

// From returns the input rate.
func (r *Resampler) From() int { return r.from }

// To returns the output rate.
func (r *Resampler) To() int { return r.to }

// Reset clears the filter history, as for a new stream.
func (r *Resampler) Reset() {
	if r.k == 0 {
		return
	}
	clear(r.buf)
	r.n = r.k - 1 // k-1 samples of silence before the first input
	r.q, r.p = 0, 0
}

// Delay returns the group delay the filter adds.
func (r *Resampler) Delay() time.Duration {
	if r.k == 0 {
		return 0
	}
	// The prototype is centred (k-1)/2 input samples back.
	return time.Duration(float64(r.k-1) / 2 * float64(time.Second) / float64(r.from))
}

// OutLen returns an upper bound on the samples Process returns for n input samples.
func (r *Resampler) OutLen(n int) int { return (n*r.l)/r.m + 1 }

// Process resamples src and returns the output in dst, resliced (it allocates only when cap(dst) is too small;
// size dst with OutLen). Every whole 20 ms frame in gives exactly one 20 ms frame out.
func (r *Resampler) Process(dst, src []int16) []int16 {
	if r.k == 0 {
		dst = growInt16(dst, len(src))
		copy(dst, src)
		return dst
	}
	if need := r.n + len(src); need > len(r.buf) {
		nb := make([]float32, need)
		copy(nb, r.buf[:r.n])
		r.buf = nb
	}
	buf := r.buf
	for i, s := range src {
		buf[r.n+i] = float32(s)
	}
	r.n += len(src)
	dst = dst[:0]
	k, l, m := r.k, r.l, r.m
	q, p := r.q, r.p
	for q+k <= r.n {
		dst = append(dst, toInt16(r.phases[p].apply(buf[q:q+k])))
		p += m
		q += p / l
		p %= l
	}
	// Keep the last k-1 samples the next output still needs.
	copy(buf, buf[q:r.n])
	r.n -= q
	r.q, r.p = 0, p
	return dst
}

// ProcessFrame resamples one frame, which must be at From(), returning a frame at To() whose samples reuse dst
// when it has room.
func (r *Resampler) ProcessFrame(dst []int16, f Frame) (Frame, error) {
	if f.Rate != r.from {
		return Frame{}, fmt.Errorf("resampler %d → %d Hz got a %d Hz frame: %w", r.from, r.to, f.Rate, ErrFormat)
	}
	return Frame{Rate: r.to, Samples: r.Process(dst, f.Samples)}, nil
}

// apply filters the k-sample window x (oldest first).
func (ph *phase) apply(x []float32) float32 {
	if ph.sym {
		w := x[ph.off : ph.off+ph.n]
		h := ph.half
		if len(h) == 0 {
			return ph.mid * w[len(w)/2]
		}
		lo := w[:len(h)]
		hi := w[len(w)-len(h):]
		var mid float32
		if len(w)%2 == 1 {
			mid = ph.mid * w[len(w)/2]
		}
		// Shrinking slices rather than indexes let the compiler drop the bounds checks.
		var a0, a1, a2, a3 float32
		for len(h) >= 4 && len(lo) >= 4 && len(hi) >= 4 {
			e := len(hi)
			a0 += h[0] * (lo[0] + hi[e-1])
			a1 += h[1] * (lo[1] + hi[e-2])
			a2 += h[2] * (lo[2] + hi[e-3])
			a3 += h[3] * (lo[3] + hi[e-4])
			h, lo, hi = h[4:], lo[4:], hi[:e-4]
		}
		for len(h) > 0 && len(lo) > 0 && len(hi) > 0 {
			a0 += h[0] * (lo[0] + hi[len(hi)-1])
			h, lo, hi = h[1:], lo[1:], hi[:len(hi)-1]
		}
		a0 += mid
		return (a0 + a1) + (a2 + a3)
	}
	c, ia, ib := ph.coef, ph.ia[:len(ph.coef)], ph.ib[:len(ph.coef)]
	var a0, a1 float32
	t := 0
	for ; t+2 <= len(c); t += 2 {
		a0 += c[t] * (x[ia[t]] + x[ib[t]])
		a1 += c[t+1] * (x[ia[t+1]] + x[ib[t+1]])
	}
	if t < len(c) {
		a0 += c[t] * (x[ia[t]] + x[ib[t]])
	}
	return a0 + a1
}

func toInt16(v float32) int16 {
	// Clamp, then round to nearest by adding 1.5·2^23: a float32 has no fraction bits left at that magnitude, so the
	// addition itself rounds (exact for |v| < 2^22). Branch-free, which matters: this runs for every output sample.
	v = min(max(v, -32768), 32767)
	return int16(int32(v+12582912) - 12582912)
}

// newDesign builds the polyphase bank for from → to.
func newDesign(from, to int) *design {
	g := gcd(from, to)
	l, m := to/g, from/g
	fp := float64(from * l) // prototype rate
	flow := float64(min(from, to))
	const atten = 72.0 // dB
	beta := 0.1102 * (atten - 8.7)
	dw := 2 * math.Pi * 0.3 * (flow / 2) / fp // transition width (0.85-1.15 × Nyquist) in rad/sample
	est := int(math.Ceil((atten-7.95)/(2.285*dw))) + 1
	// Odd length 2·R·l+1 so the centre falls on a tap of phase 0 and, when interpolating, that phase reduces to
	// one tap (the input sample itself).
	rr := (est - 1 + 2*l - 1) / (2 * l)
	n := 2*rr*l + 1
	k := 2*rr + 1 // taps per phase after padding the prototype to k·l
	h := make([]float64, k*l)
	centre := float64(n-1) / 2
	fc := flow / fp // cut-off as a fraction of fp (two-sided: sinc argument scale)
	i0b := besselI0(beta)
	for i := range n {
		t := float64(i) - centre
		var s float64
		if t == 0 {
			s = fc
		} else if x := fc * t; x == math.Trunc(x) {
			s = 0 // exact zero crossing
		} else {
			s = math.Sin(math.Pi*x) / (math.Pi * t)
		}
		r := 2*float64(i)/float64(n-1) - 1
		w := besselI0(beta*math.Sqrt(math.Max(0, 1-r*r))) / i0b
		h[i] = float64(l) * s * w
	}
	d := &design{l: l, m: m, k: k, phases: make([]phase, l)}
	for p := range l {
		// Output y = Σ_{j<k} h[p+j·l]·x[q-j]; in window order (oldest first) index w = k-1-j.
		win := make([]float64, k)
		for j := range k {
			win[k-1-j] = h[p+j*l]
		}
		d.phases[p] = foldPhase(win)
	}
	return d
}

// foldPhase pairs mirror-image taps of a window with equal coefficients and drops zero taps.
func foldPhase(win []float64) phase {
	lo, hi := 0, len(win)
	for lo < hi && win[lo] == 0 {
		lo++
	}
	for hi > lo && win[hi-1] == 0 {
		hi--
	}
	if ph, ok := symPhase(win[lo:hi]); ok {
		ph.off = lo
		return ph
	}
	var ph phase
	used := make([]bool, len(win))
	for i, c := range win {
		if used[i] || c == 0 {
			continue
		}
		used[i] = true
		j := i
		for cand := len(win) - 1; cand > i; cand-- {
			if !used[cand] && math.Abs(win[cand]-c) <= 1e-12*math.Abs(c) {
				j = cand
				break
			}
		}
		coef := c
		if j == i {
			coef = c / 2 // x[i] is added twice
		}
		used[j] = true
		ph.coef = append(ph.coef, float32(coef))
		ph.ia = append(ph.ia, int32(i))
		ph.ib = append(ph.ib, int32(j))
	}
	return ph
}

// symPhase returns the contiguous symmetric form of taps, if they are symmetric with no interior zeros.
func symPhase(taps []float64) (phase, bool) {
	n := len(taps)
	if n == 0 {
		return phase{}, false
	}
	for i := range n {
		if taps[i] == 0 || math.Abs(taps[i]-taps[n-1-i]) > 1e-12*math.Abs(taps[i]) {
			return phase{}, false
		}
	}
	ph := phase{sym: true, n: n}
	for i := range n / 2 {
		ph.half = append(ph.half, float32(taps[i]))
	}
	if n%2 == 1 {
		ph.mid = float32(taps[n/2])
	}
	return ph, true
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// besselI0 is the zeroth-order modified Bessel function of the first kind, by its power series.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / 2) / float64(k)
		sum += term * term
		if term*term < sum*1e-17 {
			break
		}
	}
	return sum
}
