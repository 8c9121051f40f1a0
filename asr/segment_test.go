package asr_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
)

// speech renders text with espeak-ng and returns it as PCM16 at rate, plus the duration of the speech alone.
func speech(t testing.TB, rate int, gap time.Duration, texts ...string) ([]int16, []time.Duration) {
	t.Helper()
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed: %v", tool, err)
		}
	}
	dir := t.TempDir()
	sil := filepath.Join(dir, "sil.wav")
	run(t, "sox", "-n", "-r", itoa(rate), "-c", "1", "-b", "16", sil, "synth", strconv.FormatFloat(gap.Seconds(), 'f', 3, 64),
		"whitenoise", "vol", "0.002")
	parts := []string{sil}
	var durs []time.Duration
	for i, text := range texts {
		raw := filepath.Join(dir, "raw"+itoa(i)+".wav")
		run(t, "espeak-ng", "-v", "en", "-w", raw, text)
		conv := filepath.Join(dir, "utt"+itoa(i)+".wav")
		run(t, "sox", raw, "-r", itoa(rate), "-c", "1", "-b", "16", conv)
		w := readWAV(t, conv)
		durs = append(durs, audio.Format{Rate: rate}.Duration(len(w)))
		parts = append(parts, conv, sil)
	}
	out := filepath.Join(dir, "all.wav")
	run(t, "sox", append(parts, out)...)
	return readWAV(t, out), durs
}

func readWAV(t testing.TB, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := audio.DecodeWAV(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return w.Samples
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func push(s *asr.Segmenter, rate int, pcm []int16) []asr.Utterance {
	var out []asr.Utterance
	n := rate / 50
	for i := 0; i+n <= len(pcm); i += n {
		if u, ok := s.Push(audio.Frame{Rate: rate, Samples: pcm[i : i+n]}); ok {
			out = append(out, u)
		}
	}
	if u, ok := s.Flush(); ok {
		out = append(out, u)
	}
	return out
}

func TestSegmenterFindsUtterances(t *testing.T) {
	for _, rate := range []int{8000, 16000} {
		t.Run(itoa(rate), func(t *testing.T) {
			gap := time.Second
			pcm, durs := speech(t, rate, gap, "hello, I would like to pay my bill", "yes, tomorrow morning")
			us := push(asr.NewSegmenter(asr.SegmenterConfig{}), rate, pcm)
			if len(us) != 2 {
				for _, u := range us {
					t.Logf("utterance %v-%v", u.Start, u.End)
				}
				t.Fatalf("%d utterances, want 2", len(us))
			}
			// Where the speech really is (espeak-ng pads a little silence of its own, hence the slack).
			starts := []time.Duration{gap, gap + durs[0] + gap}
			for i, u := range us {
				if u.Start < starts[i]-400*time.Millisecond || u.Start > starts[i]+300*time.Millisecond {
					t.Errorf("utterance %d starts at %v, speech at %v", i, u.Start, starts[i])
				}
				end := starts[i] + durs[i]
				if u.End < end-300*time.Millisecond || u.End > end+400*time.Millisecond {
					t.Errorf("utterance %d ends at %v, speech ends at %v", i, u.End, end)
				}
				if got := (audio.Format{Rate: rate}).Duration(len(u.Samples)); absDur(got-(u.End-u.Start)) > time.Millisecond {
					t.Errorf("utterance %d holds %v of audio for span %v", i, got, u.End-u.Start)
				}
				if u.Rate != rate {
					t.Errorf("rate %d", u.Rate)
				}
				// The samples are the stream's own, at their place.
				off := audio.Format{Rate: rate}.Samples(u.Start)
				if len(u.Samples) > 0 && u.Samples[len(u.Samples)/2] != pcm[off+len(u.Samples)/2] {
					t.Errorf("utterance %d samples are not the stream's at %v", i, u.Start)
				}
			}
		})
	}
}

func TestSegmenterCutsLongSpeechAndFlushes(t *testing.T) {
	pcm, _ := speech(t, 16000, 500*time.Millisecond,
		"one two three four five six seven eight nine ten eleven twelve thirteen fourteen")
	s := asr.NewSegmenter(asr.SegmenterConfig{MaxUtterance: time.Second})
	us := push(s, 16000, pcm)
	if len(us) < 3 {
		t.Fatalf("%d pieces, want the long speech cut into ≥ 3", len(us))
	}
	for i := 1; i < len(us); i++ {
		if us[i].Start < us[i-1].End {
			t.Errorf("piece %d starts at %v before piece %d ends at %v", i, us[i].Start, i-1, us[i-1].End)
		}
	}
	for i, u := range us {
		if u.End-u.Start > time.Second+20*time.Millisecond {
			t.Errorf("piece %d lasts %v", i, u.End-u.Start)
		}
	}

	// Flush in mid-speech hands over what was heard so far.
	s = asr.NewSegmenter(asr.SegmenterConfig{})
	half := pcm[:len(pcm)/2]
	var got []asr.Utterance
	for i := 0; i+320 <= len(half); i += 320 {
		if u, ok := s.Push(audio.Frame{Rate: 16000, Samples: half[i : i+320]}); ok {
			got = append(got, u)
		}
	}
	if !s.Speaking() {
		t.Fatal("not speaking in mid-speech")
	}
	u, ok := s.Flush()
	if !ok || len(got) != 0 || u.End < time.Second {
		t.Errorf("flush: ok=%v, %d earlier, utterance %v-%v", ok, len(got), u.Start, u.End)
	}
	if s.Speaking() {
		t.Error("speaking after Flush")
	}
}

func TestSegmenterIgnoresSilenceAndClicks(t *testing.T) {
	s := asr.NewSegmenter(asr.SegmenterConfig{})
	quiet := make([]int16, 320)
	for i := range 500 { // 10 s of silence with one 40 ms click
		f := quiet
		if i == 200 || i == 201 {
			f = make([]int16, 320)
			for j := range f {
				f[j] = int16(8000 * (j%2*2 - 1))
			}
		}
		if u, ok := s.Push(audio.Frame{Rate: 16000, Samples: f}); ok {
			t.Fatalf("utterance %v-%v from silence", u.Start, u.End)
		}
	}
	if _, ok := s.Flush(); ok {
		t.Error("flush yielded an utterance from silence")
	}
	// Bad input is ignored.
	if _, ok := s.Push(audio.Frame{}); ok {
		t.Error("empty frame yielded an utterance")
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func BenchmarkSegmenterPush(b *testing.B) {
	pcm, _ := speech(b, 16000, time.Second, "hello, I would like to pay my bill")
	s := asr.NewSegmenter(asr.SegmenterConfig{})
	n := len(pcm) / 320
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Push(audio.Frame{Rate: 16000, Samples: pcm[(i%n)*320 : (i%n+1)*320]})
		i++
	}
}
