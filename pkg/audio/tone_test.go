package audio

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

type seg struct {
	freqs []float64 // none: silence
	ms    int
}

// toneSignal renders segments at amp (per tone, linear) over white noise of rms noise.
func toneSignal(rate int, amp, noise float64, segs ...seg) []int16 {
	rng := rand.New(rand.NewPCG(3, 4))
	var out []int16
	n0 := 0
	for _, sg := range segs {
		n := rate * sg.ms / 1000
		for i := range n {
			v := noise * rng.NormFloat64()
			for _, f := range sg.freqs {
				v += amp * math.Sin(2*math.Pi*f*float64(n0+i)/float64(rate))
			}
			out = append(out, int16(math.Max(-32768, math.Min(32767, v))))
		}
		n0 += n
	}
	return out
}

func detectTones(cfg ToneConfig, rate int, s []int16) []ToneEvent {
	d := NewToneDetector(cfg)
	fs := rate / 50
	var evs []ToneEvent
	for i := 0; i+fs <= len(s); i += fs {
		evs = d.Process(evs, Frame{Rate: rate, Samples: s[i : i+fs]})
	}
	return evs
}

func kinds(evs []ToneEvent) []ToneKind {
	var k []ToneKind
	for _, e := range evs {
		k = append(k, e.Kind)
	}
	return k
}

const (
	toneAmp  = 3000.0 // about -21 dBFS per tone
	noiseRMS = 300.0  // 17 dB below a tone
)

func TestGoertzelPower(t *testing.T) {
	s := sine(8000, 1000, 1000, 160)
	g := NewGoertzel(1000, 8000)
	g.Add(s[:70])
	g.Add(s[70:])
	if p := g.Power(); math.Abs(p-500000)/500000 > 0.01 {
		t.Fatalf("power %.0f, want A²/2 = 500000", p)
	}
	off := NewGoertzel(1500, 8000)
	off.Add(s)
	if p := off.Power(); p > 500 {
		t.Fatalf("1500 Hz filter sees %.0f of a 1000 Hz tone", p)
	}
}

func TestDTMFAllDigits(t *testing.T) {
	keys := "123A456B789C*0#D"
	for _, rate := range []int{8000, 16000} {
		var segs []seg
		segs = append(segs, seg{nil, 110})
		for _, k := range keys {
			for r := range 4 {
				for c := range 4 {
					if dtmfKeys[r][c] == byte(k) {
						// 70 ms on, 50 ms off: tones start and stop mid-frame.
						segs = append(segs, seg{[]float64{dtmfRows[r], dtmfCols[c]}, 70}, seg{nil, 50})
					}
				}
			}
		}
		evs := detectTones(ToneConfig{}, rate, toneSignal(rate, toneAmp, noiseRMS, segs...))
		var got []byte
		for _, e := range evs {
			if e.Kind != ToneDTMF {
				t.Fatalf("%d Hz: unexpected %v", rate, e.Kind)
			}
			got = append(got, e.Digit)
		}
		if string(got) != keys {
			t.Fatalf("%d Hz: digits %q, want %q", rate, got, keys)
		}
		// The first digit starts at 110 ms; its reported start is the frame holding the onset.
		if at := evs[0].At; at < 100*time.Millisecond || at > 120*time.Millisecond {
			t.Fatalf("first digit at %v", at)
		}
	}
}

func TestDTMFRejects(t *testing.T) {
	cases := map[string][]int16{
		"single row tone":   toneSignal(8000, toneAmp, noiseRMS, seg{[]float64{697}, 200}),
		"too short (20 ms)": toneSignal(8000, toneAmp, noiseRMS, seg{nil, 20}, seg{[]float64{697, 1209}, 20}, seg{nil, 100}),
		"noise only":        toneSignal(8000, 0, 3000, seg{nil, 3000}),
		"too quiet":         toneSignal(8000, 50, 5, seg{[]float64{697, 1209}, 200}),
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			if evs := detectTones(ToneConfig{}, 8000, s); len(evs) != 0 {
				t.Fatalf("false detection %+v", evs)
			}
		})
	}
}

func TestSIT(t *testing.T) {
	s := toneSignal(8000, toneAmp, noiseRMS, seg{nil, 300},
		seg{[]float64{913.8}, 274}, seg{[]float64{1370.6}, 274}, seg{[]float64{1776.7}, 380}, seg{nil, 500})
	evs := detectTones(ToneConfig{}, 8000, s)
	if len(evs) != 1 || evs[0].Kind != ToneSIT {
		t.Fatalf("events %+v", evs)
	}
	if at := evs[0].At; at < 280*time.Millisecond || at > 320*time.Millisecond {
		t.Fatalf("SIT at %v, want 300 ms", at)
	}
	// Only two of the three segments, or the wrong order: no SIT.
	for name, s := range map[string][]int16{
		"two segments": toneSignal(8000, toneAmp, noiseRMS, seg{[]float64{985.2}, 380}, seg{[]float64{1428.5}, 380}, seg{nil, 800}),
		"reversed":     toneSignal(8000, toneAmp, noiseRMS, seg{[]float64{1776.7}, 380}, seg{[]float64{1370.6}, 380}, seg{[]float64{913.8}, 380}, seg{nil, 400}),
	} {
		if evs := detectTones(ToneConfig{}, 8000, s); len(evs) != 0 && kinds(evs)[0] == ToneSIT {
			t.Fatalf("%s: %+v", name, evs)
		}
	}
}

func TestFaxCNG(t *testing.T) {
	s := toneSignal(8000, toneAmp, noiseRMS, seg{nil, 200}, seg{[]float64{1100}, 500}, seg{nil, 3000},
		seg{[]float64{1100}, 500}, seg{nil, 500})
	evs := detectTones(ToneConfig{}, 8000, s)
	if len(evs) != 2 || evs[0].Kind != ToneFax || evs[1].Kind != ToneFax {
		t.Fatalf("events %+v", evs)
	}
	if long := detectTones(ToneConfig{}, 8000, toneSignal(8000, toneAmp, noiseRMS, seg{[]float64{1100}, 2000}, seg{nil, 200})); len(long) != 0 {
		t.Fatalf("2 s of 1100 Hz reported as %+v", long)
	}
}

func TestBeep(t *testing.T) {
	for _, f := range []float64{850, 1000, 1050} {
		s := toneSignal(8000, toneAmp, noiseRMS, seg{nil, 1000}, seg{[]float64{f}, 600}, seg{nil, 300})
		evs := detectTones(ToneConfig{}, 8000, s)
		if len(evs) != 1 || evs[0].Kind != ToneBeep {
			t.Fatalf("%g Hz: events %+v", f, evs)
		}
		if math.Abs(evs[0].Freq-f) > 25 || evs[0].At < 980*time.Millisecond || evs[0].At > 1020*time.Millisecond {
			t.Fatalf("%g Hz: %+v", f, evs[0])
		}
		if evs[0].Duration < 200*time.Millisecond || evs[0].Duration > 260*time.Millisecond {
			t.Fatalf("%g Hz: reported after %v, want soon after 200 ms", f, evs[0].Duration)
		}
	}
	if evs := detectTones(ToneConfig{}, 8000, toneSignal(8000, toneAmp, noiseRMS, seg{[]float64{1000}, 120}, seg{nil, 300})); len(evs) != 0 {
		t.Fatalf("120 ms blip reported: %+v", evs)
	}
}

func TestRingback(t *testing.T) {
	cn := toneSignal(8000, toneAmp, noiseRMS, seg{nil, 500}, seg{[]float64{450}, 1000}, seg{nil, 4000}, seg{[]float64{450}, 1000}, seg{nil, 500})
	na := toneSignal(8000, toneAmp, noiseRMS, seg{nil, 500}, seg{[]float64{440, 480}, 2000}, seg{nil, 4000})
	if evs := detectTones(ToneConfig{}, 8000, cn); len(evs) != 1 || evs[0].Kind != ToneRingbackCN {
		t.Fatalf("Chinese ringback: %+v", evs)
	} else if evs[0].At < 480*time.Millisecond || evs[0].At > 540*time.Millisecond {
		t.Fatalf("Chinese ringback at %v", evs[0].At)
	}
	if evs := detectTones(ToneConfig{}, 16000, toneSignal(16000, toneAmp, noiseRMS, seg{[]float64{440, 480}, 2000}, seg{nil, 1000})); len(evs) != 1 || evs[0].Kind != ToneRingbackNA {
		t.Fatalf("North American ringback at 16 kHz: %+v", evs)
	}
	if evs := detectTones(ToneConfig{}, 8000, na); len(evs) != 1 || evs[0].Kind != ToneRingbackNA {
		t.Fatalf("North American ringback: %+v", evs)
	}
	// A continuous 450 Hz tone (dial tone in China) is not ringback.
	if evs := detectTones(ToneConfig{}, 8000, toneSignal(8000, toneAmp, noiseRMS, seg{[]float64{450}, 5000}, seg{nil, 200})); len(evs) != 0 {
		t.Fatalf("continuous 450 Hz: %+v", evs)
	}
}

func TestToneDetectorAllocFree(t *testing.T) {
	s := toneSignal(8000, toneAmp, noiseRMS, seg{[]float64{697, 1209}, 1000})
	d := NewToneDetector(ToneConfig{})
	dst := make([]ToneEvent, 0, 4)
	i := 0
	d.Process(dst, Frame{Rate: 8000, Samples: s[:160]})
	if n := testing.AllocsPerRun(200, func() {
		dst = d.Process(dst[:0], Frame{Rate: 8000, Samples: s[i : i+160]})
		i = (i + 160) % (len(s) - 160)
	}); n != 0 {
		t.Fatalf("%v allocs per frame", n)
	}
}

func BenchmarkToneDetector(b *testing.B) {
	s := toneSignal(8000, toneAmp, noiseRMS, seg{[]float64{697, 1209}, 1000})
	d := NewToneDetector(ToneConfig{})
	dst := make([]ToneEvent, 0, 4)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	i := 0
	c0 := threadCPU()
	for b.Loop() {
		dst = d.Process(dst[:0], Frame{Rate: 8000, Samples: s[i : i+160]})
		i = (i + 160) % (len(s) - 160)
	}
	b.ReportMetric(float64(threadCPU()-c0)/float64(b.N), "cpu-ns/op")
}
