package turn_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/internal/vadcorpus"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/audio/vad/silero"
	"github.com/outcall/outcall/turn"
)

// The bot's prompt and the callee's voices: espeak-ng Mandarin for the bot, recordings nobody here made
// (pocketsphinx-testdata's LibriVox reading and spoken numbers) and an espeak-ng Mandarin voice for the callee.
const botPrompt = "您好 这里是客服中心 想跟您确认一下明天的送货时间 请问您现在方便说话吗"

type callerVoice struct {
	name    string
	samples []int16
}

func realSpeech(t *testing.T) (prompt []int16, callers []callerVoice) {
	t.Helper()
	if err := vadcorpus.Available(); err != nil {
		t.Skipf("%v (make deps installs pocketsphinx-testdata, espeak-ng and sox)", err)
	}
	dir := t.TempDir()
	prompt, err := vadcorpus.Speak(dir, "prompt", "cmn", botPrompt)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, file string }{
		{"LibriVox English", "librivox/sense_and_sensibility_01_austen_64kb-0880.wav"},
		{"spoken numbers", "numbers.raw"},
	} {
		s, err := vadcorpus.ReadRecording(c.file)
		if err != nil {
			t.Fatal(err)
		}
		callers = append(callers, callerVoice{c.name, s})
	}
	zh, err := vadcorpus.Speak(dir, "caller", "cmn+m3", "不用了 我现在在开车 你们晚上再打过来吧")
	if err != nil {
		t.Fatal(err)
	}
	return normalize(prompt, -20), append(callers, callerVoice{"espeak-ng Mandarin", zh})
}

// normalize scales s so that its voiced frames (within 30 dB of its loudest) average dbfs RMS.
func normalize(s []int16, dbfs float64) []int16 {
	var loud float64
	var lv []float64
	for i := 0; i+160 <= len(s); i += 160 {
		l := audio.MeasureLevel(s[i : i+160]).RMS
		lv = append(lv, l)
		loud = max(loud, math.Pow(10, l/10))
	}
	var sum float64
	var n int
	for _, l := range lv {
		if p := math.Pow(10, l/10); p > loud/1000 {
			sum += p
			n++
		}
	}
	g := math.Pow(10, (dbfs-10*math.Log10(sum/float64(n)))/20)
	out := make([]int16, len(s))
	for i, v := range s {
		out[i] = int16(max(-32768, min(32767, math.Round(float64(v)*g))))
	}
	return out
}

// cough is a 250 ms burst of band-passed noise with a fast attack and a decay, as loud as speech.
func cough(rng *rand.Rand) []int16 {
	bp := newTelBand()
	out := make([]int16, 2000)
	for i := range out {
		env := math.Min(float64(i)/80, 1) * math.Exp(-float64(i)/700)
		out[i] = int16(bp.step(rng.NormFloat64() * 9000 * env))
	}
	return out
}

// telBand is a 300-3400 Hz band-pass (a second-order high-pass and low-pass, RBJ biquads): the telephone band.
type telBand struct{ hp, lp biquad }

type biquad struct{ b0, b1, b2, a1, a2, x1, x2, y1, y2 float64 }

func newBiquad(f0 float64, high bool) biquad {
	w := 2 * math.Pi * f0 / 8000
	alpha := math.Sin(w) / math.Sqrt2 // Q = 1/√2, Butterworth
	cw := math.Cos(w)
	a0 := 1 + alpha
	q := biquad{a1: -2 * cw / a0, a2: (1 - alpha) / a0}
	if high {
		q.b0, q.b1, q.b2 = (1+cw)/2/a0, -(1+cw)/a0, (1+cw)/2/a0
	} else {
		q.b0, q.b1, q.b2 = (1-cw)/2/a0, (1-cw)/a0, (1-cw)/2/a0
	}
	return q
}

func (q *biquad) step(x float64) float64 {
	y := q.b0*x + q.b1*q.x1 + q.b2*q.x2 - q.a1*q.y1 - q.a2*q.y2
	q.x2, q.x1, q.y2, q.y1 = q.x1, x, q.y1, y
	return y
}

func newTelBand() *telBand { return &telBand{hp: newBiquad(300, true), lp: newBiquad(3400, false)} }

func (b *telBand) step(x float64) float64 { return b.lp.step(b.hp.step(x)) }

// line is the call as the bot's Taker hears it: the callee's own sound (voice, cough) plus the echo of what the
// bot actually sent (delayed, attenuated, telephone band), a little line noise, through G.711 µ-law.
type line struct {
	delay  int     // echo delay, samples
	gain   float64 // echo gain (linear)
	sent   []int16 // everything the bot sent, sample by sample
	band   *telBand
	rng    *rand.Rand
	callee []int16 // the callee's sound, from the start of the prompt
}

// next returns the callee side's 20 ms frame number i.
func (l *line) next(i int) []int16 {
	out := make([]int16, 160)
	for j := range out {
		n := i*160 + j
		var x float64
		if k := n - l.delay; k >= 0 && k < len(l.sent) {
			x = l.gain * float64(l.sent[k])
		}
		x = l.band.step(x)
		if n < len(l.callee) {
			x += float64(l.callee[n])
		}
		x += l.rng.NormFloat64() * 10 // about -70 dBFS of line noise
		out[j] = audio.ULawToLinear(audio.LinearToULaw(int16(max(-32768, min(32767, math.Round(x))))))
	}
	return out
}

// overPrompt is one run: the bot plays prompt with barge-in and hold; the callee side carries callee (placed at
// its offset into the prompt) and the echo. It reports the frames of the holds and of the stop (-1: none).
type overPrompt struct {
	holds, stop int
	heldFrames  int
}

func runOverPrompt(t *testing.T, vad turn.VAD, prompt, callee []int16, at time.Duration, echo time.Duration,
	erlDB float64, reference bool) overPrompt {
	t.Helper()
	k := turn.New(turn.Config{Hold: true}, vad)
	now := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	l := &line{delay: int(echo.Seconds() * 8000), gain: math.Pow(10, -erlDB/20), band: newTelBand(),
		rng: rand.New(rand.NewPCG(3, 4))}
	off := int(at.Seconds() * 8000)
	l.callee = append(make([]int16, off), callee...)
	res := overPrompt{stop: -1}
	// Half a second of line noise before the prompt: the VAD learns the line.
	for range 25 {
		k.Frame(audio.Frame{Rate: 8000, Samples: (&line{band: newTelBand(), rng: l.rng}).next(0)}, now)
	}
	k.Begin(turn.Listen{Prompt: botPrompt, Playing: true, BargeIn: true})
	k.SpeechDone(time.Duration(len(prompt))*time.Second/8000, nil)
	held, stopped, played := false, false, 0
	total := max(len(prompt), len(l.callee)) / 160
	for i := 0; i < total+50; i++ {
		// The bot's playout: a frame of the prompt unless it is held or stopped, else silence.
		out := make([]int16, 160)
		if !held && !stopped && played+160 <= len(prompt) {
			copy(out, prompt[played:played+160])
			played += 160
		}
		l.sent = append(l.sent, out...)
		if reference {
			k.Sent(audio.Frame{Rate: 8000, Samples: out})
		}
		a := k.Frame(audio.Frame{Rate: 8000, Samples: l.next(i)}, now)
		now = now.Add(20 * time.Millisecond)
		if a.Hold {
			res.holds++
			held = true
		}
		if held {
			res.heldFrames++
		}
		if a.Stop && !stopped {
			stopped, res.stop = true, i
			k.Stopped(time.Duration(played)*time.Second/8000, time.Duration(len(prompt))*time.Second/8000, 0)
		}
		if a.Release {
			held = false
		}
		if a.End {
			break
		}
	}
	return res
}

type detector struct {
	name string
	new  func(t *testing.T) turn.VAD
}

func detectors() []detector {
	return []detector{
		{"energy", func(*testing.T) turn.VAD { return audio.NewVAD(audio.VADConfig{}) }},
		{"silero", func(t *testing.T) turn.VAD {
			m, err := sileroModel()
			if errors.Is(err, silero.ErrFiles) || errors.Is(err, silero.ErrNotBuilt) {
				t.Skipf("Silero: %v (make speech-models; cgo)", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			d, err := m.NewDetector()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			return d
		}},
	}
}

var sileroShared struct {
	once sync.Once
	m    *silero.Model
	err  error
}

// sileroModel loads the network once for the package's tests (one per process, shared by every detector).
func sileroModel() (*silero.Model, error) {
	sileroShared.once.Do(func() { sileroShared.m, sileroShared.err = silero.Load(silero.Config{}) })
	return sileroShared.m, sileroShared.err
}

// TestBargeInRealSpeech has a real voice talk over the bot's prompt with the prompt's own echo mixed in (12 and
// 20 dB down, 40-200 ms late, telephone band, G.711), frame by frame through the Taker with the energy detector
// and with Silero: the bot yields to the callee, and not to its own echo or to a cough.
func TestBargeInRealSpeech(t *testing.T) {
	prompt, callers := realSpeech(t)
	at := 1200 * time.Millisecond // the callee starts talking this far into the prompt
	rng := rand.New(rand.NewPCG(5, 6))
	for _, det := range detectors() {
		t.Run(det.name, func(t *testing.T) {
			for _, echo := range []struct {
				delay time.Duration
				erl   float64
			}{{40 * time.Millisecond, 12}, {120 * time.Millisecond, 20}, {200 * time.Millisecond, 12}} {
				name := fmt.Sprintf("echo %v %g dB", echo.delay, echo.erl)
				r := runOverPrompt(t, det.new(t), prompt, nil, 0, echo.delay, echo.erl, true)
				if r.stop >= 0 || r.holds > 0 {
					t.Errorf("%s alone: the bot held %d times, stopped at frame %d: it yielded to its own echo", name, r.holds, r.stop)
				}
				r = runOverPrompt(t, det.new(t), prompt, cough(rng), at, echo.delay, echo.erl, true)
				if r.stop >= 0 {
					t.Errorf("%s, a cough: the bot stopped at frame %d", name, r.stop)
				}
				for _, c := range callers {
					callee := normalize(c.samples, -20)
					r := runOverPrompt(t, det.new(t), prompt, callee, at, echo.delay, echo.erl, true)
					start := frames(at)
					// The callee is heard within the no-words barge-in time (800 ms of talking) and a little more
					// for a soft onset.
					if r.stop < 0 || r.stop < start || r.stop > start+frames(1400*time.Millisecond) {
						t.Errorf("%s, %s: stop at frame %d, want within 1.4 s of frame %d", name, c.name, r.stop, start)
					} else {
						t.Logf("%s, %s: stopped %v after the callee began", name, c.name, time.Duration(r.stop-start)*frame)
					}
				}
			}
		})
	}
}

// TestBargeInEchoNeedsReference shows what the bot's frames (Taker.Sent) are for: without them the Taker has no
// way to tell a loud echo (6 dB down, the least an echo path loses) from the callee, and yields to it.
func TestBargeInEchoNeedsReference(t *testing.T) {
	prompt, _ := realSpeech(t)
	for _, det := range detectors() {
		t.Run(det.name, func(t *testing.T) {
			with := runOverPrompt(t, det.new(t), prompt, nil, 0, 120*time.Millisecond, 8, true)
			without := runOverPrompt(t, det.new(t), prompt, nil, 0, 120*time.Millisecond, 8, false)
			t.Logf("echo 8 dB down: with the reference holds %d stop %d; without it holds %d stop %d",
				with.holds, with.stop, without.holds, without.stop)
			if with.stop >= 0 || with.holds > 0 {
				t.Errorf("with the reference the bot yielded to its echo: holds %d, stop at %d", with.holds, with.stop)
			}
			if without.stop < 0 && without.holds == 0 {
				t.Errorf("without the reference the echo neither held nor stopped the bot: the guard is not what keeps it talking")
			}
		})
	}
}

// scripted is a detector that reports the probabilities it is given, frame by frame, through an audio.SpeechGate.
type scripted struct {
	g *audio.SpeechGate
	p []float64
	i int
}

func (d *scripted) Process(f audio.Frame) (audio.VADEvent, bool) {
	p := 0.0
	if d.i < len(d.p) {
		p = d.p[d.i]
	}
	d.i++
	return d.g.Step(p, len(f.Samples), f.Rate)
}
func (d *scripted) Probability() float64 { return d.g.Probability() }
func (d *scripted) Loud() bool           { return d.g.Loud() }
func (d *scripted) Voiced() bool         { return d.g.Voiced() }
func (d *scripted) Speaking() bool       { return d.g.Speaking() }

// TestBargeInProbability: with a detector that reports probabilities, barge-in counts only the frames it is sure
// of (Config.BargeInProbability): a second of speech at 0.55 (speech to the gate, whose release is 0.35) is a
// hold the bot comes back from, the same second at 0.9 stops it after BargeInNoText.
func TestBargeInProbability(t *testing.T) {
	for _, c := range []struct {
		p    float64
		stop bool
	}{{0.55, false}, {0.9, true}} {
		ps := make([]float64, 25+frames(time.Second))
		for i := 25; i < len(ps); i++ {
			ps[i] = c.p
		}
		k := turn.New(turn.Config{Hold: true}, &scripted{g: audio.NewSpeechGate(audio.GateConfig{}), p: ps})
		k.Begin(turn.Listen{Prompt: botPrompt, Playing: true, BargeIn: true})
		k.SpeechDone(5*time.Second, nil)
		stopAt := -1
		now := time.Now()
		for i := range len(ps) + 25 {
			a := k.Frame(audio.Frame{Rate: 8000, Samples: make([]int16, 160)}, now)
			if a.Stop && stopAt < 0 {
				stopAt = i
			}
		}
		switch {
		case c.stop && (stopAt < 0 || stopAt != 25+frames(800*time.Millisecond)-1):
			t.Errorf("p=%.2f: stop at frame %d, want at %d (800 ms of sure speech)", c.p, stopAt, 25+frames(800*time.Millisecond)-1)
		case !c.stop && stopAt >= 0:
			t.Errorf("p=%.2f: the bot stopped at frame %d on speech the detector was unsure of", c.p, stopAt)
		}
	}
}

// TestEndpointProbability: with a detector that reports probabilities, the callee's speech is over as soon as the
// detector is sure of silence (EndQuiet, 160 ms, under EndProbability), and at the detector's own hangover (300 ms)
// when its probability stays unsure. Outcome.ASRLatency, counted from that end, tells them apart.
func TestEndpointProbability(t *testing.T) {
	for _, c := range []struct {
		tail float64
		end  time.Duration // after the last speech frame
	}{{0.02, 160 * time.Millisecond}, {0.25, 300 * time.Millisecond}} {
		speech := frames(time.Second)
		ps := make([]float64, speech+frames(time.Second))
		for i := range ps {
			ps[i] = c.tail
			if i < speech {
				ps[i] = 0.9
			}
		}
		k := turn.New(turn.Config{}, &scripted{g: audio.NewSpeechGate(audio.GateConfig{}), p: ps})
		k.Begin(turn.Listen{Timeout: 5 * time.Second, ASR: true})
		start := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
		now := start
		for range ps {
			now = now.Add(frame)
			k.Frame(audio.Frame{Rate: 8000, Samples: make([]int16, 160)}, now)
		}
		a := k.Result(asr.Result{Text: "可以 没问题", Final: true}, now)
		out := k.Outcome()
		want := now.Sub(start.Add(time.Duration(speech)*frame + c.end))
		if !a.End || out.Kind != turn.Utterance || out.ASRLatency != want {
			t.Errorf("tail p=%.2f: outcome %v, latency %v; want an utterance, latency %v (speech over %v after its last frame)",
				c.tail, out.Kind, out.ASRLatency, want, c.end)
		}
	}
}
