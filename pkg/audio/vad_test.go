package audio

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// synthSpeech returns noise with bursts of a 300 Hz harmonic tone (speech-like energy in the VAD band) at the
// given frame ranges.
func synthSpeech(rate int, frames int, bursts [][2]int, snr float64) []int16 {
	rng := rand.New(rand.NewPCG(7, 8))
	fs := rate / 50
	out := make([]int16, frames*fs)
	noiseAmp := 300.0
	toneAmp := noiseAmp * math.Pow(10, snr/20)
	for i := range out {
		v := noiseAmp * rng.NormFloat64()
		fr := i / fs
		for _, b := range bursts {
			if fr >= b[0] && fr < b[1] {
				ph := 2 * math.Pi * 300 * float64(i) / float64(rate)
				v += toneAmp * (math.Sin(ph) + 0.5*math.Sin(2*ph)) / 1.12
			}
		}
		out[i] = int16(math.Max(-32768, math.Min(32767, v)))
	}
	return out
}

func TestVADEventsFrameAccurate(t *testing.T) {
	for _, rate := range []int{8000, 16000} {
		s := synthSpeech(rate, 300, [][2]int{{50, 100}, {180, 230}}, 20)
		v := NewVAD(VADConfig{})
		fs := rate / 50
		var evs []VADEvent
		for i := 0; i+fs <= len(s); i += fs {
			if ev, ok := v.Process(Frame{Rate: rate, Samples: s[i : i+fs]}); ok {
				evs = append(evs, ev)
			}
		}
		want := []VADEvent{
			{Kind: SpeechStart, At: 1000 * time.Millisecond, Detected: 1060 * time.Millisecond},
			{Kind: SpeechEnd, At: 2000 * time.Millisecond, Detected: 2300 * time.Millisecond},
			{Kind: SpeechStart, At: 3600 * time.Millisecond, Detected: 3660 * time.Millisecond},
			{Kind: SpeechEnd, At: 4600 * time.Millisecond, Detected: 4900 * time.Millisecond},
		}
		if len(evs) != len(want) {
			t.Fatalf("%d Hz: events %+v", rate, evs)
		}
		for i := range want {
			if evs[i].Kind == SpeechEnd && evs[i].At-want[i].At == FrameDuration {
				// The band filter's tail can carry a burst's end into the next frame at 16 kHz.
				want[i].At += FrameDuration
				want[i].Detected += FrameDuration
			}
			if evs[i] != want[i] {
				t.Errorf("%d Hz: event %d = %+v, want %+v", rate, i, evs[i], want[i])
			}
		}
		if v.Speaking() {
			t.Error("still speaking at the end")
		}
		if nf := v.NoiseFloor(); nf > -40 || nf < -60 { // noise is -40.8 dBFS full band, about -47 in the VAD band
			t.Errorf("noise floor %.1f dBFS", nf)
		}
	}
}

func TestVADShortBurstIgnored(t *testing.T) {
	// Bursts shorter than MinSpeech (60 ms) must not start speech: a loud 20 ms click (whose filter tail
	// reaches into the next frame) and a moderate 40 ms one.
	for _, c := range []struct {
		frames int
		snr    float64
	}{{1, 25}, {2, 12}} {
		s := synthSpeech(8000, 100, [][2]int{{50, 50 + c.frames}}, c.snr)
		v := NewVAD(VADConfig{})
		for i := 0; i+160 <= len(s); i += 160 {
			if ev, ok := v.Process(Frame{Rate: 8000, Samples: s[i : i+160]}); ok {
				t.Fatalf("%d-frame burst at %g dB produced %+v", c.frames, c.snr, ev)
			}
		}
	}
}

func TestVADSilenceAndBadInput(t *testing.T) {
	v := NewVAD(VADConfig{})
	zero := make([]int16, 160)
	for range 100 {
		if _, ok := v.Process(Frame{Rate: 8000, Samples: zero}); ok {
			t.Fatal("digital silence produced an event")
		}
	}
	if _, ok := v.Process(Frame{Rate: 0, Samples: zero}); ok {
		t.Fatal("rate 0 produced an event")
	}
	if _, ok := v.Process(Frame{Rate: 8000}); ok {
		t.Fatal("empty frame produced an event")
	}
	if v.Position() != 2*time.Second {
		t.Fatalf("position %v", v.Position())
	}
}

func TestVADAllocFree(t *testing.T) {
	s := synthSpeech(8000, 100, [][2]int{{20, 60}}, 20)
	v := NewVAD(VADConfig{})
	i := 0
	if n := testing.AllocsPerRun(500, func() {
		v.Process(Frame{Rate: 8000, Samples: s[i : i+160]})
		i = (i + 160) % len(s)
	}); n != 0 {
		t.Fatalf("Process allocates %v per frame", n)
	}
}

func BenchmarkVAD8k(b *testing.B) {
	s := synthSpeech(8000, 100, [][2]int{{20, 60}}, 20)
	v := NewVAD(VADConfig{})
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	i := 0
	c0 := threadCPU()
	for b.Loop() {
		v.Process(Frame{Rate: 8000, Samples: s[i : i+160]})
		i = (i + 160) % len(s)
	}
	b.ReportMetric(float64(threadCPU()-c0)/float64(b.N), "cpu-ns/op")
}
