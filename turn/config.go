package turn

import (
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// Config holds the turn-taking thresholds of a call. Every duration is measured on the call's audio (20 ms per
// frame), so behaviour does not depend on how busy the machine is. Zero fields take the defaults noted beside them.
type Config struct {
	BargeInAfter time.Duration // speech this long while the bot talks interrupts it, once the recogniser has words that are not a backchannel; default 400ms
	// BargeInNoText is how long speech with no recognised words yet must last to interrupt the bot: a backchannel
	// (嗯, 好的, "ok") is short, and until the recogniser has its words it cannot be told from an interruption.
	BargeInNoText time.Duration // default 800ms; never less than BargeInAfter
	BargeInChars  int           // a recognised interruption shorter than this many CJK characters (or words) does not cut the bot; default 2
	DigitHold     time.Duration // wait for more after a final that is a digit string; default 1.2s
	InterDigit    time.Duration // a DTMF reply ends after this gap; default 2s
	// Hold holds the bot's speech (Action.Hold) from the callee's first loud frame, flushes it once the
	// interruption is confirmed and releases it where it stopped when it was a cough or a backchannel. Set it
	// when the call's media can hold (call.Holder); default false: the bot talks until an interruption is confirmed.
	Hold      bool
	HoldGrace time.Duration // how long a hold waits after a loud frame the VAD has not confirmed as speech; default 100ms
	// GateASR sends the recognizer only the audio around the callee's speech, from ASRPreRoll before the VAD hears
	// a voice to ASRTail after it was last heard, instead of every frame.
	GateASR    bool
	ASRPreRoll time.Duration // with GateASR: audio kept before a voice and sent with it; default 400ms
	ASRTail    time.Duration // with GateASR: audio sent after the voice was last heard; default 1s
	// BargeInProbability is the speech probability a frame needs to count toward barge-in, for a detector that
	// reports one (Silero; WebRTC's is 0 or 1). The energy detector counts frames by their level instead.
	BargeInProbability float64 // default 0.6
	// EndProbability and EndQuiet end the callee's speech sooner than the detector's hangover when it is sure the
	// callee is quiet: the probability under EndProbability for EndQuiet. Probabilities between that and speech
	// leave the end to the detector (its hangover, 300 ms by default). Only for detectors with a probability.
	EndProbability float64       // default 0.1
	EndQuiet       time.Duration // default 160ms
	// EchoTail and EchoLossDB tell the callee's voice from the echo of the bot's prompt, once the bot's frames are
	// given to Taker.Sent: a callee frame counts toward barge-in only when it is louder than the loudest bot frame
	// sent within EchoTail before it, less EchoLossDB (the echo path's least loss; Geigel's rule).
	EchoTail   time.Duration // the longest echo delay; default 250ms
	EchoLossDB float64       // default 6 dB
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.BargeInAfter, 400*time.Millisecond)
	def(&c.BargeInNoText, 800*time.Millisecond)
	c.BargeInNoText = max(c.BargeInNoText, c.BargeInAfter)
	if c.BargeInChars <= 0 {
		c.BargeInChars = 2
	}
	def(&c.ASRPreRoll, 400*time.Millisecond)
	def(&c.ASRTail, time.Second)
	def(&c.HoldGrace, 100*time.Millisecond)
	def(&c.DigitHold, 1200*time.Millisecond)
	def(&c.InterDigit, 2*time.Second)
	def(&c.EchoTail, 250*time.Millisecond)
	if c.BargeInProbability <= 0 {
		c.BargeInProbability = 0.6
	}
	if c.EndProbability <= 0 {
		c.EndProbability = 0.1
	}
	def(&c.EndQuiet, 160*time.Millisecond)
	if c.EchoLossDB <= 0 {
		c.EchoLossDB = 6
	}
	return c
}

// VAD is the voice activity detector a Taker listens with, one per call; *audio.VAD is one, and so is every
// audio.SpeechDetector (pkg/audio/vad). Loud is its earliest sign of a voice; the energy detector's Level and
// NoiseFloor, or another detector's Probability, tell voiced frames from the hangover after the last one.
type VAD interface {
	Process(f audio.Frame) (audio.VADEvent, bool) // analyse one frame; the speech boundary it completes, if any
	Speaking() bool                               // inside speech, between a SpeechStart and its SpeechEnd
	Loud() bool                                   // the last frame may start speech
	Voiced() bool                                 // the last frame keeps speech going
}

// leveled is a VAD that reports levels (the pure-Go *audio.VAD): barge-in timing then counts frames voicedDB
// above its noise floor, else the detector's own Voiced.
type leveled interface {
	Level() float64      // the last frame's level, dBFS
	NoiseFloor() float64 // the background level, dBFS
}

// prober is a VAD that reports a speech probability (audio.SpeechDetector).
type prober interface {
	Probability() float64 // the last frame's speech probability, 0 to 1
}

// voiced reports whether the last frame counts as voiced for barge-in timing: for the energy detector its level
// above the noise floor, for a detector with a probability that probability against minP, else its Voiced.
func voiced(v VAD, minP float64) bool {
	if l, ok := v.(leveled); ok {
		return l.Level() > l.NoiseFloor()+voicedDB
	}
	if p, ok := v.(prober); ok {
		return p.Probability() >= minP
	}
	return v.Voiced()
}

var _ VAD = (*audio.VAD)(nil)

// voicedDB is how far above the noise floor a frame must be to count as voiced for barge-in timing.
const voicedDB = 6
