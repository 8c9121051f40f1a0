package audio_test

import (
	"testing"

	"github.com/outcall/outcall/internal/vadcorpus"
	"github.com/outcall/outcall/pkg/audio"
)

// TestVADHumanSpeech runs the energy detector on real human speech (pocketsphinx-testdata's LibriVox and
// command recordings, 8 kHz, G.711 µ-law) separated by digital silence, clean and in 10 dB babble: every utterance
// must be found, and the speech state must match the labels on most frames (in babble: better than always saying
// speech). The full comparison with WebRTC and
// Silero is pkg/audio/vad/bench.
func TestVADHumanSpeech(t *testing.T) {
	if err := vadcorpus.Available(); err != nil {
		t.Skipf("%v (make deps)", err)
	}
	human, err := vadcorpus.Human()
	if err != nil {
		t.Fatal(err)
	}
	st := vadcorpus.Build(human)
	talkers, err := vadcorpus.Talkers(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	speech := 0
	for _, l := range st.Labels {
		if l {
			speech++
		}
	}
	always := float64(speech) / float64(len(st.Labels)) // the accuracy of a detector that always says speech
	for _, c := range []struct {
		name        string
		noise       []float64
		minState    float64
		maxFalsePer float64
	}{
		{"clean", nil, 0.85, 3},
		{"babble 10 dB", vadcorpus.Noise(vadcorpus.Babble, len(st.Clean), talkers, 1), always + 0.01, 8},
	} {
		sc := st.Run(audio.NewVAD(audio.VADConfig{}), st.Mix(c.noise, 10))
		t.Logf("%s: frame acc %.1f%%, state acc %.1f%%, onset median %v, missed %d, false starts %.1f/min",
			c.name, 100*sc.FrameAcc, 100*sc.StateAcc, sc.OnsetMedian, sc.Missed, sc.FalsePerMin)
		if sc.Missed > 0 || sc.StateAcc < c.minState || sc.FalsePerMin > c.maxFalsePer {
			t.Errorf("%s: missed %d of %d utterances, state accuracy %.2f (want ≥ %.2f), %.1f false starts/min (want ≤ %g)",
				c.name, sc.Missed, len(st.Utterances), sc.StateAcc, c.minState, sc.FalsePerMin, c.maxFalsePer)
		}
	}
}
