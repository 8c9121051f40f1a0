package ttstest

import (
	"context"
	"errors"
	"io"
	"math"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/ttstest/modem"
)

func readAll(t *testing.T, ctx context.Context, s *Synthesizer, r tts.Request) ([]int16, error) {
	t.Helper()
	src, err := s.Synthesize(ctx, r)
	if err != nil {
		return nil, err
	}
	var pcm []int16
	for {
		f, err := src.Read(ctx)
		if err == io.EOF {
			return pcm, nil
		}
		if err != nil {
			return pcm, err
		}
		if f.Rate != src.Format().Rate || len(f.Samples) != f.Rate/50 {
			t.Fatalf("frame %d Hz × %d samples, source says %d Hz", f.Rate, len(f.Samples), src.Format().Rate)
		}
		pcm = append(pcm, f.Samples...)
	}
}

func TestSynthesizer(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		s    *Synthesizer
		r    tts.Request
		rate int
	}{
		{&Synthesizer{}, tts.Request{Text: "您好"}, 8000},
		{&Synthesizer{Rate: 24000}, tts.Request{Text: "hello"}, 24000},
		{&Synthesizer{Rate: 24000}, tts.Request{Text: "hello", Rate: 16000}, 16000},
	} {
		pcm, err := readAll(t, ctx, tc.s, tc.r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := modem.Decode(pcm, tc.rate)
		if err != nil || got != tc.r.Text {
			t.Errorf("%+v: decoded %q, %v", tc.r, got, err)
		}
		var e float64
		for _, v := range pcm {
			e += float64(v) * float64(v)
		}
		if db := 20 * math.Log10(math.Sqrt(e/float64(len(pcm)))/32768); db < -20 || db > -6 {
			t.Errorf("level %.1f dBFS, want speech-like -20..-6", db)
		}
		if tc.s.Calls() != 1 {
			t.Errorf("Calls = %d", tc.s.Calls())
		}
	}
}

func TestSynthesizerFaults(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	if _, err := (&Synthesizer{Err: boom}).Synthesize(ctx, tts.Request{Text: "x"}); !errors.Is(err, boom) {
		t.Errorf("Err: %v", err)
	}
	pcm, err := readAll(t, ctx, &Synthesizer{FailAfter: 3}, tts.Request{Text: "a longer sentence"})
	if !errors.Is(err, ErrInjected) || len(pcm) != 3*160 {
		t.Errorf("FailAfter 3: %d samples, %v", len(pcm), err)
	}
	start := time.Now()
	if _, err := readAll(t, ctx, &Synthesizer{Delay: 30 * time.Millisecond}, tts.Request{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Error("Delay not applied")
	}
	cctx, cancel := context.WithCancel(ctx)
	src, _ := (&Synthesizer{Delay: time.Hour}).Synthesize(cctx, tts.Request{Text: "x"})
	cancel()
	if _, err := src.Read(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Read after cancel: %v", err)
	}
	if _, err := (&Synthesizer{}).Synthesize(ctx, tts.Request{Text: string(make([]byte, modem.MaxText+1))}); !errors.Is(err, modem.ErrTooLong) {
		t.Errorf("too long: %v", err)
	}
}

// TestVADHearsSpeech: the call path's voice activity detector (pkg/audio, whose energy measure is the 200-1200 Hz
// band) must take a rendering for one stretch of speech, zh and en, from its start to its end.
func TestVADHearsSpeech(t *testing.T) {
	for _, text := range []string{"Hello, how are you today?", "您好，请问是张先生吗？我想了解一下贷款。", "嗯"} {
		pcm, err := Render(text, 8000)
		if err != nil {
			t.Fatal(err)
		}
		x := append(make([]int16, 8000), pcm...)
		x = append(x, make([]int16, 8000)...)
		vad := audio.NewVAD(audio.VADConfig{})
		var events []audio.VADEvent
		for i := 0; i+160 <= len(x); i += 160 {
			if ev, ok := vad.Process(audio.Frame{Rate: 8000, Samples: x[i : i+160]}); ok {
				events = append(events, ev)
			}
		}
		dur := audio.Narrowband.Duration(len(pcm))
		if len(events) != 2 || events[0].Kind != audio.SpeechStart || events[1].Kind != audio.SpeechEnd {
			t.Fatalf("%q: VAD events %+v, want one start and one end", text, events)
		}
		if d := events[0].At - time.Second; d < -40*time.Millisecond || d > 40*time.Millisecond {
			t.Errorf("%q: speech start at %v, want 1 s", text, events[0].At)
		}
		if end := time.Second + dur; events[1].At < end-60*time.Millisecond || events[1].At > end+40*time.Millisecond {
			t.Errorf("%q: speech end at %v, want about %v", text, events[1].At, end)
		}
	}
}
