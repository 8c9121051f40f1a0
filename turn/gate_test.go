package turn

import (
	"slices"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

func TestGate(t *testing.T) {
	g := newGate(60*time.Millisecond, 100*time.Millisecond)
	frame := func(i int) audio.Frame {
		f := audio.Frame{Rate: 8000, Samples: make([]int16, 160)}
		f.Samples[0] = int16(i)
		return f
	}
	var pos time.Duration
	var got []int16
	step := func(i int, voice bool) {
		pos += audio.FrameDuration
		for _, f := range g.feed(nil, frame(i), pos, voice) {
			got = append(got, f.Samples[0])
		}
	}
	for i := 1; i <= 10; i++ { // silence: nothing passes
		step(i, false)
	}
	if len(got) != 0 {
		t.Fatalf("closed gate passed %v", got)
	}
	step(11, true) // a voice: the 3 frames of pre-roll, then the frame
	want := []int16{8, 9, 10, 11}
	if !slices.Equal(got, want) {
		t.Fatalf("opening passed %v, want %v", got, want)
	}
	got = nil
	step(12, true)
	for i := 13; i <= 20; i++ { // 100 ms of tail after the last voice, then closed
		step(i, false)
	}
	if want := []int16{12, 13, 14, 15, 16, 17}; !slices.Equal(got, want) {
		t.Fatalf("tail passed %v, want %v", got, want)
	}
	got = nil
	step(21, true) // re-opens with the pre-roll since it closed
	if want := []int16{18, 19, 20, 21}; !slices.Equal(got, want) {
		t.Fatalf("re-opening passed %v, want %v", got, want)
	}
	if g.fed != 14*audio.FrameDuration {
		t.Fatalf("fed %v, want 14 frames", g.fed)
	}
}
