package flite

import (
	"context"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/sphinx"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
)

func newSynth(t testing.TB) *Synthesizer {
	t.Helper()
	s, err := New(Config{})
	if err != nil {
		t.Fatalf("flite is a test dependency of this package (apt-get install flite; make deps): %v", err)
	}
	return s
}

func render(t testing.TB, s *Synthesizer, r tts.Request) ([]int16, audio.Source) {
	t.Helper()
	src, err := s.Synthesize(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	var pcm []int16
	for {
		f, err := src.Read(context.Background())
		if err == io.EOF {
			return pcm, src
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.Rate != src.Format().Rate {
			t.Fatalf("frame at %d Hz from a %d Hz source", f.Rate, src.Format().Rate)
		}
		pcm = append(pcm, f.Samples...)
	}
}

func rmsDBFS(pcm []int16) float64 {
	var e float64
	for _, v := range pcm {
		e += float64(v) * float64(v)
	}
	return 20 * math.Log10(math.Sqrt(e/float64(max(len(pcm), 1)))/32768+1e-12)
}

func TestSpeech(t *testing.T) {
	s := newSynth(t)
	text := "Hello, this is a reminder that your payment is due on Friday."
	pcm, src := render(t, s, tts.Request{Text: text, Language: "en"})
	d := audio.Format{Rate: 8000}.Duration(len(pcm))
	if src.Format().Rate != 8000 || d < 2*time.Second || d > 6*time.Second {
		t.Fatalf("kal at %d Hz, %v of audio for %d words", src.Format().Rate, d, len(strings.Fields(text)))
	}
	if sz, ok := src.(tts.Sized); !ok || sz.Duration() != d {
		t.Fatalf("the source does not know its duration (%T)", src)
	}
	if l := rmsDBFS(pcm); l < -35 || l > -6 {
		t.Fatalf("level %.1f dBFS", l)
	}
	fast, _ := render(t, s, tts.Request{Text: text, Language: "en", Speed: 1.5})
	if len(fast) > len(pcm)*8/10 {
		t.Fatalf("speed 1.5: %d samples, speed 1: %d", len(fast), len(pcm))
	}
	wide, src16 := render(t, s, tts.Request{Text: text, Language: "en-US", Rate: 16000})
	if src16.Format().Rate != 16000 || math.Abs(float64(len(wide))-2*float64(len(pcm))) > 400 {
		t.Fatalf("16 kHz: %d samples at %d Hz, %d at 8 kHz", len(wide), src16.Format().Rate, len(pcm))
	}
}

func TestErrors(t *testing.T) {
	s := newSynth(t)
	for _, lang := range []string{"", "zh"} {
		if _, err := s.Synthesize(context.Background(), tts.Request{Text: "您好", Language: lang}); !errors.Is(err, ErrLanguage) {
			t.Fatalf("language %q: %v", lang, err)
		}
	}
	if _, err := s.Synthesize(context.Background(), tts.Request{Text: "hello", Language: "en", Rate: 11025}); !errors.Is(err, ErrFormat) {
		t.Fatalf("11025 Hz: %v", err)
	}
	if _, err := s.Synthesize(context.Background(), tts.Request{Text: "hello", Language: "en", Voice: "http://127.0.0.1:1/x.flitevox"}); !errors.Is(err, ErrVoice) {
		t.Fatalf("unknown voice: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Synthesize(ctx, tts.Request{Text: "hello", Language: "en"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if _, err := New(Config{Binary: "no-such-flite"}); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("missing binary: %v", err)
	}
	if _, err := New(Config{Voice: "nosuchvoice"}); !errors.Is(err, ErrVoice) {
		t.Fatalf("unknown voice: %v", err)
	}
	// Text that looks like an option is spoken, not parsed.
	if pcm, _ := render(t, s, tts.Request{Text: "-o /dev/null minus sign", Language: "en"}); len(pcm) < 4000 {
		t.Fatalf("option-like text: %d samples", len(pcm))
	}
}

// TestRoundTrip speaks phrases with flite at 8 kHz, through G.711 µ-law, to pocketsphinx with a grammar of the
// phrases: what flite says must be what a recogniser hears.
func TestRoundTrip(t *testing.T) {
	s := newSynth(t)
	rec, err := sphinx.New(sphinx.Config{})
	if err != nil {
		t.Fatalf("pocketsphinx and its en-us model are test dependencies (make deps): %v", err)
	}
	defer rec.Close()
	phrases := []string{"I already paid", "wrong number", "I will pay tomorrow", "cancel my order",
		"can you repeat that", "what is the interest rate", "send me an email", "thank you goodbye"}
	ok := 0
	for _, p := range phrases {
		pcm, _ := render(t, s, tts.Request{Text: p, Language: "en"})
		st, err := rec.Start(context.Background(), asr.Config{Language: "en", SampleRate: 8000, Phrases: phrases,
			Endpointing: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		pcm = append(append(make([]int16, 4000), pcm...), make([]int16, 8000)...)
		var u []byte
		for i := 0; i+160 <= len(pcm); i += 160 {
			u = audio.EncodeULaw(u, pcm[i:i+160])
			if err := st.Write(audio.Frame{Rate: 8000, Samples: audio.DecodeULaw(nil, u)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		var heard []string
		for r := range st.Results() {
			if r.Final && r.Text != "" {
				heard = append(heard, r.Text)
			}
		}
		if got := strings.Join(heard, " "); strings.EqualFold(got, p) {
			ok++
		} else {
			t.Logf("said %q, heard %q", p, got)
		}
	}
	t.Logf("%d of %d flite phrases recognised", ok, len(phrases))
	if ok < len(phrases)-1 {
		t.Fatalf("%d of %d phrases recognised, want at least %d", ok, len(phrases), len(phrases)-1)
	}
}
