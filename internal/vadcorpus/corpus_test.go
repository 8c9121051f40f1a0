package vadcorpus

import (
	"math"
	"testing"
)

func TestFill(t *testing.T) {
	lab := []bool{false, true, false, false, true, true, false, true, false}
	fill(lab, false, 3) // gaps of 1 and 2 frames inside speech close
	want := []bool{false, true, true, true, true, true, true, true, false}
	for i := range want {
		if lab[i] != want[i] {
			t.Fatalf("after fill: %v, want %v", lab, want)
		}
	}
	lab = []bool{false, true, false, false, false, true, true, true, false}
	fill(lab, true, 2) // a 1-frame blip goes, a 3-frame run stays
	if lab[1] || !lab[5] || !lab[7] {
		t.Fatalf("after fill: %v", lab)
	}
}

func TestMixSNR(t *testing.T) {
	st := &Stream{Clean: make([]int16, 8000), SpeechPower: 1e6}
	noise := Noise(White, 8000, nil, 1)
	for _, snr := range []float64{20, 0} {
		mix := st.Mix(noise, snr)
		var e float64
		for _, v := range mix {
			e += float64(v) * float64(v)
		}
		got := 10 * math.Log10(st.SpeechPower/(e/float64(len(mix))))
		if math.Abs(got-snr) > 0.5 {
			t.Fatalf("SNR %.2f dB, want %g", got, snr)
		}
	}
	for _, k := range []string{White, Street} {
		n := Noise(k, 16000, nil, 2)
		var e float64
		for _, v := range n {
			e += v * v
		}
		if p := e / float64(len(n)); math.Abs(p-1) > 1e-6 {
			t.Fatalf("%s noise power %v, want 1", k, p)
		}
	}
}
