package sphinx

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/espeak"
)

// phrases a collections or sales call expects, with the keywords each must yield.
var phrases = []struct{ text, keywords string }{
	{"yes", "yes"},
	{"no", "no"},
	{"yes please", "yes please"},
	{"not interested", "not interested"},
	{"call me back later", "call back later"},
	{"I am busy right now", "busy"},
	{"who is this", "who"},
	{"how much does it cost", "how much cost"},
	{"remove me from your list", "remove list"},
	{"I want to speak to a person", "speak person"},
	{"what is my balance", "balance"},
	{"I already paid", "already paid"},
	{"send me an email", "email"},
	{"that is correct", "correct"},
	{"wrong number", "wrong number"},
	{"I need more time", "more time"},
	{"can you repeat that", "repeat"},
	{"thank you goodbye", "goodbye"},
	{"tell me more", "tell more"},
	{"what is the interest rate", "interest rate"},
	{"I will pay tomorrow", "pay tomorrow"},
	{"cancel my order", "cancel order"},
	{"I will pay on the 15th", "pay fifteenth"},
	{"maybe next week", "next week"},
}

func newRecognizer(t testing.TB) *Recognizer {
	t.Helper()
	r, err := New(Config{})
	if err != nil {
		t.Fatalf("pocketsphinx and its en-us model are test dependencies of this package: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// telephone renders text with espeak-ng at 8 kHz, takes it through G.711 µ-law and resamples it to rate.
func telephone(t testing.TB, syn *espeak.Synthesizer, text string, rate int) []int16 {
	t.Helper()
	src, err := syn.Synthesize(context.Background(), tts.Request{Text: text, Language: "en", Rate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	var rs *audio.Resampler
	if rate != 8000 {
		rs, _ = audio.NewResampler(8000, rate)
	}
	var out, tmp []int16
	var u []byte
	for {
		f, err := src.Read(context.Background())
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		u = audio.EncodeULaw(u, f.Samples)
		tmp = audio.DecodeULaw(tmp, u)
		if rs != nil {
			tmp = rs.Process(nil, tmp)
		}
		out = append(out, tmp...)
	}
}

func write(t testing.TB, s asr.Stream, pcm []int16, rate int) {
	t.Helper()
	n := rate / 50
	for i := 0; i < len(pcm); i += n {
		f := audio.Frame{Rate: rate, Samples: pcm[i:min(i+n, len(pcm))]}
		if len(f.Samples) < n {
			f.Samples = append(append([]int16(nil), f.Samples...), make([]int16, n-len(f.Samples))...)
		}
		if err := s.Write(f); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
}

func results(t testing.TB, s asr.Stream) []asr.Result {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var res []asr.Result
	for r := range s.Results() {
		res = append(res, r)
	}
	return res
}

// TestTelephonePhrases is the acceptance test: ≥ 90 % of the phrases, spoken by espeak-ng over the telephone band,
// yield their keywords with the grammar built from the phrases, in one continuous stream.
func TestTelephonePhrases(t *testing.T) {
	syn, err := espeak.New(espeak.Config{})
	if err != nil {
		t.Fatalf("espeak-ng is a test dependency: %v", err)
	}
	rec := newRecognizer(t)
	var texts []string
	for _, p := range phrases {
		texts = append(texts, p.text)
	}
	s, err := rec.Start(context.Background(), asr.Config{Language: "en", SampleRate: 16000, Phrases: texts,
		Endpointing: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	type span struct{ from, to time.Duration }
	var spans []span
	var pos time.Duration
	silence := make([]int16, 16000) // 1 s between turns
	for _, p := range phrases {
		pcm := telephone(t, syn, p.text, 16000)
		write(t, s, silence, 16000)
		pos += time.Second
		spans = append(spans, span{pos, pos + audio.Wideband.Duration(len(pcm))})
		write(t, s, pcm, 16000)
		pos += audio.Wideband.Duration(len(pcm))
	}
	write(t, s, silence, 16000)
	res := results(t, s)

	heard := make([]string, len(phrases))
	finals := 0
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("error result: %v", r.Err)
		}
		if !r.Final {
			continue
		}
		finals++
		for i, sp := range spans { // the phrase this utterance overlaps most
			if r.Start < sp.to && r.End > sp.from {
				heard[i] = strings.TrimSpace(heard[i] + " " + r.Text)
				break
			}
		}
	}
	ok := 0
	for i, p := range phrases {
		got := " " + heard[i] + " "
		hit := true
		for _, k := range strings.Fields(p.keywords) {
			if !strings.Contains(got, " "+k+" ") {
				hit = false
			}
		}
		if hit {
			ok++
		} else {
			t.Logf("phrase %q: heard %q", p.text, heard[i])
		}
	}
	t.Logf("%d of %d phrases yielded their keywords (%d finals)", ok, len(phrases), finals)
	if ok*10 < len(phrases)*9 {
		t.Errorf("%d of %d phrases recognised, want ≥ 90 %%", ok, len(phrases))
	}
}

func TestNarrowbandAndPartials(t *testing.T) {
	syn, err := espeak.New(espeak.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecognizer(t)
	before := runtime.NumGoroutine()
	s, err := rec.Start(context.Background(), asr.Config{SampleRate: 8000,
		Phrases: []string{"I would like to speak to a person about my account", "no thank you", "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	// A fresh decoder's first utterance is decoded twice (see decoder.warm) and its partials are poor; the
	// second utterance shows the steady state.
	write(t, s, make([]int16, 4000), 8000)
	write(t, s, telephone(t, syn, "no thank you", 8000), 8000)
	write(t, s, make([]int16, 8000), 8000)
	write(t, s, telephone(t, syn, "I would like to speak to a person about my account", 8000), 8000)
	write(t, s, make([]int16, 8000), 8000)
	res := results(t, s)
	var final *asr.Result
	partials, finals := 0, 0
	for i := range res {
		switch {
		case res[i].Final && finals == 0:
			finals++
			if res[i].Text != "no thank you" {
				t.Errorf("first utterance: %q", res[i].Text)
			}
		case res[i].Final:
			final = &res[i]
		case finals > 0:
			partials++
		}
	}
	if final == nil || final.Text != "i would like to speak to a person about my account" {
		t.Fatalf("results %+v", res)
	}
	if partials == 0 {
		t.Error("no partial result during a 3 s utterance")
	}
	if final.Start < 1800*time.Millisecond || final.Start > 2600*time.Millisecond || final.End < final.Start+time.Second {
		t.Errorf("Start %v End %v; speech began at about 2.2 s", final.Start, final.End)
	}
	for range 100 {
		if runtime.NumGoroutine() <= before {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("goroutines: %d before, %d after", before, n)
	}
}

// TestHotwordSpotting: with Hotwords and no Phrases, results carry the hotwords heard among other words, and
// nothing for speech without them.
func TestHotwordSpotting(t *testing.T) {
	syn, err := espeak.New(espeak.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecognizer(t)
	s, err := rec.Start(context.Background(), asr.Config{SampleRate: 16000, Hotwords: []string{"supervisor", "refund"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"I want a refund right now", "I would like to talk about my account balance"} {
		write(t, s, make([]int16, 8000), 16000)
		write(t, s, telephone(t, syn, text, 16000), 16000)
	}
	write(t, s, make([]int16, 16000), 16000)
	var got []string
	for _, r := range results(t, s) {
		if r.Final {
			got = append(got, r.Text)
		}
	}
	if len(got) != 2 || got[0] != "refund" || got[1] != "" {
		t.Errorf("finals %q, want [refund, \"\"]", got)
	}
}

func TestGrammarAndErrors(t *testing.T) {
	rec := newRecognizer(t)
	jsgf, unknown := rec.Grammar([]string{"Yes, please!", "pay $5 on 3/4", "zzqxv blorp"}, []string{"refund"})
	for _, want := range []string{"yes please", "refund", "public <utterance> ="} {
		if !strings.Contains(jsgf, want) {
			t.Errorf("grammar lacks %q:\n%s", want, jsgf)
		}
	}
	if strings.Contains(jsgf, "blorp") || len(unknown) != 2 {
		t.Errorf("unknown words %q; grammar:\n%s", unknown, jsgf)
	}
	if got := Words("I'll pay $5, OK?"); strings.Join(got, " ") != "i'll pay five dollars ok" {
		t.Errorf("Words = %q", got)
	}
	ctx := context.Background()
	if _, err := rec.Start(ctx, asr.Config{Language: "zh", Phrases: []string{"yes"}}); !errors.Is(err, ErrLanguage) {
		t.Errorf("zh: %v", err)
	}
	if _, err := rec.Start(ctx, asr.Config{Language: "en"}); !errors.Is(err, ErrGrammar) {
		t.Errorf("no phrases: %v", err)
	}
	if _, err := rec.Start(ctx, asr.Config{Phrases: []string{"yes"}, SampleRate: 11025}); err == nil {
		t.Error("11025 Hz accepted")
	}
	s, err := rec.Start(ctx, asr.Config{Phrases: []string{"yes"}, SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(audio.Frame{Rate: 16000, Samples: make([]int16, 320)}); !errors.Is(err, ErrRate) {
		t.Errorf("wrong rate: %v", err)
	}
	results(t, s)
	if err := s.Write(audio.Frame{Rate: 8000, Samples: make([]int16, 160)}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if _, err := New(Config{Model: t.TempDir()}); !errors.Is(err, ErrModel) {
		t.Errorf("bad model: %v", err)
	}
}

// TestCancelReleases: a stream whose context ends without Close gives its decoder back and stops its goroutine.
func TestCancelReleases(t *testing.T) {
	rec := newRecognizer(t)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := rec.Start(ctx, asr.Config{Phrases: []string{"yes"}})
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, make([]int16, 3200), 16000)
	cancel()
	for r := range s.Results() {
		t.Errorf("unexpected result %+v", r)
	}
	if err := s.Write(audio.Frame{Rate: 16000, Samples: make([]int16, 320)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after cancel: %v", err)
	}
	rec.mu.Lock()
	idle := len(rec.idle)
	rec.mu.Unlock()
	if idle != 1 {
		t.Errorf("%d idle decoders, want the stream's back in the pool", idle)
	}
	for range 100 {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("goroutines: %d before, %d after", before, runtime.NumGoroutine())
}

// BenchmarkStart measures starting a stream with a 24-phrase grammar on a pooled decoder.
func BenchmarkStart(b *testing.B) {
	rec := newRecognizer(b)
	var texts []string
	for _, p := range phrases {
		texts = append(texts, p.text)
	}
	for b.Loop() {
		s, err := rec.Start(context.Background(), asr.Config{Phrases: texts})
		if err != nil {
			b.Fatal(err)
		}
		_ = s.Close()
		for range s.Results() {
		}
	}
}

// BenchmarkDecode measures decoding cost against a 24-phrase grammar as a real-time factor (CPU time per second
// of audio) for a telephone-band utterance with half a second of silence either side.
func BenchmarkDecode(b *testing.B) {
	syn, err := espeak.New(espeak.Config{})
	if err != nil {
		b.Fatal(err)
	}
	rec := newRecognizer(b)
	var texts []string
	for _, p := range phrases {
		texts = append(texts, p.text)
	}
	pcm := append(make([]int16, 8000), telephone(b, syn, "I want to speak to a person", 16000)...)
	pcm = append(pcm, make([]int16, 8000)...)
	b.ResetTimer()
	for b.Loop() {
		s, err := rec.Start(context.Background(), asr.Config{Phrases: texts})
		if err != nil {
			b.Fatal(err)
		}
		write(b, s, pcm, 16000)
		results(b, s)
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/audio.Wideband.Duration(len(pcm)).Seconds(), "xRT")
}

// FuzzGrammar: whatever the phrases, the grammar holds only dictionary words, '|' and its fixed frame, so a phrase
// can never inject JSGF syntax.
func FuzzGrammar(f *testing.F) {
	rec := newRecognizer(f)
	for _, s := range []string{"yes please", "<utterance> = ;", "call me at 5 pm", "\"quoted\" | (x)", "中文", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, phrase string) {
		jsgf, _ := rec.Grammar([]string{phrase}, nil)
		if jsgf == "" {
			return
		}
		body := strings.TrimSuffix(strings.TrimPrefix(jsgf, "#JSGF V1.0;\ngrammar outcall;\npublic <utterance> = "), " ;\n")
		for _, c := range body {
			if !(c >= 'a' && c <= 'z' || c == '\'' || c == ' ') {
				t.Fatalf("grammar body %q has %q", body, c)
			}
		}
	})
}
