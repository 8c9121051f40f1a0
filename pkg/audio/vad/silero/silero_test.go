//go:build cgo

package silero

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/outcall/outcall/internal/vadcorpus"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/audio/vad"
)

var shared struct {
	once sync.Once
	m    *Model
	err  error
}

// model loads the network once for the package's tests. Missing files skip the test (make speech-models puts them
// there; make test-speech fetches them first); any other failure fails it.
func model(t testing.TB) *Model {
	shared.once.Do(func() { shared.m, shared.err = Load(Config{}) })
	if errors.Is(shared.err, ErrFiles) {
		t.Skipf("%v: run make speech-models (%s=%s)", shared.err, DirEnv, Dir())
	}
	if shared.err != nil {
		t.Fatalf("%v (%s=%s)", shared.err, DirEnv, Dir())
	}
	return shared.m
}

func TestSileroHumanSpeech(t *testing.T) {
	if err := vadcorpus.Available(); err != nil {
		t.Skipf("%v (make deps)", err)
	}
	human, err := vadcorpus.Human()
	if err != nil {
		t.Fatal(err)
	}
	st := vadcorpus.Build(human)
	d, err := model(t).NewDetector()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, c := range []struct {
		name  string
		noise []float64
		snr   float64
	}{
		{"clean", nil, 0},
		{"white 5 dB", vadcorpus.Noise(vadcorpus.White, len(st.Clean), nil, 1), 5},
	} {
		sc := st.Run(d, st.Mix(c.noise, c.snr))
		t.Logf("%s: frame acc %.1f%%, state acc %.1f%%, onset median %v, missed %d, false starts %.1f/min",
			c.name, 100*sc.FrameAcc, 100*sc.StateAcc, sc.OnsetMedian, sc.Missed, sc.FalsePerMin)
		if sc.Missed > 0 || sc.FrameAcc < 0.85 || sc.StateAcc < 0.8 {
			t.Errorf("%s: missed %d of %d, frame accuracy %.2f, state accuracy %.2f", c.name, sc.Missed, len(st.Utterances), sc.FrameAcc, sc.StateAcc)
		}
		if d.Err() != nil {
			t.Fatal(d.Err())
		}
	}
}

func TestSilero16k(t *testing.T) {
	// The recording at its own 16 kHz: the network's 512-sample windows find the same speech.
	d, err := model(t).NewDetector()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s, err := vadcorpus.ReadRecording("numbers.raw") // at 8 kHz
	if err != nil {
		t.Skipf("%v (make deps)", err)
	}
	r, err := audio.NewResampler(8000, 16000)
	if err != nil {
		t.Fatal(err)
	}
	s16 := append(make([]int16, 16000), r.Process(nil, s)...)
	s16 = append(s16, make([]int16, 16000)...)
	var starts, ends int
	maxP := 0.0
	for i := 0; i+320 <= len(s16); i += 320 {
		if ev, ok := d.Process(audio.Frame{Rate: 16000, Samples: s16[i : i+320]}); ok {
			if ev.Kind == audio.SpeechStart {
				starts++
			} else {
				ends++
			}
		}
		maxP = max(maxP, d.Probability())
	}
	if starts == 0 || starts != ends || maxP < 0.9 || d.Err() != nil {
		t.Fatalf("starts %d ends %d max probability %.2f err %v", starts, ends, maxP, d.Err())
	}
}

func TestSileroBadInput(t *testing.T) {
	if _, err := Load(Config{ModelPath: filepath.Join(t.TempDir(), "none.onnx")}); !errors.Is(err, ErrFiles) {
		t.Fatalf("missing model: %v", err)
	}
	if _, err := Load(Config{RuntimePath: "/nonexistent/libonnxruntime.so.1"}); !errors.Is(err, ErrRuntime) && !errors.Is(err, ErrFiles) {
		t.Fatalf("another runtime: %v", err)
	}
	d, err := model(t).NewDetector()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, ok := d.Process(audio.Frame{Rate: 48000, Samples: make([]int16, 960)}); ok || !errors.Is(d.Err(), audio.ErrFormat) {
		t.Fatalf("48 kHz: err %v", d.Err())
	}
	for range 50 {
		if _, ok := d.Process(audio.Frame{Rate: 8000, Samples: make([]int16, 160)}); ok {
			t.Fatal("an event from digital silence")
		}
	}
	if d.Probability() >= 0.5 || d.Err() != nil {
		t.Fatalf("silence: p %.2f err %v", d.Probability(), d.Err())
	}
}

func TestSileroConcurrent(t *testing.T) {
	// Detectors on one model, one per goroutine (one per call), give the results one detector gives alone.
	s, err := vadcorpus.ReadRecording("numbers.raw")
	if err != nil {
		t.Skipf("%v (make deps)", err)
	}
	run := func() []float64 {
		d, err := model(t).NewDetector()
		if err != nil {
			t.Error(err)
			return nil
		}
		defer d.Close()
		var ps []float64
		for i := 0; i+160 <= len(s); i += 160 {
			d.Process(audio.Frame{Rate: 8000, Samples: s[i : i+160]})
			ps = append(ps, d.Probability())
		}
		return ps
	}
	want := run()
	var wg sync.WaitGroup
	got := make([][]float64, 4)
	for i := range got {
		wg.Go(func() { got[i] = run() })
	}
	wg.Wait()
	for i, g := range got {
		for k := range want {
			if len(g) != len(want) || g[k] != want[k] {
				t.Fatalf("detector %d differs at frame %d", i, k)
			}
		}
	}
}

func BenchmarkSilero(b *testing.B) {
	s, err := vadcorpus.ReadRecording("numbers.raw")
	if err != nil {
		b.Skip(err)
	}
	d, err := model(b).NewDetector()
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	n := len(s) / 160
	for i := 0; b.Loop(); i++ {
		k := i % n
		d.Process(audio.Frame{Rate: 8000, Samples: s[k*160 : (k+1)*160]})
	}
}

func TestSileroRegistered(t *testing.T) {
	// Importing the package is what makes VAD=silero work in a program (the examples): vad.Open finds it and
	// loads the same files.
	model(t)
	f, err := vad.Open(vad.Silero, vad.Config{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := f()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(*Detector); !ok {
		t.Fatalf("vad.Open(silero) made a %T", d)
	}
	d.(*Detector).Close()
}
