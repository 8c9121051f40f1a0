package callee

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
)

const tick = audio.FrameDuration

// tone returns d of a sine at hz, rate 8000, amplitude 8000.
func tone(hz float64, d time.Duration) []int16 {
	n := int(8000 * d / time.Second)
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/8000))
	}
	return s
}

func toneFrame(int) *audio.Frame { return &audio.Frame{Rate: 8000, Samples: tone(1000, tick)} }

// bot describes what the simulated bot sends at each tick.
type bot func(now time.Duration, p *Person) *audio.Frame

// run ticks p from 0 to end, feeding what b sends, and returns the callee's frames by tick index and all signals.
func run(t *testing.T, p *Person, end time.Duration, b bot) (map[time.Duration]*audio.Frame, []Signal) {
	t.Helper()
	out := map[time.Duration]*audio.Frame{}
	var sig []Signal
	for now := time.Duration(0); now < end; now += tick {
		var heard *audio.Frame
		if b != nil {
			heard = b(now, p)
		}
		f, s := p.Tick(now, heard)
		if f != nil {
			if len(f.Samples) != 160 {
				t.Fatalf("tick %v: frame of %d samples, want 160", now, len(f.Samples))
			}
			out[now] = f
		}
		sig = append(sig, s...)
	}
	return out, sig
}

func firstOut(out map[time.Duration]*audio.Frame) time.Duration {
	first := time.Duration(-1)
	for at := range out {
		if first < 0 || at < first {
			first = at
		}
	}
	return first
}

func newPerson(t *testing.T, s Script) *Person {
	t.Helper()
	p, err := NewPerson(context.Background(), s, Config{Patience: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAfterBotWaitsForQuietGap(t *testing.T) {
	p := newPerson(t, Script{Steps: []Step{{Action: Say, When: AfterBot, Audio: tone(440, 200*time.Millisecond), Text: "hello"}}})
	// The bot talks for the first second, then sends nothing.
	out, _ := run(t, p, 3*time.Second, func(now time.Duration, _ *Person) *audio.Frame {
		if now < time.Second {
			return toneFrame(0)
		}
		return nil
	})
	if got, want := firstOut(out), 1500*time.Millisecond; got != want {
		t.Fatalf("callee started at %v, want %v (1 s of bot speech + 500 ms gap)", got, want)
	}
	if len(out) != 10 {
		t.Fatalf("callee sent %d frames, want 10 (200 ms)", len(out))
	}
	tr := p.Transcript()
	if len(tr) != 1 || tr[0].Text != "hello" || tr[0].Start != 1500*time.Millisecond || tr[0].End != 1700*time.Millisecond || tr[0].BotTalking {
		t.Fatalf("transcript = %+v", tr)
	}
	if p.BotFrames() != 50 {
		t.Fatalf("heard %d bot frames, want 50", p.BotFrames())
	}
}

func TestAfterBotSilentFramesAreQuiet(t *testing.T) {
	p := newPerson(t, Script{Steps: []Step{{Action: Say, Audio: tone(440, 40*time.Millisecond)}}})
	// The bot speaks 400 ms then keeps sending digital silence: silence frames must not hold the turn.
	out, _ := run(t, p, 2*time.Second, func(now time.Duration, _ *Person) *audio.Frame {
		if now < 400*time.Millisecond {
			return toneFrame(0)
		}
		return &audio.Frame{Rate: 8000, Samples: make([]int16, 160)}
	})
	if got := firstOut(out); got != 900*time.Millisecond {
		t.Fatalf("callee started at %v, want 900ms", got)
	}
}

func TestAfterBotPatience(t *testing.T) {
	p := newPerson(t, Script{Steps: []Step{{Action: Say, Audio: tone(440, 40*time.Millisecond)}}})
	out, _ := run(t, p, 3*time.Second, nil)
	if got := firstOut(out); got != 2*time.Second {
		t.Fatalf("callee started at %v, want the 2 s patience", got)
	}
}

func TestBargeInStopLatency(t *testing.T) {
	p := newPerson(t, Script{Steps: []Step{{Action: Say, When: At, Offset: time.Second, Audio: tone(440, time.Second)}}})
	// Drive by hand: the bot stops 200 ms after the callee's first frame.
	var onset time.Duration = -1
	for now := time.Duration(0); now < 3*time.Second; now += tick {
		var heard *audio.Frame
		if onset < 0 || now < onset+200*time.Millisecond {
			heard = toneFrame(0)
		}
		f, _ := p.Tick(now, heard)
		if f != nil && onset < 0 {
			onset = now
		}
	}
	tr := p.Transcript()
	if len(tr) != 1 || !tr[0].BotTalking || tr[0].Start != time.Second {
		t.Fatalf("transcript = %+v, want one barge-in at 1s", tr)
	}
	if got := tr[0].StopLatency(); got != 200*time.Millisecond {
		t.Fatalf("stop latency %v, want 200ms (%+v)", got, tr[0])
	}
}

func TestPressAndHangup(t *testing.T) {
	p := newPerson(t, Script{Steps: []Step{
		{Action: Press, When: At, Offset: time.Second, Digits: "12#"},
		{Action: HangUp, When: Now},
	}})
	out, sig := run(t, p, 3*time.Second, nil)
	if len(out) != 0 {
		t.Fatalf("callee sent %d frames, want none", len(out))
	}
	want := []Signal{
		{SignalDTMF, '1', time.Second},
		{SignalDTMF, '2', 1100 * time.Millisecond},
		{SignalDTMF, '#', 1200 * time.Millisecond},
		{SignalHangup, 0, 1280 * time.Millisecond},
	}
	if len(sig) != len(want) {
		t.Fatalf("signals = %+v, want %+v", sig, want)
	}
	for i := range want {
		if sig[i] != want[i] {
			t.Fatalf("signal %d = %+v, want %+v", i, sig[i], want[i])
		}
	}
	if p.Digits() != "12#" || !p.HungUp() || !p.Done() {
		t.Fatalf("digits %q hungUp %v done %v", p.Digits(), p.HungUp(), p.Done())
	}
	if f, s := p.Tick(3*time.Second, toneFrame(0)); f != nil || s != nil {
		t.Fatalf("tick after hangup = %v, %v", f, s)
	}
}

// TestCarrySilence: a line that carries silence sends a zero frame every tick the person is quiet, none after
// the hang-up.
func TestCarrySilence(t *testing.T) {
	p := newPerson(t, Script{CarrySilence: true, HangupAfterSteps: true, Steps: []Step{
		{Action: Press, When: At, Offset: 200 * time.Millisecond, Digits: "1"},
	}})
	out, sig := run(t, p, time.Second, nil)
	if len(sig) != 2 || sig[0].Kind != SignalDTMF || sig[1].Kind != SignalHangup {
		t.Fatalf("signals = %+v, want a key then the hang-up", sig)
	}
	for now := time.Duration(0); now < sig[1].At; now += tick {
		f := out[now]
		if f == nil {
			t.Fatalf("tick %v: no frame on a line that carries silence", now)
		}
		for _, v := range f.Samples {
			if v != 0 {
				t.Fatalf("tick %v: sample %d, want silence", now, v)
			}
		}
	}
	if len(out) != int(sig[1].At/tick) {
		t.Fatalf("%d frames, want %d (none from the hang-up on)", len(out), sig[1].At/tick)
	}
}

func TestHangupAfterSteps(t *testing.T) {
	p := newPerson(t, Script{HangupAfterSteps: true, Steps: []Step{{Action: Silence, When: Now, Duration: 500 * time.Millisecond}}})
	_, sig := run(t, p, time.Second, nil)
	if len(sig) != 1 || sig[0].Kind != SignalHangup || sig[0].At != 500*time.Millisecond {
		t.Fatalf("signals = %+v, want one hangup at 500ms", sig)
	}
}

func TestEchoReturnsWhatItHears(t *testing.T) {
	p := newPerson(t, Script{Steps: []Step{{Action: Echo, When: Now}}})
	sent := 0
	for now := time.Duration(0); now < time.Second; now += tick {
		var heard *audio.Frame
		if now%(100*time.Millisecond) == 0 {
			heard = &audio.Frame{Rate: 8000, Samples: tone(1000, tick)}
			sent++
		}
		f, _ := p.Tick(now, heard)
		if (f != nil) != (heard != nil) {
			t.Fatalf("tick %v: heard %v, echoed %v", now, heard != nil, f != nil)
		}
		if f != nil {
			for i := range f.Samples {
				if f.Samples[i] != heard.Samples[i] {
					t.Fatalf("tick %v sample %d: %d, want %d", now, i, f.Samples[i], heard.Samples[i])
				}
			}
		}
	}
	if sent != 10 {
		t.Fatalf("sent %d", sent)
	}
}

func TestWidebandPersonResamplesClips(t *testing.T) {
	p, err := NewPerson(context.Background(), Script{Steps: []Step{{Action: Say, When: Now, Audio: tone(440, 100*time.Millisecond)}}}, Config{Rate: 16000})
	if err != nil {
		t.Fatal(err)
	}
	frames := 0
	for now := time.Duration(0); now < time.Second; now += tick {
		f, _ := p.Tick(now, &audio.Frame{Rate: 8000, Samples: make([]int16, 160)})
		if f != nil {
			if f.Rate != 16000 || len(f.Samples) != 320 {
				t.Fatalf("frame rate %d len %d", f.Rate, len(f.Samples))
			}
			frames++
		}
	}
	if frames != 5 {
		t.Fatalf("%d frames, want 5", frames)
	}
	if got := len(p.BotAudio().Samples); got != 16000 {
		t.Fatalf("bot audio %d samples, want 16000 (1 s at 16 kHz)", got)
	}
}

func TestScriptValidation(t *testing.T) {
	cases := []struct {
		name string
		s    Script
		want string
	}{
		{"say nothing", Script{Steps: []Step{{Action: Say}}}, "step 0 (say): no Audio and no Text"},
		{"bad digit", Script{Steps: []Step{{Action: Press, Digits: "1x"}}}, `digit 'x'`},
		{"no digits", Script{Steps: []Step{{Action: Press}}}, "no Digits"},
		{"zero silence", Script{Steps: []Step{{Action: Silence}}}, "must be positive"},
		{"unknown action", Script{Steps: []Step{{Action: 99}}}, "unknown action 99"},
		{"unknown trigger", Script{Steps: []Step{{Action: HangUp, When: 7}}}, "unknown trigger 7"},
		{"negative offset", Script{Steps: []Step{{Action: HangUp, When: At, Offset: -time.Second}}}, "negative Offset"},
		{"bad answer", Script{Answer: 42}, "unknown answer 42"},
		{"negative ring", Script{AnswerAfter: -1}, "negative AnswerAfter"},
		{"bad rate", Script{Steps: []Step{{Action: Say, Audio: []int16{1}, AudioRate: 3}}}, "AudioRate 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.s.Validate()
			if !errors.Is(err, ErrInvalidScript) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v, want ErrInvalidScript containing %q", err, c.want)
			}
			if _, err := NewPerson(context.Background(), c.s, Config{}); !errors.Is(err, ErrInvalidScript) {
				t.Fatalf("NewPerson = %v", err)
			}
		})
	}
	ok := Script{Steps: []Step{{Action: Say, Text: "hi"}, {Action: Press, Digits: "0123456789*#ABCD"}, {Action: Echo}, {Action: HangUp}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewPerson(context.Background(), ok, Config{}); !errors.Is(err, ErrNoTTS) {
		t.Fatalf("text without TTS: %v, want ErrNoTTS", err)
	}
}

// toneTTS is a test synthesizer: each text becomes 10 ms of tone per byte, so tests can check the rendering.
type toneTTS struct{ calls int }

func (s *toneTTS) Synthesize(_ context.Context, r tts.Request) (audio.Source, error) {
	s.calls++
	if r.Text == "fail" {
		return nil, errors.New("engine down")
	}
	return &clipSource{rate: 8000, pcm: tone(300, time.Duration(len(r.Text))*10*time.Millisecond)}, nil
}

type clipSource struct {
	rate int
	pcm  []int16
}

func (c *clipSource) Format() audio.Format { return audio.Format{Rate: c.rate} }
func (c *clipSource) Read(context.Context) (audio.Frame, error) {
	if len(c.pcm) == 0 {
		return audio.Frame{}, io.EOF
	}
	n := min(len(c.pcm), 160)
	f := audio.Frame{Rate: c.rate, Samples: c.pcm[:n]}
	c.pcm = c.pcm[n:]
	return f, nil
}

func TestRenderText(t *testing.T) {
	syn := &toneTTS{}
	s := Script{Steps: []Step{{Action: Say, When: Now, Text: "0123456789"}}} // 100 ms
	r, err := Render(context.Background(), s, syn, 8000)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Steps[0].Audio) != 0 {
		t.Fatal("Render modified its input")
	}
	if got := len(r.Steps[0].Audio); got != 800 || r.Steps[0].AudioRate != 8000 {
		t.Fatalf("rendered %d samples at %d", got, r.Steps[0].AudioRate)
	}
	p, err := NewPerson(context.Background(), r, Config{TTS: syn})
	if err != nil {
		t.Fatal(err)
	}
	if syn.calls != 1 {
		t.Fatalf("pre-rendered script synthesized again: %d calls", syn.calls)
	}
	out, _ := run(t, p, 500*time.Millisecond, nil)
	if len(out) != 5 {
		t.Fatalf("%d frames, want 5", len(out))
	}
	if _, err := Render(context.Background(), Script{Steps: []Step{{Action: Say, Text: "fail"}}}, syn, 8000); err == nil || !strings.Contains(err.Error(), "engine down") {
		t.Fatalf("failing TTS: %v", err)
	}
}

func TestSaveWAV(t *testing.T) {
	p := newPerson(t, Script{Steps: []Step{{Action: Say, When: At, Offset: 100 * time.Millisecond, Audio: tone(440, 100*time.Millisecond)}}})
	run(t, p, 400*time.Millisecond, func(now time.Duration, _ *Person) *audio.Frame {
		if now >= 200*time.Millisecond {
			return toneFrame(0)
		}
		return nil
	})
	path := filepath.Join(t.TempDir(), "call.wav")
	if err := p.SaveWAV(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || binary.LittleEndian.Uint16(b[22:]) != 2 || binary.LittleEndian.Uint32(b[24:]) != 8000 {
		t.Fatalf("bad header % x", b[:44])
	}
	frames := (len(b) - 44) / 4
	if frames != 3200 { // bot audio runs to 400 ms
		t.Fatalf("%d stereo frames, want 3200", frames)
	}
	sample := func(i, ch int) int16 { return int16(binary.LittleEndian.Uint16(b[44+4*i+2*ch:])) }
	// At 150 ms only the callee (left) speaks; at 300 ms only the bot (right).
	var l, r int
	for i := 1200; i < 1280; i++ {
		l += abs(sample(i, 0))
		r += abs(sample(i, 1))
	}
	if l == 0 || r != 0 {
		t.Fatalf("at 150ms left %d right %d, want callee only", l, r)
	}
	l, r = 0, 0
	for i := 2400; i < 2480; i++ {
		l += abs(sample(i, 0))
		r += abs(sample(i, 1))
	}
	if l != 0 || r == 0 {
		t.Fatalf("at 300ms left %d right %d, want bot only", l, r)
	}
	q, _ := NewPerson(context.Background(), Script{}, Config{DiscardAudio: true})
	if err := q.SaveWAV(path); err == nil {
		t.Fatal("SaveWAV with DiscardAudio succeeded")
	}
}

func abs(v int16) int {
	if v < 0 {
		return -int(v)
	}
	return int(v)
}

func BenchmarkPersonTick(b *testing.B) {
	p, err := NewPerson(context.Background(), Script{Steps: []Step{{Action: Echo, When: Now}}}, Config{DiscardAudio: true})
	if err != nil {
		b.Fatal(err)
	}
	heard := &audio.Frame{Rate: 8000, Samples: tone(1000, tick)}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Tick(time.Duration(i)*tick, heard)
	}
}

func TestRenderResamplesClipsKeepingTiming(t *testing.T) {
	clip := append(make([]int16, 800), tone(440, 100*time.Millisecond)...) // 100 ms silence, 100 ms tone
	s, err := Render(context.Background(), Script{Steps: []Step{{Action: Say, Audio: clip}}}, nil, 16000)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Steps[0].Audio
	if len(got) != 3200 || s.Steps[0].AudioRate != 16000 {
		t.Fatalf("%d samples at %d, want 3200 at 16000", len(got), s.Steps[0].AudioRate)
	}
	if lead := meanAbs(got[:1400]); lead > 50 { // the first 87 ms stay silent
		t.Fatalf("silence before the tone has level %d: timing shifted", lead)
	}
	if body := meanAbs(got[1800:3000]); body < 4000 {
		t.Fatalf("tone level %d after resampling, want ~5100", body)
	}
	if len(clip) != 1600 || s.Steps[0].Audio[0] != 0 || (Script{}).Steps != nil {
		t.Fatal("input modified")
	}
	// Rates the filter does not take still work (linear).
	s, err = Render(context.Background(), Script{Steps: []Step{{Action: Say, Audio: clip, AudioRate: 22050}}}, nil, 8000)
	if err != nil || len(s.Steps[0].Audio) != 1600*8000/22050 {
		t.Fatalf("22050 → 8000: %d samples, %v", len(s.Steps[0].Audio), err)
	}
}

func TestTrackAcrossBlocks(t *testing.T) {
	var tr track
	frame := make([]int16, 320)
	for i := range frame {
		frame[i] = int16(i + 1)
	}
	// 20 ms frames at 16 kHz from 1 s in, crossing block boundaries (16,384 samples), and one written out of order.
	for k := 0; k < 120; k++ {
		if k == 60 {
			continue
		}
		tr.place(16000, time.Second+time.Duration(k)*20*time.Millisecond, frame)
	}
	tr.place(16000, time.Second+60*20*time.Millisecond, frame)
	got := tr.samples()
	if len(got) != 16000+120*320 {
		t.Fatalf("%d samples, want %d", len(got), 16000+120*320)
	}
	for i, v := range got {
		want := int16(0)
		if i >= 16000 {
			want = int16((i-16000)%320 + 1)
		}
		if v != want {
			t.Fatalf("sample %d = %d, want %d", i, v, want)
		}
	}
}
