package audio

import (
	"math"
	"testing"
	"time"
)

func TestSpeechGateTiming(t *testing.T) {
	g := NewSpeechGate(GateConfig{})
	const n, rate = 160, 8000 // 20 ms
	probs := []float64{0, 0, 0.4, 0.6, 0.7, 0.9, 0.9, 0.2, 0.1, 0.9}
	var evs []VADEvent
	for _, p := range probs {
		if ev, ok := g.Step(p, n, rate); ok {
			evs = append(evs, ev)
		}
	}
	// The run at Release (0.35) begins at frame 2; loud frames 3, 4, 5 reach 60 ms at the end of frame 5.
	if len(evs) != 1 || evs[0].Kind != SpeechStart || evs[0].At != 40*time.Millisecond || evs[0].Detected != 120*time.Millisecond {
		t.Fatalf("events %+v, want one start at 40ms detected at 120ms", evs)
	}
	if !g.Speaking() || !g.Loud() || g.Probability() != 0.9 {
		t.Fatalf("speaking %v loud %v p %v after a loud frame in speech", g.Speaking(), g.Loud(), g.Probability())
	}
	var end VADEvent
	for i := 0; i < 20; i++ {
		if ev, ok := g.Step(0, n, rate); ok {
			end = ev
			break
		}
	}
	// The last voiced frame (9) ends at 200 ms; 300 ms of quiet after it is detected at 500 ms.
	if end.Kind != SpeechEnd || end.At != 200*time.Millisecond || end.Detected != 500*time.Millisecond {
		t.Fatalf("end %+v, want at 200ms detected at 500ms", end)
	}
	if g.Speaking() || g.Voiced() {
		t.Fatal("still speaking after the end")
	}
}

func TestSpeechGateNoStartOnShortBlips(t *testing.T) {
	g := NewSpeechGate(GateConfig{Threshold: 0.8, Release: 0.5})
	for i := range 200 {
		p := 0.0
		if i%4 == 0 {
			p = 1 // 20 ms blips, never 60 ms in one run
		}
		if ev, ok := g.Step(p, 160, 8000); ok {
			t.Fatalf("frame %d: %v from isolated blips", i, ev.Kind)
		}
	}
	if c := g.Config(); c.Threshold != 0.8 || c.Release != 0.5 || c.MinSpeech != 60*time.Millisecond {
		t.Fatalf("config %+v", c)
	}
}

func TestEnergyProbability(t *testing.T) {
	v := NewVAD(VADConfig{})
	noise := make([]int16, 160)
	for i := range noise {
		noise[i] = int16((i*7919)%61 - 30) // quiet hiss, -60 dBFS or so
	}
	loud := make([]int16, 160)
	tone(loud, 500, 8000, 8000)
	for range 20 {
		v.Process(Frame{Rate: 8000, Samples: noise})
	}
	if p := v.Probability(); p >= 0.5 || v.Voiced() {
		t.Fatalf("noise: p %.2f voiced %v", p, v.Voiced())
	}
	v.Process(Frame{Rate: 8000, Samples: loud})
	if p := v.Probability(); p < 0.9 || !v.Voiced() || !v.Loud() {
		t.Fatalf("tone 40 dB over the noise: p %.2f voiced %v loud %v", p, v.Voiced(), v.Loud())
	}
}

func tone(dst []int16, hz, amp float64, rate int) {
	for i := range dst {
		dst[i] = int16(amp * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)))
	}
}
