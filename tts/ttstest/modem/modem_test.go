package modem

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/outcall/outcall/pkg/audio"
)

var texts = []string{
	"",
	"Hello, how are you today?",
	"您好，请问是张先生吗？",
	"我想了解一下贷款的利率，谢谢。",
	"yes",
	"1234567890 #*",
	"mixed 中文 and English, ¥1,250.50!",
}

func TestRoundTrip(t *testing.T) {
	for _, rate := range []int{8000, 16000, 24000, 48000} {
		for _, text := range texts {
			pcm, err := Encode(text, rate)
			if err != nil {
				t.Fatalf("Encode(%q, %d): %v", text, rate, err)
			}
			if len(pcm)%(rate/50) != 0 {
				t.Errorf("Encode(%q, %d): %d samples, not whole 20 ms frames", text, rate, len(pcm))
			}
			got, err := Decode(pcm, rate)
			if err != nil || got != text {
				t.Errorf("rate %d: Decode = %q, %v; want %q", rate, got, err, text)
			}
		}
	}
}

// TestTelephonePath takes the audio through what a call does to it: leading silence of any length (frame
// misalignment), 16 kHz → 8 kHz, G.711 µ-law, mild noise, 8 kHz → 16 kHz.
func TestTelephonePath(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i, text := range texts {
		for _, lead := range []int{0, 37, 161, 999} {
			pcm, err := Encode(text, 16000)
			if err != nil {
				t.Fatal(err)
			}
			x := append(make([]int16, lead), pcm...)
			x = append(x, make([]int16, 800)...)
			x = channel(x, rng, 200)
			got, err := Decode(x, 16000)
			if err != nil || got != text {
				t.Errorf("text %d lead %d: Decode = %q, %v; want %q", i, lead, got, err, text)
			}
		}
	}
}

func TestDurationRealistic(t *testing.T) {
	for _, text := range []string{"Hello, how are you today?", "您好，请问是张先生吗？"} {
		pcm, _ := Encode(text, 8000)
		d := audio.Narrowband.Duration(len(pcm))
		if d.Seconds() < 0.5 || d.Seconds() > 3 {
			t.Errorf("%q lasts %v, want 0.5-3 s", text, d)
		}
		if ms := Duration(len(text)); math.Abs(float64(ms)-float64(d.Milliseconds())) > 20 {
			t.Errorf("Duration(%d) = %d ms, audio lasts %v", len(text), ms, d)
		}
	}
}

func TestErrors(t *testing.T) {
	if _, err := Encode("x", 4000); !errors.Is(err, ErrRate) {
		t.Errorf("rate 4000: %v, want ErrRate", err)
	}
	if _, err := Encode(string(make([]byte, MaxText+1)), 8000); !errors.Is(err, ErrTooLong) {
		t.Errorf("long text: %v, want ErrTooLong", err)
	}
	if _, err := Decode(make([]int16, 16000), 8000); !errors.Is(err, ErrNoSignal) {
		t.Errorf("silence: %v, want ErrNoSignal", err)
	}
	pcm, _ := Encode("hello there", 8000)
	if _, err := Decode(pcm[:len(pcm)/2], 8000); !errors.Is(err, ErrTruncated) {
		t.Errorf("half a message: %v, want ErrTruncated", err)
	}
	// Replace one text symbol with another tone pair: the checksum must catch it.
	bad, _ := Encode("hello there", 8000)
	other, _ := Encode("jello there", 8000)
	k := preambleSymbols + headerSymbols
	copy(bad[symbolStart(k, 8000):symbolStart(k+1, 8000)], other[symbolStart(k, 8000):symbolStart(k+1, 8000)])
	if _, err := Decode(bad, 8000); !errors.Is(err, ErrChecksum) {
		t.Errorf("damaged symbol: %v, want ErrChecksum", err)
	}
}

func TestIncremental(t *testing.T) {
	text := "incremental decoding, frame by frame"
	pcm, _ := Encode(text, 16000)
	pcm = append(make([]int16, 123), pcm...)
	d, err := NewDecoder(16000, 16000/5)
	if err != nil {
		t.Fatal(err)
	}
	var prefixes int
	last := ""
	for i := 0; i < len(pcm); i += 320 {
		if err := d.Write(pcm[i:min(i+320, len(pcm))]); err != nil {
			t.Fatal(err)
		}
		if s := d.Text(); s != last {
			if len(s) < len(last) || s[:len(last)] != last {
				t.Fatalf("text went from %q to %q", last, s)
			}
			last = s
			prefixes++
		}
	}
	if !d.Done() || d.Text() != text {
		t.Fatalf("Done %v Text %q", d.Done(), d.Text())
	}
	if prefixes < 5 {
		t.Errorf("only %d growing prefixes, want the text to appear incrementally", prefixes)
	}
	start, end := d.Span()
	if math.Abs(float64(start-123)) > 16*3 || math.Abs(float64(end-123-16*Duration(len(text)))) > 16*3 {
		t.Errorf("Span = %d, %d; want about 123, %d", start, end, 123+16*Duration(len(text)))
	}
	if q := d.Quality(); q < 0.9 {
		t.Errorf("Quality of clean signal = %.2f, want ≥ 0.9", q)
	}
}

func FuzzDecode(f *testing.F) {
	for _, text := range texts[:3] {
		pcm, _ := Encode(text, 8000)
		f.Add(audio.AppendPCM16LE(nil, pcm))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		pcm := audio.PCM16LE(nil, b)
		text, err := Decode(pcm, 8000)
		if err == nil && len(text) > MaxText {
			t.Fatalf("decoded %d bytes", len(text))
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	for _, text := range texts {
		f.Add(text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 256 {
			return
		}
		pcm, err := Encode(text, 8000)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(pcm, 8000)
		if err != nil || got != text {
			t.Fatalf("Decode = %q, %v; want %q", got, err, text)
		}
	})
}

func BenchmarkDecoderFrame(b *testing.B) {
	pcm, _ := Encode("您好，请问是张先生吗？我想了解一下。", 16000)
	b.ReportAllocs()
	b.SetBytes(640)
	frames := 0
	for b.Loop() {
		d, _ := NewDecoder(16000, 3200)
		for i := 0; i+320 <= len(pcm); i += 320 {
			_ = d.Write(pcm[i : i+320])
			frames++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(frames), "ns/frame")
}

// channel simulates the telephone path on 16 kHz audio in 20 ms frames: 16→8 kHz, µ-law, noise of the given
// RMS, 8→16 kHz.
func channel(x []int16, rng *rand.Rand, noise float64) []int16 {
	down, _ := audio.NewResampler(16000, 8000)
	up, _ := audio.NewResampler(8000, 16000)
	var out, n8, n16 []int16
	for i := 0; i < len(x); i += 320 {
		n8 = down.Process(n8, x[i:min(i+320, len(x))])
		n8 = audio.DecodeULaw(n8, audio.EncodeULaw(nil, n8))
		for j := range n8 {
			n8[j] = int16(max(-32768, min(32767, math.Round(float64(n8[j])+rng.NormFloat64()*noise))))
		}
		n16 = up.Process(n16, n8)
		out = append(out, n16...)
	}
	return out
}
