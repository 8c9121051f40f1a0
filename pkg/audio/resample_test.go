package audio

import (
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

func sine(rate int, f, amp float64, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amp * math.Sin(2*math.Pi*f*float64(i)/float64(rate))))
	}
	return out
}

var bhWindows sync.Map // n → []float64

// blackmanHarris returns the 4-term Blackman-Harris window of length n (cached).
func blackmanHarris(n int) []float64 {
	if w, ok := bhWindows.Load(n); ok {
		return w.([]float64)
	}
	w := make([]float64, n)
	for i := range w {
		a := 2 * math.Pi * float64(i) / float64(n-1)
		w[i] = 0.35875 - 0.48829*math.Cos(a) + 0.14128*math.Cos(2*a) - 0.01168*math.Cos(3*a)
	}
	bhWindows.Store(n, w)
	return w
}

// tonePower returns the power of frequency f in x (Blackman-Harris windowed single-bin DFT), in amplitude² units.
func tonePower(x []int16, rate int, f float64) float64 {
	w := blackmanHarris(len(x))
	var re, im, wsum float64
	// Rotate a phasor instead of calling sin/cos per sample; renormalise now and then.
	step := complex(math.Cos(2*math.Pi*f/float64(rate)), math.Sin(2*math.Pi*f/float64(rate)))
	ph := complex(1, 0)
	for i, v := range x {
		wv := w[i] * float64(v)
		re += wv * real(ph)
		im += wv * imag(ph)
		wsum += w[i]
		ph *= step
		if i%1024 == 1023 {
			ph /= complex(cmplx.Abs(ph), 0)
		}
	}
	amp := 2 * math.Hypot(re, im) / wsum
	return amp * amp
}

func rms(x []int16) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(x)))
}

func db(r float64) float64 { return 10 * math.Log10(r) }

// TestResamplerStopBand sweeps a tone through every rate pair and measures what leaks through the stop band:
// aliases when decimating (total output power for an input tone above 1.15× the output Nyquist) and images when
// interpolating (power at m·from ± f relative to the tone itself). Each must be ≥ 60 dB down; the pass band
// (≤ 0.85× the lower Nyquist) must be flat within 0.1 dB.
func TestResamplerStopBand(t *testing.T) {
	for _, from := range resampleRates {
		for _, to := range resampleRates {
			if from == to {
				continue
			}
			t.Run(fmt.Sprintf("%d-%d", from, to), func(t *testing.T) {
				nyqLow := float64(min(from, to)) / 2
				const amp = 16000.0
				n := from / 8 // 125 ms per step
				worst, ripple := math.Inf(-1), 0.0
				// Pass band sweep: gain and (when interpolating) images.
				for i := 0; i <= 16; i++ {
					f := 100 + (0.85*nyqLow-100)*float64(i)/16
					r, _ := NewResampler(from, to)
					out := r.Process(nil, sine(from, f, amp, n))
					out = out[len(out)/4:] // skip the filter's start-up
					g := db(tonePower(out, to, f) / (amp * amp))
					ripple = math.Max(ripple, math.Abs(g))
					if to > from {
						for m := 1; float64(m*from)-f < float64(to)/2; m++ {
							for _, img := range []float64{float64(m*from) - f, float64(m*from) + f} {
								if img < float64(to)/2 {
									worst = math.Max(worst, db(tonePower(out, to, img)/(amp*amp)))
								}
							}
						}
					}
				}
				if to < from {
					// Stop band sweep: everything above 1.15× the output Nyquist must vanish.
					for i := 0; i <= 16; i++ {
						f := 1.15*nyqLow + (0.99*float64(from)/2-1.15*nyqLow)*float64(i)/16
						r, _ := NewResampler(from, to)
						in := sine(from, f, amp, n)
						out := r.Process(nil, in)
						out = out[len(out)/4:]
						worst = math.Max(worst, db(math.Pow(rms(out)/rms(in), 2)))
					}
				}
				t.Logf("stop band %.1f dB, pass-band deviation %.3f dB", -worst, ripple)
				if worst > -60 || math.IsNaN(worst) {
					t.Errorf("stop-band attenuation %.1f dB < 60 dB", -worst)
				}
				if ripple > 0.1 {
					t.Errorf("pass-band deviation %.3f dB", ripple)
				}
			})
		}
	}
}

// TestResamplerStreaming checks that frames of random sizes resample exactly like one block, and that 20 ms in
// gives 20 ms out.
func TestResamplerStreaming(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, pair := range [][2]int{{8000, 16000}, {16000, 8000}, {16000, 24000}, {48000, 8000}, {8000, 48000}, {24000, 16000}} {
		from, to := pair[0], pair[1]
		in := make([]int16, from) // 1 s of a chirp
		for i := range in {
			tt := float64(i) / float64(from)
			in[i] = int16(12000 * math.Sin(2*math.Pi*(50*tt+float64(from)/5*tt*tt)))
		}
		whole, _ := NewResampler(from, to)
		want := whole.Process(nil, in)
		if len(want) != to {
			t.Fatalf("%d→%d: 1 s gave %d samples", from, to, len(want))
		}
		parts, _ := NewResampler(from, to)
		var got []int16
		for rest := in; len(rest) > 0; {
			c := min(len(rest), rng.IntN(400))
			got = append(got, parts.Process(nil, rest[:c])...)
			rest = rest[c:]
		}
		if !equalInt16(got, want) {
			t.Fatalf("%d→%d: chunked output differs from whole", from, to)
		}
		fr, _ := NewResampler(from, to)
		for i := 0; i+from/50 <= len(in); i += from / 50 {
			if out := fr.Process(nil, in[i:i+from/50]); len(out) != to/50 {
				t.Fatalf("%d→%d: 20 ms frame gave %d samples", from, to, len(out))
			}
		}
	}
}

func TestResamplerErrorsAndPassThrough(t *testing.T) {
	if _, err := NewResampler(8000, 44100); err == nil {
		t.Fatal("44.1 kHz accepted")
	}
	r, err := NewResampler(16000, 16000)
	if err != nil {
		t.Fatal(err)
	}
	in := []int16{1, 2, 3}
	if out := r.Process(nil, in); !equalInt16(out, in) {
		t.Fatal("pass-through altered samples")
	}
	up, _ := NewResampler(8000, 16000)
	if d := up.Delay(); d <= 0 || d > 3e6 {
		t.Fatalf("delay %v", d)
	}
	// Full-scale square wave must clamp, not wrap.
	sq := make([]int16, 800)
	for i := range sq {
		sq[i] = 32767
		if i/20%2 == 1 {
			sq[i] = -32768
		}
	}
	out := up.Process(nil, sq)
	for i := 1; i < len(out); i++ {
		if d := int(out[i]) - int(out[i-1]); d > 40000 || d < -40000 {
			t.Fatalf("wrap-around at %d: %d → %d", i, out[i-1], out[i])
		}
	}
}

func TestResamplerAllocFree(t *testing.T) {
	r, _ := NewResampler(8000, 16000)
	in := sine(8000, 440, 8000, 160)
	dst := make([]int16, 0, r.OutLen(160))
	if n := testing.AllocsPerRun(200, func() { dst = r.Process(dst, in) }); n != 0 {
		t.Fatalf("Process allocates %v per frame", n)
	}
}

func BenchmarkResample8to16(b *testing.B) {
	r, _ := NewResampler(8000, 16000)
	in := sine(8000, 440, 8000, 160)
	dst := make([]int16, 0, r.OutLen(160))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	c0 := threadCPU()
	for b.Loop() {
		dst = r.Process(dst, in)
	}
	b.ReportMetric(float64(threadCPU()-c0)/float64(b.N), "cpu-ns/op")
}

func BenchmarkResample16to8(b *testing.B) {
	r, _ := NewResampler(16000, 8000)
	in := sine(16000, 440, 8000, 320)
	dst := make([]int16, 0, r.OutLen(320))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	c0 := threadCPU()
	for b.Loop() {
		dst = r.Process(dst, in)
	}
	b.ReportMetric(float64(threadCPU()-c0)/float64(b.N), "cpu-ns/op")
}

// TestResamplerChirpStopBand feeds each decimator a continuous linear chirp sweeping the whole stop band (1.15×
// the output Nyquist up to 0.99× the input Nyquist) and requires the output, away from the chirp's ends, to stay
// ≥ 60 dB below the input.
func TestResamplerChirpStopBand(t *testing.T) {
	for _, from := range resampleRates {
		for _, to := range resampleRates {
			if to >= from {
				continue
			}
			f0, f1 := 1.15*float64(to)/2, 0.99*float64(from)/2
			in := make([]int16, from) // 1 s
			for i := range in {
				tt := float64(i) / float64(from)
				in[i] = int16(16000 * math.Sin(2*math.Pi*(f0*tt+(f1-f0)/2*tt*tt)))
			}
			r, _ := NewResampler(from, to)
			out := r.Process(nil, in)
			cut := len(out) / 10
			att := -db(math.Pow(rms(out[cut:len(out)-cut])/rms(in), 2))
			t.Logf("%d→%d: chirp %.0f-%.0f Hz attenuated %.1f dB", from, to, f0, f1, att)
			if att < 60 || math.IsNaN(att) {
				t.Errorf("%d→%d: chirp stop band attenuated only %.1f dB", from, to, att)
			}
		}
	}
}

func TestToInt16RoundsAndClamps(t *testing.T) {
	for _, c := range []struct {
		in   float32
		want int16
	}{
		{0, 0}, {0.4, 0}, {0.6, 1}, {-0.6, -1}, {1.5, 2}, {-1.5, -2}, {1234.49, 1234}, {-1234.51, -1235},
		{32766.6, 32767}, {32767.4, 32767}, {40000, 32767}, {1e30, 32767},
		{-32767.6, -32768}, {-32768.4, -32768}, {-40000, -32768}, {-1e30, -32768},
	} {
		if got := toInt16(c.in); got != c.want {
			t.Errorf("toInt16(%v) = %d, want %d", c.in, got, c.want)
		}
	}
}
