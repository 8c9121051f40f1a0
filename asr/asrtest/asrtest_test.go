package asrtest

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/ttstest"
)

// telephone takes 16 kHz audio through the call path: 16→8 kHz, G.711 µ-law, noise of the given RMS, 8→16 kHz,
// processed in 20 ms frames as a live call would.
func telephone(t testing.TB, x []int16, noise float64, seed uint64) []int16 {
	t.Helper()
	down, err := audio.NewResampler(16000, 8000)
	if err != nil {
		t.Fatal(err)
	}
	up, err := audio.NewResampler(8000, 16000)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	var out, n8 []int16
	var u []byte
	for i := 0; i+320 <= len(x); i += 320 {
		n8 = down.Process(n8, x[i:i+320])
		u = audio.EncodeULaw(u, n8)
		n8 = audio.DecodeULaw(n8, u)
		for j := range n8 {
			n8[j] = int16(max(-32768, min(32767, float64(n8[j])+rng.NormFloat64()*noise)))
		}
		out = append(out, up.Process(nil, n8)...)
	}
	return out
}

func render(t testing.TB, text string, rate int) []int16 {
	t.Helper()
	src, err := (&ttstest.Synthesizer{}).Synthesize(context.Background(), tts.Request{Text: text, Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	var pcm []int16
	for {
		f, err := src.Read(context.Background())
		if err != nil {
			break
		}
		if len(f.Samples) != rate/50 {
			t.Fatalf("frame of %d samples, want %d", len(f.Samples), rate/50)
		}
		pcm = append(pcm, f.Samples...)
	}
	return pcm
}

// feed writes pcm in frames of n samples (not necessarily 20 ms, to misalign utterances and frames).
func feed(t testing.TB, s asr.Stream, pcm []int16, rate, n int) {
	t.Helper()
	for i := 0; i < len(pcm); i += n {
		f := audio.Frame{Rate: rate, Samples: append([]int16(nil), pcm[i:min(i+n, len(pcm))]...)}
		if err := s.Write(f); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
}

func collect(t testing.TB, s asr.Stream) []asr.Result {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var res []asr.Result
	timeout := time.After(10 * time.Second)
	for {
		select {
		case r, ok := <-s.Results():
			if !ok {
				return res
			}
			res = append(res, r)
		case <-timeout:
			t.Fatal("Results not closed after Close")
		}
	}
}

func finals(res []asr.Result) []asr.Result {
	var out []asr.Result
	for _, r := range res {
		if r.Final {
			out = append(out, r)
		}
	}
	return out
}

func TestRecognizerTelephonePath(t *testing.T) {
	before := runtime.NumGoroutine()
	utterances := []string{
		"您好，请问是张先生吗？",
		"yes, this is he",
		"我这个月的账单是多少钱？",
		"Please call me back tomorrow at 3 pm.",
	}
	cases := []struct {
		name  string
		rate  int // stream rate
		noise float64
		frame int // samples per Write
		tel   bool
	}{
		{"16k clean", 16000, 0, 320, false},
		{"8k clean odd frames", 8000, 0, 97, false},
		{"16k telephone", 16000, 150, 320, true},
		{"16k telephone odd frames", 16000, 300, 333, true},
		{"16k telephone noisy", 16000, 400, 320, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var pcm []int16
			var starts []time.Duration
			gap := 7 * tc.rate / 10 // 700 ms of silence between turns (more than the 300 ms hangover)
			for i, text := range utterances {
				pcm = append(pcm, make([]int16, gap+i*13)...) // +13 samples: misalign with frames
				starts = append(starts, time.Duration(len(pcm))*time.Second/time.Duration(tc.rate))
				pcm = append(pcm, render(t, text, tc.rate)...)
			}
			pcm = append(pcm, make([]int16, gap)...)
			if tc.tel {
				pcm = telephone(t, pcm, tc.noise, 1)
			}
			rec := &Recognizer{}
			s, err := rec.Start(context.Background(), asr.Config{SampleRate: tc.rate})
			if err != nil {
				t.Fatal(err)
			}
			feed(t, s, pcm, tc.rate, tc.frame)
			res := collect(t, s)
			fin := finals(res)
			if len(fin) != len(utterances) {
				t.Fatalf("%d finals, want %d: %+v", len(fin), len(utterances), res)
			}
			partialSeen := false
			fi := 0
			for _, r := range res {
				if !r.Final {
					partialSeen = true
					continue
				}
				if !partialSeen {
					t.Errorf("final %q without a partial before it", r.Text)
				}
				partialSeen = false
				want := utterances[fi]
				if r.Text != want || r.Err != nil {
					t.Errorf("final %d = %q (err %v), want %q", fi, r.Text, r.Err, want)
				}
				if d := r.Start - starts[fi]; d < -10*time.Millisecond || d > 10*time.Millisecond {
					t.Errorf("final %d Start = %v, want %v ±10 ms", fi, r.Start, starts[fi])
				}
				if r.End <= r.Start || r.Confidence < 0.5 {
					t.Errorf("final %d: End %v Start %v Confidence %.2f", fi, r.End, r.Start, r.Confidence)
				}
				fi++
			}
		})
	}
	waitGoroutines(t, before)
}

func TestRecognizerPartialsArePrefixes(t *testing.T) {
	text := "I would like to know the balance of my account, please."
	rec := &Recognizer{}
	s, _ := rec.Start(context.Background(), asr.Config{SampleRate: 8000})
	pcm := append(render(t, text, 8000), make([]int16, 4000)...)
	feed(t, s, pcm, 8000, 160)
	res := collect(t, s)
	if len(res) < 4 {
		t.Fatalf("%d results, want several partials and a final: %+v", len(res), res)
	}
	for i, r := range res[:len(res)-1] {
		if r.Final || len(r.Text) >= len(text) || text[:len(r.Text)] != r.Text {
			t.Errorf("result %d = %+v, want a partial prefix", i, r)
		}
		if i > 0 && len(r.Text) <= len(res[i-1].Text) {
			t.Errorf("partial %d %q does not grow", i, r.Text)
		}
	}
	if last := res[len(res)-1]; !last.Final || last.Text != text || last.Language != "en" {
		t.Errorf("last = %+v", last)
	}
}

func TestRecognizerNonModemAudio(t *testing.T) {
	rec := &Recognizer{}
	s, _ := rec.Start(context.Background(), asr.Config{SampleRate: 8000})
	pcm := append(make([]int16, 800), tone(440, 8000, 8000, 8000)...) // 1 s of 440 Hz
	pcm = append(pcm, make([]int16, 4000)...)
	feed(t, s, pcm, 8000, 160)
	res := collect(t, s)
	fin := finals(res)
	if len(fin) != 1 || fin[0].Text != "" || fin[0].Confidence != 0 {
		t.Fatalf("results %+v, want one empty final", res)
	}
	if fin[0].Start < 40*time.Millisecond || fin[0].Start > 110*time.Millisecond ||
		fin[0].End < 1050*time.Millisecond || fin[0].End > 1150*time.Millisecond {
		t.Errorf("Start %v End %v, want about 100 ms and 1.1 s", fin[0].Start, fin[0].End)
	}
}

func TestRecognizerTruncated(t *testing.T) {
	rec := &Recognizer{}
	s, _ := rec.Start(context.Background(), asr.Config{SampleRate: 16000})
	pcm := render(t, "this sentence is cut off by a hang-up", 16000)
	feed(t, s, pcm[:len(pcm)/2], 16000, 320)
	res := collect(t, s) // Close mid-utterance
	fin := finals(res)
	if len(fin) != 1 || fin[0].Text != "" {
		t.Fatalf("results %+v, want a final with empty text", res)
	}
}

func TestScripted(t *testing.T) {
	sc := NewScripted("我想查账单", "好的")
	sc.Push("再见")
	s, err := sc.Start(context.Background(), asr.Config{SampleRate: 8000, Endpointing: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var pcm []int16
	for i := range 3 {
		pcm = append(pcm, make([]int16, 2400)...)
		pcm = append(pcm, noise(uint64(i), 3000, 8000*(i+1)/2)...) // 0.5, 1, 1.5 s of noise
	}
	pcm = append(pcm, make([]int16, 2400)...)
	feed(t, s, pcm, 8000, 160)
	res := collect(t, s)
	fin := finals(res)
	want := []string{"我想查账单", "好的", "再见"}
	if len(fin) != len(want) {
		t.Fatalf("finals %+v, want %d", res, len(want))
	}
	for i, r := range fin {
		if r.Text != want[i] || r.Language != "zh" {
			t.Errorf("final %d = %+v, want %q", i, r, want[i])
		}
		dur := r.End - r.Start
		if wantDur := time.Duration(i+1) * 500 * time.Millisecond; dur < wantDur-30*time.Millisecond || dur > wantDur+80*time.Millisecond {
			t.Errorf("final %d spans %v, want about %v", i, dur, wantDur)
		}
	}
	if len(res) != 6 || res[0].Final || res[0].Text != "我想" {
		t.Errorf("want partial, final per utterance; got %+v", res)
	}
	if sc.Remaining() != 0 {
		t.Errorf("Remaining = %d", sc.Remaining())
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	pcm := append(render(t, "a sentence long enough for a partial result", 8000), make([]int16, 4000)...)

	t.Run("StartErr", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := (&Recognizer{Faults: Faults{StartErr: boom}}).Start(ctx, asr.Config{})
		if !errors.Is(err, boom) {
			t.Fatalf("Start = %v, want boom", err)
		}
	})
	t.Run("FailUtterance", func(t *testing.T) {
		s, _ := (&Recognizer{Faults: Faults{FailUtterance: 1}}).Start(ctx, asr.Config{SampleRate: 8000})
		var werr error
		for i := 0; i < len(pcm) && werr == nil; i += 160 {
			werr = s.Write(audio.Frame{Rate: 8000, Samples: pcm[i : i+160]})
		}
		if !errors.Is(werr, ErrInjected) {
			t.Fatalf("Write after failure = %v, want ErrInjected", werr)
		}
		res := collect(t, s)
		if len(res) != 2 || res[0].Final || !res[1].Final || !errors.Is(res[1].Err, ErrInjected) {
			t.Fatalf("results %+v, want partial then failed final", res)
		}
	})
	t.Run("FailAfter", func(t *testing.T) {
		s, _ := (&Scripted{Faults: Faults{FailAfter: 300 * time.Millisecond}}).Start(ctx, asr.Config{SampleRate: 8000})
		var n int
		var werr error
		for ; werr == nil && n < 100; n++ {
			werr = s.Write(audio.Frame{Rate: 8000, Samples: make([]int16, 160)})
		}
		if n != 16 || !errors.Is(werr, ErrInjected) {
			t.Fatalf("failed at write %d with %v, want write 16 with ErrInjected", n, werr)
		}
		res := collect(t, s)
		if len(res) != 1 || !errors.Is(res[0].Err, ErrInjected) {
			t.Fatalf("results %+v", res)
		}
	})
	t.Run("Delay", func(t *testing.T) {
		s, _ := (&Recognizer{Faults: Faults{Delay: 50 * time.Millisecond}}).Start(ctx, asr.Config{SampleRate: 8000})
		start := time.Now() // the first result's delay may begin while the audio is still being fed
		feed(t, s, pcm, 8000, 160)
		res := collect(t, s)
		if el := time.Since(start); el < time.Duration(len(res))*50*time.Millisecond {
			t.Errorf("%d results in %v, want ≥ 50 ms each", len(res), el)
		}
		if fin := finals(res); len(fin) != 1 || fin[0].Text != "a sentence long enough for a partial result" {
			t.Errorf("results %+v", res)
		}
	})
	t.Run("WrongRate", func(t *testing.T) {
		s, _ := (&Recognizer{}).Start(ctx, asr.Config{SampleRate: 16000})
		if err := s.Write(audio.Frame{Rate: 8000, Samples: make([]int16, 160)}); !errors.Is(err, ErrRate) {
			t.Errorf("Write 8 kHz to 16 kHz stream = %v, want ErrRate", err)
		}
		collect(t, s)
		if err := s.Write(audio.Frame{Rate: 16000, Samples: make([]int16, 320)}); !errors.Is(err, ErrClosed) {
			t.Errorf("Write after Close = %v, want ErrClosed", err)
		}
	})
	t.Run("BadRate", func(t *testing.T) {
		if _, err := (&Recognizer{}).Start(ctx, asr.Config{SampleRate: 4000}); err == nil {
			t.Error("Start at 4 kHz succeeded")
		}
	})
}

// TestCancelStopsDelivery: a caller that never reads Results and never closes must not leak the stream's
// goroutine once its context ends.
func TestCancelStopsDelivery(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	for range 20 {
		s, _ := (&Recognizer{}).Start(ctx, asr.Config{SampleRate: 8000})
		feed(t, s, append(render(t, "nobody reads this result", 8000), make([]int16, 4000)...), 8000, 160)
	}
	cancel()
	waitGoroutines(t, before)
}

func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	for range 200 {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Errorf("goroutines: %d before, %d after", before, runtime.NumGoroutine())
}

func tone(hz float64, amp float64, rate, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)))
	}
	return out
}

func noise(seed uint64, rms float64, n int) []int16 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(max(-32768, min(32767, rng.NormFloat64()*rms)))
	}
	return out
}

func BenchmarkRecognizerFrame(b *testing.B) {
	pcm := append(render(b, "您好，请问是张先生吗？我想了解一下。", 16000), make([]int16, 16000)...)
	rec := &Recognizer{}
	b.ReportAllocs()
	frames := 0
	for b.Loop() {
		s, _ := rec.Start(context.Background(), asr.Config{SampleRate: 16000})
		for i := 0; i+320 <= len(pcm); i += 320 {
			_ = s.Write(audio.Frame{Rate: 16000, Samples: pcm[i : i+320]})
			frames++
		}
		_ = s.Close()
		for range s.Results() {
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(frames), "ns/frame")
}

func BenchmarkSilenceFrame(b *testing.B) {
	s, _ := (&Recognizer{}).Start(context.Background(), asr.Config{SampleRate: 16000})
	defer s.Close()
	f := audio.Frame{Rate: 16000, Samples: make([]int16, 320)}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Write(f)
	}
}

// FuzzStream: any audio in any frame sizes is taken without panic, and Results closes after Close with at most one
// final per utterance begun.
func FuzzStream(f *testing.F) {
	pcm := render(f, "fuzz", 8000)
	f.Add(audio.AppendPCM16LE(nil, pcm), uint8(160))
	f.Add(audio.AppendPCM16LE(nil, noise(3, 5000, 2000)), uint8(7))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, n uint8) {
		s, err := (&Recognizer{}).Start(context.Background(), asr.Config{SampleRate: 8000, Endpointing: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		x := audio.PCM16LE(nil, b)
		step := int(n) + 1
		for i := 0; i < len(x); i += step {
			if err := s.Write(audio.Frame{Rate: 8000, Samples: x[i:min(i+step, len(x))]}); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range collect(t, s) {
			if r.End < r.Start || r.Err != nil {
				t.Fatalf("bad result %+v", r)
			}
		}
	})
}
