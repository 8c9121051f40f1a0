package callee

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
)

// Config configures a Person.
type Config struct {
	// TTS renders Say steps that have Text but no Audio. default: nil (such steps make NewPerson fail)
	TTS tts.Synthesizer
	// Rate is the sample rate of the frames Tick takes and returns. default: 8000
	Rate int
	// QuietGap is how long the bot must stay quiet after speaking before an AfterBot step starts. default: 500ms
	QuietGap time.Duration
	// Patience is how long an AfterBot step waits for the bot to say anything before it starts anyway.
	// default: 10s
	Patience time.Duration
	// DigitInterval is the time from one key press of a Press step to the next. default: 100ms
	DigitInterval time.Duration
	// VoiceLevel is the mean absolute sample value above which a bot frame counts as speech rather than
	// silence. default: 64
	VoiceLevel int
	// DiscardAudio drops both sides' audio instead of keeping it for BotAudio, CalleeAudio and SaveWAV; load
	// tests with thousands of calls set it. default: false (audio kept)
	DiscardAudio bool
	// Logger receives debug logs of the person's steps. default: zerolog.Nop()
	Logger zerolog.Logger
}

func (c *Config) fill() {
	if c.Rate == 0 {
		c.Rate = 8000
	}
	if c.QuietGap == 0 {
		c.QuietGap = 500 * time.Millisecond
	}
	if c.Patience == 0 {
		c.Patience = 10 * time.Second
	}
	if c.DigitInterval == 0 {
		c.DigitInterval = 100 * time.Millisecond
	}
	if c.VoiceLevel == 0 {
		c.VoiceLevel = 64
	}
}

// SignalKind says what a Signal asks the simulator to do.
type SignalKind int

// Signal kinds.
const (
	SignalDTMF   SignalKind = iota + 1 // the person pressed Digit
	SignalHangup                       // the person hung up
)

// Signal is an out-of-band action a Person takes during a tick: a key press or hanging up.
type Signal struct {
	Kind  SignalKind
	Digit rune          // SignalDTMF: '0'-'9', '*', '#', 'A'-'D'
	At    time.Duration // time since answer
}

// Utterance is one Say step as the person spoke it.
type Utterance struct {
	Text  string        // the step's Text (may be empty for a bare clip)
	Start time.Duration // first frame, since answer
	End   time.Duration // end of the last frame sent, since answer; 0 while still speaking
	// BotTalking is true when the bot was speaking as the person started: the utterance was a barge-in.
	BotTalking bool
	// BotLastHeard is the end of the last bot speech frame heard after Start before the bot fell quiet; with
	// BotTalking it measures how long the bot took to stop (see StopLatency).
	BotLastHeard time.Duration
}

// StopLatency is how long the bot kept talking after the person barged in; 0 when the bot was not talking.
func (u Utterance) StopLatency() time.Duration {
	if !u.BotTalking || u.BotLastHeard < u.Start {
		return 0
	}
	return u.BotLastHeard - u.Start
}

// Person plays a Script on an answered call. The simulator calls Tick once per 20 ms frame with the bot audio it
// received; Tick is deterministic and does no I/O, so one ticker goroutine can drive thousands of people. Its
// methods are safe for concurrent use.
//
// Steps run one after another: an AfterBot step waits for the bot to speak and then stay quiet for QuietGap
// (or for Patience if the bot says nothing); an At step waits for its offset since answer, starting straight
// after the previous step if that offset has passed; a Now step starts at once. A bot frame counts as speech
// when its mean absolute level exceeds VoiceLevel, so a bot sending digital silence is quiet.
type Person struct {
	cfg    Config
	script Script
	frame  int // samples per frame at cfg.Rate

	mu   sync.Mutex
	step int // index of the current step; len(Steps) when done
	// state of the current step
	started   bool
	startAt   time.Duration // when the current step started
	pendingAt time.Duration // when the current step became pending
	pos       int           // Say: samples sent; Press: digits sent
	nextDigit time.Duration
	clip      []int16 // Say: audio at cfg.Rate

	botSpoke     bool          // bot spoke since the current step became pending
	lastBotVoice time.Duration // end of the last voiced bot frame; -1: never
	hungUp       bool
	finished     bool // steps done (maybe waiting silently)
	last         time.Duration

	utter   []Utterance
	track   int // index in utter of the utterance still tracking the bot's stop; -1: none
	digits  []rune
	signals []Signal

	bot, self track // recorded audio, sample 0 = answer
	heard     int   // bot frames heard
}

// NewPerson returns a Person ready to play s from the moment of answer. Say steps with only Text are rendered by
// cfg.TTS (use Render beforehand to share one rendering among many people).
func NewPerson(ctx context.Context, s Script, cfg Config) (*Person, error) {
	cfg.fill()
	if cfg.Rate < 4000 || cfg.Rate > 192000 || cfg.Rate%50 != 0 {
		return nil, fmt.Errorf("%w: Rate %d", ErrInvalidScript, cfg.Rate)
	}
	rs, err := Render(ctx, s, cfg.TTS, cfg.Rate)
	if err != nil {
		return nil, err
	}
	return &Person{cfg: cfg, script: rs, frame: cfg.Rate / 50, lastBotVoice: -1, track: -1}, nil
}

// Script returns the script the person plays, with Text rendered to Audio.
func (p *Person) Script() Script { return p.script }

// Rate returns the sample rate of the frames Tick takes and returns.
func (p *Person) Rate() int { return p.cfg.Rate }

// Tick advances the person to now (time since answer, a multiple of 20 ms) given heard, the bot audio received
// during this tick (nil when the bot sent nothing). It returns the frame the callee sends (nil: send nothing, as
// a phone line carries no packets while silent, unless Script.CarrySilence) and the signals — key presses, hang-up — of this tick. The
// returned slice is only valid until the next Tick.
func (p *Person) Tick(now time.Duration, heard *audio.Frame) (*audio.Frame, []Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signals = p.signals[:0]
	if p.hungUp {
		return nil, nil
	}
	p.last = now
	voiced := false
	var in []int16
	if heard != nil && len(heard.Samples) > 0 {
		in = heard.Samples
		if heard.Rate != 0 && heard.Rate != p.cfg.Rate {
			in = resample(in, heard.Rate, p.cfg.Rate)
		}
		p.heard++
		voiced = meanAbs(in) > p.cfg.VoiceLevel
		if !p.cfg.DiscardAudio {
			p.bot.place(p.cfg.Rate, now, in)
		}
	}
	end := now + audio.FrameDuration
	if voiced {
		p.lastBotVoice = end
		p.botSpoke = true
	}
	if p.track >= 0 {
		u := &p.utter[p.track]
		switch {
		case voiced:
			u.BotLastHeard = end
		case end-u.BotLastHeard >= p.cfg.QuietGap:
			p.track = -1
		}
	}

	out := p.run(now, in)
	if out != nil && !p.cfg.DiscardAudio {
		p.self.place(p.cfg.Rate, now, out)
	}
	if out == nil && p.script.CarrySilence && !p.hungUp {
		out = make([]int16, p.frame)
	}
	if out == nil {
		return nil, p.signals
	}
	return &audio.Frame{Rate: p.cfg.Rate, Samples: out}, p.signals
}

// run advances the step machine by one tick and returns the samples to send.
func (p *Person) run(now time.Duration, in []int16) []int16 {
	for p.step < len(p.script.Steps) {
		st := &p.script.Steps[p.step]
		if !p.started {
			if !p.ready(st, now) {
				return nil
			}
			p.begin(st, now)
		}
		out, done := p.exec(st, now, in)
		if done {
			p.next(now)
			if out == nil && !p.hungUp {
				continue // a zero-length step: start the next one in this same tick
			}
		}
		return out
	}
	if !p.finished {
		p.finished = true
		if p.script.HangupAfterSteps {
			p.hangup(now)
		}
	}
	return nil
}

// ready reports whether the pending step st may start at now.
func (p *Person) ready(st *Step, now time.Duration) bool {
	switch st.When {
	case At:
		return now >= st.Offset
	case AfterBot:
		if p.botSpoke {
			return now-p.lastBotVoice >= p.cfg.QuietGap
		}
		return now-p.pendingAt >= p.cfg.Patience
	}
	return true
}

func (p *Person) begin(st *Step, now time.Duration) {
	p.started, p.startAt, p.pos = true, now, 0
	p.cfg.Logger.Debug().Int("step", p.step).Stringer("action", st.Action).Dur("at", now).Msg("callee step")
	switch st.Action {
	case Say:
		rate := st.AudioRate
		if rate == 0 {
			rate = 8000
		}
		p.clip = st.Audio
		if rate != p.cfg.Rate {
			p.clip = resample(st.Audio, rate, p.cfg.Rate)
		}
		u := Utterance{Text: st.Text, Start: now}
		if p.lastBotVoice >= 0 && now-p.lastBotVoice <= 2*audio.FrameDuration {
			u.BotTalking, u.BotLastHeard = true, p.lastBotVoice
			p.track = len(p.utter)
		}
		p.utter = append(p.utter, u)
	case Press:
		p.nextDigit = now
	}
}

// exec runs one tick of the started step st.
func (p *Person) exec(st *Step, now time.Duration, in []int16) (out []int16, done bool) {
	end := now + audio.FrameDuration
	switch st.Action {
	case Say:
		if p.pos >= len(p.clip) {
			p.utter[len(p.utter)-1].End = now
			return nil, true
		}
		out = make([]int16, p.frame)
		n := copy(out, p.clip[p.pos:])
		p.pos += n
		if p.pos >= len(p.clip) {
			p.utter[len(p.utter)-1].End = end
			return out, true
		}
		return out, false
	case Press:
		digits := []rune(st.Digits)
		if p.pos < len(digits) && now >= p.nextDigit {
			d := digits[p.pos]
			p.signals = append(p.signals, Signal{Kind: SignalDTMF, Digit: d, At: now})
			p.digits = append(p.digits, d)
			p.pos++
			p.nextDigit = now + p.cfg.DigitInterval
		}
		return nil, p.pos >= len(digits) && now+audio.FrameDuration >= p.nextDigit
	case Silence:
		return nil, now-p.startAt >= st.Duration
	case Echo:
		if st.Duration > 0 && now-p.startAt >= st.Duration {
			return nil, true
		}
		if in != nil {
			out = append([]int16(nil), in...)
			if len(out) != p.frame {
				out = fit(out, p.frame)
			}
		}
		return out, false
	case HangUp:
		p.hangup(now)
		return nil, true
	}
	return nil, true
}

func (p *Person) next(now time.Duration) {
	p.step++
	p.started = false
	p.clip = nil
	p.pendingAt = now + audio.FrameDuration
	p.botSpoke = false
}

func (p *Person) hangup(now time.Duration) {
	if p.hungUp {
		return
	}
	p.hungUp = true
	p.signals = append(p.signals, Signal{Kind: SignalHangup, At: now})
	p.cfg.Logger.Debug().Dur("at", now).Msg("callee hung up")
}

// HungUp reports whether the person has hung up.
func (p *Person) HungUp() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hungUp
}

// Done reports whether every step has been played (the person may still be on the line, silent).
func (p *Person) Done() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.step >= len(p.script.Steps)
}

// Transcript returns what the person said so far, in order.
func (p *Person) Transcript() []Utterance {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Utterance(nil), p.utter...)
}

// Digits returns the DTMF keys the person pressed so far.
func (p *Person) Digits() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.digits)
}

// BotFrames returns how many bot frames the person has heard.
func (p *Person) BotFrames() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.heard
}

// BotAudio returns everything the bot sent, placed in time (sample 0 is the answer; gaps are silence), at Rate.
// It is empty when Config.DiscardAudio is set.
func (p *Person) BotAudio() audio.Frame {
	p.mu.Lock()
	defer p.mu.Unlock()
	return audio.Frame{Rate: p.cfg.Rate, Samples: p.bot.samples()}
}

// CalleeAudio returns everything the person sent, placed in time like BotAudio.
func (p *Person) CalleeAudio() audio.Frame {
	p.mu.Lock()
	defer p.mu.Unlock()
	return audio.Frame{Rate: p.cfg.Rate, Samples: p.self.samples()}
}

// track is one side's recorded audio in blocks of trackBlock samples, so that a long call never copies (or
// faults in anew) what it already holds: with thousands of simulated callees, growing one slice per side cost the
// simulator a third of its CPU in memmove.
type track struct {
	blocks [][]int16
	n      int // samples up to the end of the furthest write
}

// trackBlock is a track's block length in samples.
const trackBlock = 16384

// place writes frame at the sample offset of at, the gap before it staying silent.
func (t *track) place(rate int, at time.Duration, frame []int16) {
	off := int(int64(at) * int64(rate) / int64(time.Second))
	t.n = max(t.n, off+len(frame))
	for len(frame) > 0 {
		b, i := off/trackBlock, off%trackBlock
		for len(t.blocks) <= b {
			t.blocks = append(t.blocks, make([]int16, trackBlock))
		}
		k := copy(t.blocks[b][i:], frame)
		frame, off = frame[k:], off+k
	}
}

// samples returns a copy of the whole track.
func (t *track) samples() []int16 {
	out := make([]int16, 0, t.n)
	for _, b := range t.blocks {
		out = append(out, b[:min(len(b), t.n-len(out))]...)
	}
	return out
}

func meanAbs(s []int16) int {
	if len(s) == 0 {
		return 0
	}
	var sum int64
	for _, v := range s {
		if v < 0 {
			sum -= int64(v)
		} else {
			sum += int64(v)
		}
	}
	return int(sum / int64(len(s)))
}

// fit pads or cuts s to n samples.
func fit(s []int16, n int) []int16 {
	if len(s) >= n {
		return s[:n]
	}
	return append(s, make([]int16, n-len(s))...)
}

// resample converts s from rate from to rate to by linear interpolation: enough for simulated voices and tones.
func resample(s []int16, from, to int) []int16 {
	if from == to || len(s) == 0 {
		return s
	}
	n := int(int64(len(s)) * int64(to) / int64(from))
	out := make([]int16, n)
	for i := range out {
		pos := float64(i) * float64(from) / float64(to)
		j := int(pos)
		frac := pos - float64(j)
		a := float64(s[min(j, len(s)-1)])
		b := float64(s[min(j+1, len(s)-1)])
		out[i] = int16(a + (b-a)*frac)
	}
	return out
}
