package espeak

import (
	"context"
	"errors"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
)

func newSynth(t testing.TB) *Synthesizer {
	t.Helper()
	s, err := New(Config{})
	if err != nil {
		t.Fatalf("espeak-ng is a test dependency of this package (apt-get install espeak-ng sox): %v", err)
	}
	return s
}

func readAll(t testing.TB, src audio.Source) []int16 {
	t.Helper()
	var pcm []int16
	for {
		f, err := src.Read(context.Background())
		if err == io.EOF {
			return pcm
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if f.Rate != src.Format().Rate || len(f.Samples) != f.Rate/50 {
			t.Fatalf("frame of %d samples at %d Hz, source at %d Hz", len(f.Samples), f.Rate, src.Format().Rate)
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
	cases := []struct {
		name     string
		r        tts.Request
		min, max time.Duration
	}{
		// About 2.5 words a second at 175 words a minute, plus pauses.
		{"en 8k", tts.Request{Text: "Hello, this is a reminder that your payment is due on Friday.", Language: "en", Rate: 8000}, 2500 * time.Millisecond, 6 * time.Second},
		{"en native", tts.Request{Text: "Thank you, goodbye.", Language: "en"}, 700 * time.Millisecond, 3 * time.Second},
		// Mandarin: espeak-ng's cmn voice speaks about 3 syllables a second.
		{"zh 16k", tts.Request{Text: "您好，请问是张先生吗？我是银行的客服。", Language: "zh", Rate: 16000}, 2 * time.Second, 9 * time.Second},
		{"zh 24k", tts.Request{Text: "好的，谢谢。", Rate: 24000}, 600 * time.Millisecond, 3 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, err := s.Synthesize(context.Background(), tc.r)
			if err != nil {
				t.Fatal(err)
			}
			wantRate := tc.r.Rate
			if wantRate == 0 {
				wantRate = NativeRate
			}
			if src.Format().Rate != wantRate {
				t.Fatalf("Format %d Hz, want %d", src.Format().Rate, wantRate)
			}
			pcm := readAll(t, src)
			d := src.Format().Duration(len(pcm))
			if d < tc.min || d > tc.max {
				t.Errorf("duration %v, want %v..%v", d, tc.min, tc.max)
			}
			if db := rmsDBFS(pcm); db < -35 || db > -3 {
				t.Errorf("level %.1f dBFS, want audible speech", db)
			}
			// Speech has pauses and syllables: the level must vary over 100 ms windows.
			loud, quiet := 0, 0
			w := src.Format().Samples(100 * time.Millisecond)
			for i := 0; i+w <= len(pcm); i += w {
				if rmsDBFS(pcm[i:i+w]) > -30 {
					loud++
				} else {
					quiet++
				}
			}
			if loud < 3 || quiet < 1 {
				t.Errorf("%d loud and %d quiet 100 ms windows: not speech-like", loud, quiet)
			}
		})
	}
}

func TestSpeedAndVoice(t *testing.T) {
	s := newSynth(t)
	text := "one two three four five six seven eight nine ten"
	dur := func(r tts.Request) time.Duration {
		src, err := s.Synthesize(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		return src.Format().Duration(len(readAll(t, src)))
	}
	normal := dur(tts.Request{Text: text, Language: "en", Rate: 8000})
	fast := dur(tts.Request{Text: text, Language: "en", Rate: 8000, Speed: 2})
	if float64(fast) > 0.75*float64(normal) {
		t.Errorf("Speed 2: %v, Speed 1: %v; want clearly shorter", fast, normal)
	}
	if _, err := s.Synthesize(context.Background(), tts.Request{Text: "x", Rate: 4000}); !errors.Is(err, ErrFormat) {
		t.Errorf("rate 4000: %v", err)
	}
	broken, err := New(Config{Binary: "false"}) // exits 1 at once
	if err != nil {
		t.Fatal(err)
	}
	src, err := broken.Synthesize(context.Background(), tts.Request{Text: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	var rerr error
	for rerr == nil {
		_, rerr = src.Read(context.Background())
	}
	if !errors.Is(rerr, ErrFailed) {
		t.Errorf("failing program: %v, want ErrFailed", rerr)
	}
	if rerr != nil && strings.Contains(rerr.Error(), "hello") {
		t.Errorf("error leaks the text: %v", rerr)
	}
}

// TestStreams shows the first frame arrives while espeak-ng still runs: with a long text and nobody reading after
// the first frame, the pipe fills and the process cannot finish — and it ends as soon as the source is closed.
func TestStreams(t *testing.T) {
	before := runtime.NumGoroutine()
	s := newSynth(t)
	text := strings.Repeat("This sentence is here to make a long rendering. ", 20)
	for _, rate := range []int{0, 8000} {
		src, err := s.Synthesize(context.Background(), tts.Request{Text: text, Language: "en", Rate: rate})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.Read(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		select {
		case <-src.(*source).done:
			t.Fatalf("rate %d: synthesis finished before the consumer read on", rate)
		default:
		}
		if err := src.(io.Closer).Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	waitGoroutines(t, before)
}

func TestCancelKills(t *testing.T) {
	before := runtime.NumGoroutine()
	s := newSynth(t)
	text := strings.Repeat("Cancel me in the middle of this long text. ", 20)
	ctx, cancel := context.WithCancel(context.Background())
	src, err := s.Synthesize(ctx, tts.Request{Text: text, Language: "en", Rate: 16000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Read(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-src.(*source).done: // processes reaped
	case <-time.After(5 * time.Second):
		t.Fatal("processes not reaped after cancel")
	}
	if _, err := src.Read(context.Background()); err == nil || err == io.EOF {
		// Frames already buffered may come first; then the error.
		for err == nil {
			_, err = src.Read(context.Background())
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Read after cancel: %v, want context.Canceled", err)
		}
	}
	waitGoroutines(t, before)
}

func TestNotInstalled(t *testing.T) {
	if _, err := New(Config{Binary: "no-such-espeak-binary"}); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("New: %v, want ErrNotInstalled", err)
	}
	s, err := New(Config{Sox: "no-such-sox-binary"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Synthesize(context.Background(), tts.Request{Text: "x", Rate: 8000}); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Synthesize at 8 kHz without sox: %v, want ErrNotInstalled", err)
	}
}

func FuzzReadWAVHeader(f *testing.F) {
	good := []byte("RIFF\x24\xf0\xff\x7fWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x22\x56\x00\x00\x44\xac\x00\x00\x02\x00\x10\x00data\x00\xf0\xff\x7f")
	f.Add(good)
	f.Add(good[:20])
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata\x00\x00\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = readWAVHeader(strings.NewReader(string(b)), NativeRate)
	})
}

func TestReadWAVHeader(t *testing.T) {
	good := "RIFF\x24\xf0\xff\x7fWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x22\x56\x00\x00\x44\xac\x00\x00\x02\x00\x10\x00data\x00\xf0\xff\x7f"
	if err := readWAVHeader(strings.NewReader(good), NativeRate); err != nil {
		t.Errorf("good header: %v", err)
	}
	for name, h := range map[string]string{
		"empty":      "",
		"not riff":   "RIFX" + good[4:],
		"wrong rate": good[:24] + "\x40\x1f\x00\x00" + good[28:],
		"stereo":     good[:22] + "\x02\x00" + good[24:],
		"no fmt":     "RIFF\x00\x00\x00\x00WAVEdata\x00\x00\x00\x00",
		"truncated":  good[:30],
	} {
		if err := readWAVHeader(strings.NewReader(h), NativeRate); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
	}
}

func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	for range 200 {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("goroutines: %d before, %d after", before, runtime.NumGoroutine())
}

// BenchmarkTimeToFirstAudio measures from Synthesize to the first 20 ms frame in hand.
func BenchmarkTimeToFirstAudio(b *testing.B) {
	s := newSynth(b)
	for _, bc := range []struct {
		name string
		r    tts.Request
	}{
		{"en-native", tts.Request{Text: "Hello, this is a reminder that your payment is due on Friday.", Language: "en"}},
		{"en-8k", tts.Request{Text: "Hello, this is a reminder that your payment is due on Friday.", Language: "en", Rate: 8000}},
		{"zh-16k", tts.Request{Text: "您好，请问是张先生吗？我是银行的客服。", Language: "zh", Rate: 16000}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				start := time.Now()
				src, err := s.Synthesize(context.Background(), bc.r)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := src.Read(context.Background()); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				_ = src.(io.Closer).Close()
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/first-frame")
		})
	}
}
