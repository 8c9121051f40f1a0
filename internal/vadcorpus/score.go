package vadcorpus

import (
	"sort"
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// Score is how a detector did on one mixed stream.
type Score struct {
	FrameAcc    float64       // share of frames where Probability ≥ 0.5 matches the label
	StateAcc    float64       // share of frames where Speaking matches the label (with the gate's hangover)
	OnsetMedian time.Duration // median time from an utterance's first speech frame to the end of the frame where Speaking turned true
	OnsetP90    time.Duration
	Missed      int     // utterances during which Speaking never turned true
	FalsePerMin float64 // SpeechStart events with no labelled speech from 100 ms before At to 100 ms after Detected, per minute of audio
	PerFrame    time.Duration
}

// Run feeds samples to d in 20 ms frames and scores it against st's labels.
func (st *Stream) Run(d audio.SpeechDetector, samples []int16) Score {
	d.Reset()
	nf := len(st.Labels)
	speaking := make([]bool, nf)
	var frameOK, stateOK, falses int
	var spent time.Duration
	for i := range nf {
		f := audio.Frame{Rate: Rate, Samples: samples[i*FrameLen : (i+1)*FrameLen]}
		t0 := time.Now()
		ev, ok := d.Process(f)
		spent += time.Since(t0)
		if (d.Probability() >= 0.5) == st.Labels[i] {
			frameOK++
		}
		speaking[i] = d.Speaking()
		if speaking[i] == st.Labels[i] {
			stateOK++
		}
		if ok && ev.Kind == audio.SpeechStart && !st.anySpeech(ev.At-100*time.Millisecond, ev.Detected+100*time.Millisecond) {
			falses++
		}
	}
	sc := Score{
		FrameAcc: float64(frameOK) / float64(nf), StateAcc: float64(stateOK) / float64(nf),
		FalsePerMin: float64(falses) / (float64(nf) / 50 / 60), PerFrame: spent / time.Duration(nf),
	}
	var delays []time.Duration
	for _, u := range st.Utterances {
		k := u[0]
		for k < u[1] && !speaking[k] {
			k++
		}
		if k == u[1] {
			sc.Missed++
			continue
		}
		delays = append(delays, time.Duration(k-u[0]+1)*20*time.Millisecond)
	}
	if len(delays) > 0 {
		sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
		sc.OnsetMedian = delays[len(delays)/2]
		sc.OnsetP90 = delays[min(len(delays)-1, len(delays)*9/10)]
	}
	return sc
}

func (st *Stream) anySpeech(from, to time.Duration) bool {
	a, b := int(max(from, 0)/(20*time.Millisecond)), int(to/(20*time.Millisecond))+1
	for i := a; i < min(b, len(st.Labels)); i++ {
		if st.Labels[i] {
			return true
		}
	}
	return false
}
