package turn_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/turn"
)

const frame = audio.FrameDuration

// rig feeds a Taker frame by frame, with a real audio.VAD, and plays the caller's part: it carries out each
// Action on a model of the call (a prompt queued for playout, a hold, a flush) and logs what was asked and when.
type rig struct {
	t     *testing.T
	k     *turn.Taker
	rng   *rand.Rand
	now   time.Time
	phase float64

	n        int           // frames since Begin
	prompt   time.Duration // the prompt's length; 0: none
	heard    time.Duration // of the prompt, what the modelled callee heard
	held     bool
	stopped  bool
	sent     int // frames handed to the recognizer
	holds    []int
	releases []int
	stops    []int
	endAt    int // frame the turn ended at; -1: not yet
}

func newRig(t *testing.T, cfg turn.Config) *rig {
	r := &rig{t: t, k: turn.New(cfg, audio.NewVAD(audio.VADConfig{})), rng: rand.New(rand.NewPCG(1, 2)),
		now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), endAt: -1}
	r.quiet(25) // between turns: the VAD learns the line's noise
	return r
}

// begin starts a turn whose prompt (when l.Playing) lasts prompt and was written in full at once.
func (r *rig) begin(l turn.Listen, prompt time.Duration) {
	r.n, r.endAt, r.prompt, r.heard = 0, -1, prompt, 0
	r.apply(r.k.Begin(l))
	if l.Playing && prompt > 0 {
		r.apply(r.k.SpeechDone(prompt, nil))
	}
}

func (r *rig) apply(a turn.Action) {
	r.sent += len(a.Recognize)
	if a.Hold {
		r.held = true
		r.holds = append(r.holds, r.n)
	}
	if a.Stop {
		r.stopped = true
		r.stops = append(r.stops, r.n)
		r.k.Stopped(r.heard, r.prompt, 0)
	}
	if a.Release {
		r.held = false
		r.releases = append(r.releases, r.n)
	}
	if a.End && r.endAt < 0 {
		r.endAt = r.n
	}
}

// feed sends one frame; the modelled callee hears one frame of the prompt unless it is held or stopped.
func (r *rig) feed(samples []int16) {
	r.n++
	if !r.held && !r.stopped && r.heard < r.prompt {
		r.heard += frame
	}
	a := r.k.Frame(audio.Frame{Rate: 8000, Samples: samples}, r.now)
	r.now = r.now.Add(frame)
	r.apply(a)
}

// quiet sends n frames of line noise.
func (r *rig) quiet(n int) {
	for range n {
		s := make([]int16, 160)
		for i := range s {
			s[i] = int16(r.rng.IntN(41) - 20)
		}
		r.feed(s)
	}
}

// voice sends n frames of a voiced sound (two harmonics in the speech band, about -18 dBFS).
func (r *rig) voice(n int) {
	for range n {
		s := make([]int16, 160)
		for i := range s {
			r.phase += 2 * math.Pi * 220 / 8000
			s[i] = int16(3000*math.Sin(r.phase) + 1500*math.Sin(2*r.phase) + float64(r.rng.IntN(41)-20))
		}
		r.feed(s)
	}
}

func (r *rig) partial(text string) { r.apply(r.k.Result(asr.Result{Text: text}, r.now)) }
func (r *rig) final(text string)   { r.apply(r.k.Result(asr.Result{Text: text, Final: true}, r.now)) }
func (r *rig) digit(d rune)        { r.apply(r.k.Digit(d)) }

// untilEnd sends quiet frames until the turn ends, at most n.
func (r *rig) untilEnd(n int) {
	for i := 0; i < n && r.endAt < 0; i++ {
		r.quiet(1)
	}
}

// frames converts a duration to frames.
func frames(d time.Duration) int { return int(d / frame) }

var errBroken = errors.New("provider broke")

// TestTakerTurns is the table of turn-taking cases, fed frame by frame: what the Taker asks for, at which frame,
// and how the turn ends.
func TestTakerTurns(t *testing.T) {
	prompt := turn.Listen{Prompt: "您好,这里是客服中心,请问您现在方便说话吗?", Playing: true, BargeIn: true}
	cases := []struct {
		name  string
		cfg   turn.Config
		run   func(r *rig)
		check func(t *testing.T, r *rig, out turn.Outcome)
	}{
		{"barge-in: words over the prompt stop it, the reply is taken", turn.Config{Hold: true}, func(r *rig) {
			r.begin(prompt, 4*time.Second)
			r.quiet(frames(time.Second))
			r.voice(5)
			r.partial("我想问一下")
			r.voice(frames(600 * time.Millisecond))
			r.quiet(frames(400 * time.Millisecond))
			r.final("我想问一下价格")
		}, func(t *testing.T, r *rig, out turn.Outcome) {
			// Held at the first loud frame (frame 51), stopped once 400 ms of words were heard since the onset (the
			// start of frame 51: the VAD dates its confirmed start back), released after the flush.
			if len(r.holds) != 1 || r.holds[0] != 51 {
				t.Errorf("holds at %v, want at frame 51", r.holds)
			}
			if want := 50 + frames(400*time.Millisecond); len(r.stops) != 1 || r.stops[0] != want {
				t.Errorf("stops at %v, want one at frame %d", r.stops, want)
			}
			if len(r.releases) != 1 || r.releases[0] != r.stops[0] {
				t.Errorf("releases at %v, want with the stop", r.releases)
			}
			if out.Kind != turn.Utterance || out.Text != "我想问一下价格" || !out.BargeIn {
				t.Errorf("outcome %+v", out)
			}
			if out.Heard == "" || !strings.HasPrefix(prompt.Prompt, out.Heard) || len(out.Heard) >= len(prompt.Prompt) {
				t.Errorf("heard %q of %q: want the part before the hold", out.Heard, prompt.Prompt)
			}
		}},
		{"backchannel: 嗯 over the prompt holds it briefly, it carries on and ends a turn later", turn.Config{Hold: true}, func(r *rig) {
			r.begin(prompt, 2*time.Second)
			r.quiet(frames(time.Second))
			r.voice(frames(300 * time.Millisecond))
			r.final("嗯")
			r.untilEnd(frames(10 * time.Second))
		}, func(t *testing.T, r *rig, out turn.Outcome) {
			if len(r.stops) != 0 || out.BargeIn || out.Heard != prompt.Prompt {
				t.Errorf("stops %v, outcome %+v: the backchannel cut the prompt", r.stops, out)
			}
			if len(r.holds) != 1 || len(r.releases) != 1 {
				t.Fatalf("holds %v releases %v, want one of each", r.holds, r.releases)
			}
			// Released once the backchannel was over (HoldGrace after its last loud frame), not at its first quiet frame.
			if got := r.releases[0] - r.holds[0]; got < frames(300*time.Millisecond) || got > frames(500*time.Millisecond) {
				t.Errorf("held for %d frames", got)
			}
			// The prompt resumed where it stopped: the whole of it reached the callee, then 6 s of silence.
			if r.heard != r.prompt || out.Kind != turn.Silence {
				t.Errorf("callee heard %v of %v; outcome %v", r.heard, r.prompt, out.Kind)
			}
			// Frames 51 up to the release were held.
			if want := frames(2*time.Second) + r.releases[0] - r.holds[0] + 1 + frames(6*time.Second); r.endAt != want {
				t.Errorf("ended at frame %d, want %d (the prompt, the hold, the no-input timeout)", r.endAt, want)
			}
		}},
		{"click: a loud frame the VAD does not confirm holds the prompt for HoldGrace", turn.Config{Hold: true}, func(r *rig) {
			r.begin(prompt, 3*time.Second)
			r.quiet(frames(time.Second))
			r.voice(1)
			r.quiet(frames(time.Second))
		}, func(t *testing.T, r *rig, out turn.Outcome) {
			if len(r.stops) != 0 || r.endAt >= 0 || !r.k.Speaking() {
				t.Errorf("stops %v, ended at %d: a click ended the prompt", r.stops, r.endAt)
			}
			// Released HoldGrace (100 ms) after the last loud frame (the band filter rings into the next one).
			if len(r.holds) != 1 || len(r.releases) != 1 || r.releases[0]-r.holds[0] < frames(100*time.Millisecond) ||
				r.releases[0]-r.holds[0] > frames(100*time.Millisecond)+1 {
				t.Errorf("holds %v releases %v", r.holds, r.releases)
			}
		}},
		{"cough: 200 ms of noise is speech to the VAD, held until it ends, then the prompt carries on", turn.Config{Hold: true}, func(r *rig) {
			r.begin(prompt, 3*time.Second)
			r.quiet(frames(time.Second))
			r.voice(frames(200 * time.Millisecond))
			r.quiet(frames(time.Second))
		}, func(t *testing.T, r *rig, out turn.Outcome) {
			if len(r.stops) != 0 || r.endAt >= 0 || !r.k.Speaking() {
				t.Errorf("stops %v, ended at %d: a cough ended the prompt", r.stops, r.endAt)
			}
			// Released at the VAD's end of speech: the cough's 10 frames and the 300 ms hangover.
			if len(r.holds) != 1 || len(r.releases) != 1 || r.releases[0]-r.holds[0] < 10+frames(300*time.Millisecond)-1 ||
				r.releases[0]-r.holds[0] > 10+frames(300*time.Millisecond)+2 {
				t.Errorf("holds %v releases %v", r.holds, r.releases)
			}
		}},
		{"cough without hold: the bot talks on, nothing is asked", turn.Config{}, func(r *rig) {
			r.begin(prompt, 3*time.Second)
			r.quiet(frames(time.Second))
			r.voice(2)
			r.quiet(frames(time.Second))
		}, func(t *testing.T, r *rig, out turn.Outcome) {
			if len(r.holds)+len(r.stops)+len(r.releases) != 0 || r.endAt >= 0 {
				t.Errorf("holds %v stops %v releases %v end %d", r.holds, r.stops, r.releases, r.endAt)
			}
		}},
		{"long speech with no words yet stops the bot after BargeInNoText", turn.Config{}, func(r *rig) {
			r.begin(prompt, 5*time.Second)
			r.quiet(10)
			r.voice(frames(time.Second))
		}, func(t *testing.T, r *rig, out turn.Outcome) {
			if len(r.stops) != 1 || r.stops[0] != 10+frames(800*time.Millisecond) {
				t.Errorf("stops %v, want at frame %d", r.stops, 10+frames(800*time.Millisecond))
			}
		}},
		{"no barge-in: speech over the prompt is not a reply", turn.Config{Hold: true}, func(r *rig) {
			l := prompt
			l.BargeIn = false
			r.begin(l, 2*time.Second)
			r.quiet(10)
			r.voice(frames(time.Second))
			r.final("我要投诉")
			r.untilEnd(frames(10 * time.Second))
		}, func(t *testing.T, r *rig, out turn.Outcome) {
			if len(r.holds)+len(r.stops) != 0 || out.Kind != turn.Silence || out.BargeIn {
				t.Errorf("holds %v stops %v outcome %+v", r.holds, r.stops, out)
			}
		}},
		{"digit string read aloud: the turn waits DigitHold for the next group", turn.Config{}, func(r *rig) {
			r.begin(turn.Listen{Digits: true}, 0)
			r.voice(frames(time.Second))
			r.quiet(frames(200 * time.Millisecond))
			r.final("1234")                         // frame 60: hold until frame 120
			r.quiet(frames(600 * time.Millisecond)) // a pause between groups
			r.voice(frames(800 * time.Millisecond)) // from frame 91: the hold lasts while the callee speaks
			r.quiet(frames(200 * time.Millisecond))
			r.final("5678") // frame 140, before the VAD's end of speech
			r.untilEnd(frames(3 * time.Second))
		}, func(t *testing.T, r *rig, out turn.Outcome) {
			if out.Kind != turn.Utterance || out.Text != "12345678" {
				t.Errorf("outcome %+v, want the two groups as one digit string", out)
			}
			// The second final came at frame 140; the turn holds 1.2 s more.
			if want := 140 + frames(1200*time.Millisecond); r.endAt != want {
				t.Errorf("ended at frame %d, want %d", r.endAt, want)
			}
		}},
		{"digit string where none is wanted ends the turn at once", turn.Config{}, func(r *rig) {
			r.begin(turn.Listen{}, 0)
			r.voice(frames(time.Second))
			r.quiet(frames(400 * time.Millisecond))
			r.final("1234")
		}, func(t *testing.T, r *rig, out turn.Outcome) {
			if out.Kind != turn.Utterance || out.Text != "1234" || r.endAt != 70 {
				t.Errorf("outcome %+v at frame %d", out, r.endAt)
			}
			if out.ASRLatency != 100*time.Millisecond { // the VAD's end of speech came 5 frames before the final
				t.Errorf("ASR latency %v", out.ASRLatency)
			}
		}},
		{"DTMF keys are collected until the inter-digit gap", turn.Config{}, func(r *rig) {
			r.begin(turn.Listen{DTMF: true, DTMFMax: 6}, 0)
			r.digit('1')
			r.quiet(frames(time.Second))
			r.digit('2')
			r.untilEnd(frames(5 * time.Second))
		}, func(t *testing.T, r *rig, out turn.Outcome) {
			if out.Kind != turn.Keys || out.Digits != "12" || r.endAt != 50+frames(2*time.Second) {
				t.Errorf("outcome %+v at frame %d", out, r.endAt)
			}
		}},
		{"DTMF: # ends the keys early, a key over the prompt stops it", turn.Config{}, func(r *rig) {
			r.begin(turn.Listen{Prompt: prompt.Prompt, Playing: true, BargeIn: true, DTMF: true, DTMFMax: 6}, 3*time.Second)
			r.quiet(10)
			r.digit('7')
			r.digit('#')
		}, func(t *testing.T, r *rig, out turn.Outcome) {
			if out.Kind != turn.Keys || out.Digits != "7" || !out.BargeIn || len(r.stops) != 1 || r.endAt != 10 {
				t.Errorf("outcome %+v, stops %v, end %d", out, r.stops, r.endAt)
			}
		}},
		{"no input: Silence Timeout after the prompt ended", turn.Config{}, func(r *rig) {
			l := prompt
			l.Timeout = turn.Listen{}.Timeout + 3*time.Second
			r.begin(l, time.Second)
			r.untilEnd(frames(10 * time.Second))
		}, func(t *testing.T, r *rig, out turn.Outcome) {
			if out.Kind != turn.Silence || r.endAt != frames(4*time.Second) || out.Heard != prompt.Prompt {
				t.Errorf("outcome %+v at frame %d, want silence at frame %d", out, r.endAt, frames(4*time.Second))
			}
		}},
		{"ASR lost mid-turn fails the turn; the next turn listens on a new stream", turn.Config{}, func(r *rig) {
			r.begin(turn.Listen{ASR: true}, 0)
			r.quiet(5)
			r.apply(r.k.ASRLost(errBroken))
			if out := r.k.Outcome(); out.Kind != turn.Failed || out.Fault == nil || out.Fault.Source != turn.ASR ||
				!errors.Is(out.Fault.Err, errBroken) || r.endAt != 5 {
				r.t.Errorf("after the loss: %+v at frame %d", out, r.endAt)
			}
			sent := r.sent
			r.quiet(5) // between turns: nothing for the dead stream
			if r.sent != sent {
				r.t.Errorf("%d frames for a lost stream", r.sent-sent)
			}
			r.begin(turn.Listen{ASR: true}, 0) // the caller restarted the stream
			r.voice(frames(time.Second))
			r.quiet(frames(400 * time.Millisecond))
			r.final("好的")
		}, func(t *testing.T, r *rig, out turn.Outcome) {
			if out.Kind != turn.Utterance || out.Text != "好的" {
				t.Errorf("outcome %+v", out)
			}
			if r.sent != 5+70 { // every frame of both turns, none between them
				t.Errorf("%d frames to the recognizer", r.sent)
			}
		}},
		{"ASR lost during the closing prompt: it plays to the end, the fault is reported", turn.Config{}, func(r *rig) {
			r.begin(turn.Listen{Prompt: "再见", Playing: true, Closing: true, ASR: true}, time.Second)
			r.quiet(10)
			r.apply(r.k.ASRLost(errBroken))
			r.untilEnd(frames(5 * time.Second))
		}, func(t *testing.T, r *rig, out turn.Outcome) {
			if out.Kind != turn.Played || out.Fault == nil || out.Fault.Source != turn.ASR || r.endAt != 50 {
				t.Errorf("outcome %+v at frame %d", out, r.endAt)
			}
		}},
		{"TTS failure ends the turn at once: the callee cannot answer what they did not hear", turn.Config{}, func(r *rig) {
			r.begin(turn.Listen{Prompt: prompt.Prompt, Playing: true, BargeIn: true}, 0)
			r.quiet(10)
			r.apply(r.k.SpeechDone(200*time.Millisecond, errBroken))
		}, func(t *testing.T, r *rig, out turn.Outcome) {
			if out.Kind != turn.Failed || out.Fault == nil || out.Fault.Source != turn.TTS || r.endAt != 10 {
				t.Errorf("outcome %+v at frame %d", out, r.endAt)
			}
		}},
		{"TTS failure of the closing prompt: what was written plays, then the call may end", turn.Config{}, func(r *rig) {
			r.begin(turn.Listen{Prompt: "再见", Playing: true, Closing: true}, 0)
			r.quiet(5)
			r.apply(r.k.SpeechDone(time.Second, errBroken))
			r.untilEnd(frames(5 * time.Second))
		}, func(t *testing.T, r *rig, out turn.Outcome) {
			if out.Kind != turn.Played || out.Fault == nil || out.Fault.Source != turn.TTS || r.endAt != 50 {
				t.Errorf("outcome %+v at frame %d", out, r.endAt)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.cfg)
			tc.run(r)
			tc.check(t, r, r.k.Outcome())
		})
	}
}

// TestTakerClosingWithoutPrompt: a closing turn with nothing to play ends at Begin.
func TestTakerClosingWithoutPrompt(t *testing.T) {
	k := turn.New(turn.Config{}, audio.NewVAD(audio.VADConfig{}))
	if a := k.Begin(turn.Listen{Closing: true}); !a.End || k.Outcome().Kind != turn.Played {
		t.Fatalf("action %+v, outcome %+v", a, k.Outcome())
	}
}
