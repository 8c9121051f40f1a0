//go:build webrtcvad

package webrtc

import (
	"errors"
	"testing"

	"github.com/outcall/outcall/internal/vadcorpus"
	"github.com/outcall/outcall/pkg/audio"
)

func TestWebRTCHumanSpeech(t *testing.T) {
	if err := vadcorpus.Available(); err != nil {
		t.Skipf("%v (make deps)", err)
	}
	human, err := vadcorpus.Human()
	if err != nil {
		t.Fatal(err)
	}
	st := vadcorpus.Build(human)
	d, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sc := st.Run(d, st.Mix(nil, 0))
	t.Logf("clean: frame acc %.1f%%, state acc %.1f%%, onset median %v, missed %d, false starts %.1f/min",
		100*sc.FrameAcc, 100*sc.StateAcc, sc.OnsetMedian, sc.Missed, sc.FalsePerMin)
	if sc.Missed > 0 || sc.FrameAcc < 0.8 || sc.StateAcc < 0.75 {
		t.Fatalf("missed %d of %d, frame accuracy %.2f, state accuracy %.2f", sc.Missed, len(st.Utterances), sc.FrameAcc, sc.StateAcc)
	}
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
}

func TestWebRTCFrameLengths(t *testing.T) {
	// 10 ms frames are buffered into 20 ms chunks: decisions every other frame, the same events as 20 ms frames.
	s, err := vadcorpus.ReadRecording("numbers.raw")
	if err != nil {
		t.Skipf("%v (make deps)", err)
	}
	s = append(append(make([]int16, 8000), s...), make([]int16, 8000)...)
	events := func(n int) []audio.VADEvent {
		d, err := New(Config{Aggressiveness: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		var evs []audio.VADEvent
		for i := 0; i+n <= len(s); i += n {
			if ev, ok := d.Process(audio.Frame{Rate: 8000, Samples: s[i : i+n]}); ok {
				evs = append(evs, ev)
			}
		}
		return evs
	}
	a, b := events(160), events(80)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("20 ms frames: %v; 10 ms frames: %v", a, b)
	}
	for i := range a {
		if a[i].Kind != b[i].Kind || a[i].At != b[i].At {
			t.Fatalf("event %d: %+v with 20 ms frames, %+v with 10 ms", i, a[i], b[i])
		}
	}
}

func TestWebRTCBadInput(t *testing.T) {
	if _, err := New(Config{Aggressiveness: 4}); !errors.Is(err, ErrMode) {
		t.Fatalf("aggressiveness 4: %v", err)
	}
	d, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, ok := d.Process(audio.Frame{Rate: 11025, Samples: make([]int16, 220)}); ok || !errors.Is(d.Err(), audio.ErrFormat) {
		t.Fatalf("11025 Hz: err %v", d.Err())
	}
	d.Reset()
	if d.Err() != nil {
		t.Fatalf("after Reset: %v", d.Err())
	}
	for range 50 {
		if _, ok := d.Process(audio.Frame{Rate: 16000, Samples: make([]int16, 320)}); ok {
			t.Fatal("an event from digital silence")
		}
	}
	if d.Probability() != 0 || d.Speaking() {
		t.Fatal("silence taken for speech")
	}
}

func BenchmarkWebRTC(b *testing.B) {
	s, err := vadcorpus.ReadRecording("numbers.raw")
	if err != nil {
		b.Skip(err)
	}
	d, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	n := len(s) / 160
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := i % n
		d.Process(audio.Frame{Rate: 8000, Samples: s[k*160 : (k+1)*160]})
	}
}
