package campaign

import (
	"context"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/metrics"
	"github.com/outcall/outcall/tts/ttstest"
)

// clipMedia plays a clip to the classifier as 20 ms frames, then silence; it never blocks.
type clipMedia struct {
	pcm  []int16
	pos  int
	pace time.Duration // wait per frame, so an asynchronous ASR keeps up as it would in real time
}

func (m *clipMedia) Format() audio.Format { return audio.Narrowband }
func (m *clipMedia) Read(ctx context.Context) (audio.Frame, error) {
	if m.pace > 0 {
		time.Sleep(m.pace)
	}
	f := audio.Frame{Rate: 8000, Samples: make([]int16, 160)}
	if m.pos < len(m.pcm) {
		m.pos += copy(f.Samples, m.pcm[m.pos:])
	}
	return f, ctx.Err()
}
func (m *clipMedia) Write(context.Context, audio.Frame) error { return nil }
func (m *clipMedia) Flush() time.Duration                     { return 0 }
func (m *clipMedia) Caps() call.Caps                          { return call.Caps{} }

var _ call.Media = (*clipMedia)(nil)

func espeak(t *testing.T, voice, text string) []int16 {
	t.Helper()
	dir := t.TempDir()
	raw := filepath.Join(dir, "s.wav")
	out := filepath.Join(dir, "s8k.wav")
	if b, err := exec.Command("espeak-ng", "-v", voice, "-w", raw, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v %s", err, b)
	}
	if b, err := exec.Command("sox", raw, "-r", "8000", "-c", "1", "-b", "16", out).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := audio.ReadWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	return w.Samples
}

func tone(freqs []float64, d time.Duration, amp float64) []int16 {
	n := int(d.Seconds() * 8000)
	out := make([]int16, n)
	for i := range out {
		v := 0.0
		for _, f := range freqs {
			v += math.Sin(2 * math.Pi * f * float64(i) / 8000)
		}
		out[i] = int16(amp * 32767 * v / float64(len(freqs)))
	}
	return out
}

func silence(d time.Duration) []int16 { return make([]int16, int(d.Seconds()*8000)) }

func concat(parts ...[]int16) []int16 {
	var out []int16
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestClassify(t *testing.T) {
	announcement, err := ttstest.Render("您拨打的号码是空号，请查证后再拨", 8000)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		clip []int16
		asr  bool
		want AnswerClass
	}{
		{"person says hello", concat(silence(300*time.Millisecond), espeak(t, "cmn", "喂，你好")), false, ClassHuman},
		{"english hello", concat(silence(200*time.Millisecond), espeak(t, "en", "Hello?")), false, ClassHuman},
		{"voicemail greeting", concat(silence(300*time.Millisecond),
			espeak(t, "en", "Hi, you have reached the voicemail of John Smith. I cannot take your call right now, please leave a message after the tone.")),
			false, ClassMachine},
		{"machine beep", concat(silence(400*time.Millisecond), tone([]float64{1000}, 500*time.Millisecond, 0.3)), false, ClassMachine},
		{"fax", concat(tone([]float64{1100}, 500*time.Millisecond, 0.3), silence(3*time.Second)), false, ClassFax},
		{"sit", concat(tone([]float64{913.8}, 274*time.Millisecond, 0.3), tone([]float64{1370.6}, 274*time.Millisecond, 0.3),
			tone([]float64{1776.7}, 380*time.Millisecond, 0.3)), false, ClassSIT},
		{"carrier announcement", concat(silence(300*time.Millisecond), announcement), true, ClassAnnouncement},
		{"silence", nil, false, ClassSilence},
	}
	m := metrics.New()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := ClassifyConfig{Metrics: m}
			m := &clipMedia{pcm: c.clip}
			if c.asr {
				cfg.ASR = &asrtest.Recognizer{}
				m.pace = 4 * time.Millisecond
			}
			got, err := Classify(context.Background(), m, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got.Class != c.want {
				t.Fatalf("class %s (%s), want %s", got.Class, got.Reason, c.want)
			}
			t.Logf("%s after %s: %s", got.Class, got.After, got.Reason)
		})
	}
	for class, want := range map[string]float64{"human": 2, "machine": 2, "fax": 1, "sit": 1, "announcement": 1, "silence": 1} {
		if got := testutil.ToFloat64(m.Classes.WithLabelValues(class)); got != want {
			t.Errorf("metric answer_classes_total{class=%q} = %v, want %v", class, got, want)
		}
	}
}
