package turn

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/nlu"
)

// Listen describes one turn: the prompt the bot plays and how it listens for the reply.
type Listen struct {
	Prompt       string        // the prompt's text, for Outcome.Heard
	Playing      bool          // the prompt's audio is being written to the call; false: nothing plays
	Closing      bool          // the call's last prompt: played to its end, without barge-in or listening
	BargeIn      bool          // the callee may interrupt the prompt (never while Closing)
	DTMF         bool          // keys are a reply (never while Closing)
	DTMFMax      int           // keys that end the reply at once; below 1: 1
	Timeout      time.Duration // no reply this long after the prompt ended: Silence; default 6s
	MaxUtterance time.Duration // speech longer than this ends the turn with what was recognised; default 20s
	Digits       bool          // a spoken digit string is wanted: after a final that is one, wait DigitHold for more
	ASR          bool          // a recognition stream is up; false: Action.Recognize stays empty
}

// Kind says how a turn ended.
type Kind int

// Turn endings.
const (
	Utterance Kind = iota + 1 // the callee said Outcome.Text
	Keys                      // the callee pressed Outcome.Digits
	Silence                   // no reply within Listen.Timeout
	Played                    // a closing prompt played to its end (Outcome.Fault: a failure it played through)
	Failed                    // a provider failed (Outcome.Fault): the prompt or the callee's reply was lost
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case Utterance:
		return "utterance"
	case Keys:
		return "keys"
	case Silence:
		return "silence"
	case Played:
		return "played"
	case Failed:
		return "failed"
	}
	return "none"
}

// Source names the provider of a Fault.
type Source string

// Fault sources.
const (
	ASR Source = "asr" // speech recognition: the stream failed or ended early
	TTS Source = "tts" // speech synthesis: the prompt's rendering failed for good
)

// Fault is a provider failure during a turn.
type Fault struct {
	Source Source
	Err    error
}

// Outcome is how a turn ended.
type Outcome struct {
	Kind       Kind
	Text       string        // Utterance: the final transcript
	Digits     string        // Keys: the keys pressed, without a closing '#'
	Heard      string        // the prompt as far as the callee heard it: all of it unless they barged in
	BargeIn    bool          // the callee interrupted the prompt
	ASRLatency time.Duration // Utterance: from the end of the callee's speech to the final transcript; 0: unknown
	Fault      *Fault        // Failed; Played: a failure the closing prompt played through
}

// Action is what the caller does after an input, in this order: write Recognize to the recognition stream (a
// failed write is an ASRLost input), hold the bot's playout, stop the prompt (stop the Player, flush the media,
// then report Stopped), release the playout. End: the turn is over and Outcome says how.
type Action struct {
	Recognize []audio.Frame // frames for the recognizer; valid until the next input
	Hold      bool
	Stop      bool
	Release   bool
	End       bool
}

// Taker takes the turns of one call: it decides when the callee interrupts the bot, when a cough or a backchannel
// does not, and when the callee's reply is complete. It is driven frame by frame: each input is one method
// returning what to do, it starts no goroutine and reads no clock (call audio is its clock, wall time comes with the
// inputs that need it for latency), so a test feeds it frames and checks each Action. Not safe for concurrent use.
type Taker struct {
	cfg  Config
	vad  VAD
	gate *gate         // Config.GateASR; nil: every frame goes to the recognizer
	echo *echoGuard    // the bot's frames given to Sent
	pos  time.Duration // callee audio received so far: the Taker's clock
	rec  []audio.Frame // Action.Recognize, reused
	s    state         // the current turn
}

// state is one turn's progress; Begin resets it.
type state struct {
	l     Listen
	barge bool // barge-in allowed
	asr   bool // recognition is up
	out   Outcome
	ended bool

	playing bool          // the prompt plays (not stopped, not failed)
	written bool          // the prompt's writer finished: total is all of it
	total   time.Duration // audio written, once written
	start   time.Duration // pos when playback began, moved on by each hold
	ttsErr  error         // Closing: the rendering failed, the prompt still ends the call
	asrErr  error         // Closing: recognition failed, the prompt still plays

	held   bool
	heldAt time.Duration // pos when the hold began
	loudAt time.Duration // pos after the last loud frame during the hold
	bcDone bool          // during the hold, the recogniser finalised a backchannel: carry on once it is quiet

	listenFrom  time.Duration // pos when listening began (the prompt ended); -1: not yet
	onset       time.Duration // start of the callee's current speech; -1: none
	lastVoiced  time.Duration // pos after the last voiced frame of the current speech
	talkFrom    time.Duration // start of the callee's talking in the current speech, echo aside; -1: none
	sureQuiet   time.Duration // with a probability: how long it has stayed under EndProbability in the speech
	endedEarly  bool          // the speech was ended by the probability before the detector's own end
	speechEnd   time.Time     // wall time of the last end of speech, for Outcome.ASRLatency
	holdUntil   time.Duration // a digit string was said: wait for more until then; -1: not holding
	text        string        // final text collected
	partial     string        // the recogniser's latest partial
	digits      string        // keys collected
	lastDigitAt time.Duration
}

// New returns a Taker listening with vad (one per call: it keeps the noise floor from turn to turn), with cfg's
// zero fields set to their defaults. Its first turn starts with Begin.
func New(cfg Config, vad VAD) *Taker {
	cfg = cfg.WithDefaults()
	k := &Taker{cfg: cfg, vad: vad, s: state{ended: true}, echo: newEchoGuard(cfg.EchoTail, cfg.EchoLossDB)}
	if cfg.GateASR {
		k.gate = newGate(cfg.ASRPreRoll, cfg.ASRTail)
	}
	return k
}

// Position returns how much callee audio the Taker has seen.
func (k *Taker) Position() time.Duration { return k.pos }

// Outcome returns how the current turn ended; before the end, its Heard and BargeIn so far.
func (k *Taker) Outcome() Outcome { return k.s.out }

// Speaking reports whether the bot's prompt is still playing (held counts as playing).
func (k *Taker) Speaking() bool {
	s := &k.s
	return s.playing && (s.held || !s.written || k.pos < s.start+s.total)
}

// Begin starts a turn; the prompt (when l.Playing) starts at the current position. The Action ends the turn at
// once for a closing turn with nothing to play.
func (k *Taker) Begin(l Listen) Action {
	if l.Timeout <= 0 {
		l.Timeout = 6 * time.Second
	}
	if l.MaxUtterance <= 0 {
		l.MaxUtterance = 20 * time.Second
	}
	l.DTMFMax = max(l.DTMFMax, 1)
	k.s = state{l: l, barge: l.BargeIn && !l.Closing, asr: l.ASR, playing: l.Playing, start: k.pos,
		listenFrom: -1, onset: -1, talkFrom: -1, holdUntil: -1, out: Outcome{Heard: l.Prompt}}
	var a Action
	k.settle(&a)
	return a
}

// Frame takes the callee's next frame, received at wall time now. Between turns it only feeds the VAD (and the
// recognizer).
func (k *Taker) Frame(f audio.Frame, now time.Time) Action {
	var a Action
	k.pos += f.Duration()
	ev, evOK := k.vad.Process(f)
	if k.s.asr {
		a.Recognize = k.recognize(f)
	}
	if k.s.ended {
		a.End = true
		return a
	}
	s := &k.s
	if evOK {
		switch ev.Kind {
		case audio.SpeechStart:
			s.onset = k.pos - (ev.Detected - ev.At)
			s.talkFrom = s.onset
		case audio.SpeechEnd:
			if !s.endedEarly {
				s.onset, s.talkFrom, s.speechEnd = -1, -1, now
			}
			s.endedEarly = false
		}
	}
	k.endpoint(f.Duration(), now)
	over := k.echo.over(k.pos, f.Samples)
	k.talk(over, f.Duration())
	k.hold(&a, f.Duration(), over)
	k.bargeIn(&a)
	k.expire(&a, now)
	k.settle(&a)
	return a
}

// Result takes a recognition result, received at wall time now; one with Err is an ASRLost.
func (k *Taker) Result(r asr.Result, now time.Time) Action {
	if r.Err != nil {
		return k.ASRLost(r.Err)
	}
	var a Action
	if k.s.ended {
		a.End = true
		return a
	}
	k.result(&a, r, now)
	k.settle(&a)
	return a
}

// ASRLost reports that the recognition stream failed (a failed write, a result with Err, results closed early).
// It ends the turn as Failed, even one the same input just ended, except during a closing prompt: that plays on,
// its Outcome carrying the fault. Afterwards no frame goes to Action.Recognize until the next Begin with ASR.
func (k *Taker) ASRLost(err error) Action {
	var a Action
	s := &k.s
	s.asr = false
	if !s.l.Closing {
		s.out = Outcome{Kind: Failed, Heard: s.out.Heard, BargeIn: s.out.BargeIn, Fault: &Fault{Source: ASR, Err: err}}
		k.end(&a, Failed)
		return a
	}
	if s.asrErr == nil {
		s.asrErr = err
	}
	k.settle(&a)
	a.End = a.End || s.ended
	return a
}

// Digit takes a DTMF key the callee pressed. '#' ends a reply of keys early.
func (k *Taker) Digit(d rune) Action {
	var a Action
	s := &k.s
	if s.ended {
		a.End = true
		return a
	}
	if s.l.DTMF && !s.l.Closing {
		k.digit(&a, d)
	}
	k.settle(&a)
	return a
}

// SpeechDone reports that the prompt's writer stopped on its own: written is the audio it wrote, err the rendering
// failure that stopped it. The prompt plays on until written has played; a failure ends the turn (the callee
// cannot answer what they did not hear), except a closing prompt's, which only goes into its Outcome.
func (k *Taker) SpeechDone(written time.Duration, err error) Action {
	var a Action
	s := &k.s
	if s.ended {
		a.End = true
		return a
	}
	if s.playing && !s.written {
		s.written, s.total = true, written
		switch {
		case err != nil && s.l.Closing:
			s.ttsErr = err
		case err != nil:
			s.playing = false
			s.out.Fault = &Fault{Source: TTS, Err: err}
			k.end(&a, Failed)
			return a
		}
	}
	k.settle(&a)
	return a
}

// Stopped completes an Action.Stop: played is how much of the prompt the callee heard (what the media's flush
// reported), written the audio the writer wrote, length the whole prompt's length when known up front (else 0).
func (k *Taker) Stopped(played, written, length time.Duration) {
	// What was written runs ahead of what was played by the playout queue, so the share heard is played over
	// the whole prompt's length when the synthesizer told it, else over what had been written.
	total := max(written, length)
	if total > 0 && played < total {
		k.s.out.Heard = prefixByShare(k.s.l.Prompt, float64(played)/float64(total))
	}
}

// Sent takes the bot's frame as it went to the callee (the playout's frame of the prompt), so that the echo of
// the bot's own voice in the callee's audio does not count as the callee talking (Config.EchoLossDB). Without it,
// every loud frame of the callee's counts.
func (k *Taker) Sent(f audio.Frame) { k.echo.add(k.pos, f.Samples) }

// endpoint ends the callee's speech by the detector's probability, for a detector that has one (not the energy
// detector, which keeps its own hangover): once the probability has stayed under EndProbability for EndQuiet the
// callee is surely quiet, sooner than the detector's hangover; frames between that and speech (a soft final
// syllable, a pause inside a group of digits) leave the end to the detector. Speech again before the detector's
// own end starts a new speech at once.
func (k *Taker) endpoint(d time.Duration, now time.Time) {
	p, ok := k.vad.(prober)
	if _, lev := k.vad.(leveled); !ok || lev {
		return
	}
	s := &k.s
	switch {
	case s.onset >= 0 && p.Probability() < k.cfg.EndProbability:
		s.sureQuiet += d
		if s.sureQuiet >= k.cfg.EndQuiet {
			s.onset, s.talkFrom, s.speechEnd, s.endedEarly = -1, -1, now, true
		}
	case s.onset >= 0:
		s.sureQuiet = 0
	case s.endedEarly && k.vad.Speaking() && k.vad.Loud():
		s.onset, s.talkFrom, s.sureQuiet, s.endedEarly = k.pos-d, k.pos-d, 0, false
	}
}

// talkGap is how long the callee's talking may pause with only the bot's echo heard (the VAD still in speech)
// before a later burst counts as new talking rather than its continuation. Pauses without echo (no Sent, or
// the bot quiet) never reset it: the timing is then the VAD's speech, as before the echo guard.
const talkGap = 300 * time.Millisecond

// talk times the callee's talking within the VAD's speech: voiced frames above the bot's echo extend it, and a
// gap of talkGap ending in a frame of echo ends it. The VAD's hangover after the last voiced frame does not count.
func (k *Taker) talk(over bool, d time.Duration) {
	s := &k.s
	if s.onset < 0 {
		return
	}
	switch {
	case over && voiced(k.vad, k.cfg.BargeInProbability):
		if s.talkFrom < 0 {
			s.talkFrom = k.pos - d
		}
		s.lastVoiced = k.pos
	case !over && s.talkFrom >= 0 && k.pos-max(s.lastVoiced, s.talkFrom) >= talkGap:
		s.talkFrom = -1
	}
}

// recognize returns the frames to send the recognizer for f: f itself, or what the gate lets through.
func (k *Taker) recognize(f audio.Frame) []audio.Frame {
	clear(k.rec) // drop the last frames' samples
	if k.gate == nil {
		k.rec = append(k.rec[:0], f)
		return k.rec
	}
	k.rec = k.gate.feed(k.rec[:0], f, k.pos, k.vad.Speaking() || k.vad.Loud())
	return k.rec
}

// hold holds the bot at the callee's first loud frame and carries on when it was not speech after all, or the
// speech ended without interrupting (a backchannel). d is the frame's length.
func (k *Taker) hold(a *Action, d time.Duration, over bool) {
	s := &k.s
	if k.cfg.Hold && s.barge && over && k.vad.Loud() && k.Speaking() {
		if !s.held {
			a.Hold = true
			s.held, s.heldAt, s.bcDone = true, k.pos-d, false
		}
		s.loudAt = k.pos
	}
	if s.held && (!k.vad.Speaking() || s.bcDone) && k.pos-s.loudAt >= k.cfg.HoldGrace {
		k.release(a)
	}
}

func (k *Taker) release(a *Action) {
	s := &k.s
	if !s.held {
		return
	}
	a.Release, s.held = true, false
	if s.playing {
		s.start += k.pos - s.heldAt // playout resumes where it stopped: the prompt ends that much later
	}
}

// bargeIn stops the bot when the callee's speech lasted long enough, unless what was recognised so far is a
// backchannel (嗯, 对, 好的) or too short to be a real interruption.
func (k *Taker) bargeIn(a *Action) {
	s := &k.s
	if s.talkFrom < 0 || !s.barge || !k.Speaking() {
		return
	}
	talked := s.lastVoiced - s.talkFrom
	words := s.partial != "" && !nlu.IsBackchannel(s.partial) && nlu.SpokenLength(s.partial) >= k.cfg.BargeInChars
	if (words && talked >= k.cfg.BargeInAfter) || (s.partial == "" && talked >= k.cfg.BargeInNoText) {
		k.stop(a)
	}
}

// stop stops the prompt: the caller stops the Player, flushes, reports Stopped, then releases a hold.
func (k *Taker) stop(a *Action) {
	s := &k.s
	if s.playing {
		a.Stop, s.playing, s.out.BargeIn = true, false, true
	}
	k.release(a)
}

// expire ends the turn on the call's clock: keys after the inter-digit gap, a held digit string, an over-long
// utterance, no reply at all.
func (k *Taker) expire(a *Action, now time.Time) {
	s := &k.s
	switch {
	case s.digits != "" && k.pos-s.lastDigitAt >= k.cfg.InterDigit:
		k.keys(a)
	case s.holdUntil >= 0 && k.pos >= s.holdUntil && s.onset < 0:
		k.utterance(a, now)
	case s.onset >= 0 && k.pos-s.onset > s.l.MaxUtterance && s.text != "":
		k.utterance(a, now)
	case s.listenFrom >= 0 && s.onset < 0 && s.text == "" && s.digits == "" && k.pos-s.listenFrom >= s.l.Timeout:
		k.end(a, Silence)
	}
}

func (k *Taker) result(a *Action, r asr.Result, now time.Time) {
	s := &k.s
	if !r.Final {
		s.partial = r.Text
		return
	}
	s.partial = ""
	t := strings.TrimSpace(r.Text)
	if t == "" {
		return
	}
	if k.Speaking() && (nlu.IsBackchannel(t) || !s.barge || nlu.SpokenLength(t) < k.cfg.BargeInChars) {
		s.bcDone = s.held // a backchannel over the prompt is not a reply
		return
	}
	if k.Speaking() {
		k.stop(a)
	}
	if s.text != "" && !(nlu.IsDigitString(s.text) && nlu.IsDigitString(t)) {
		s.text += " "
	}
	s.text += t
	// A digit string read aloud (an ID tail, a card number) often pauses between groups: hold the turn.
	if s.l.Digits && nlu.IsDigitString(s.text) {
		s.holdUntil = k.pos + k.cfg.DigitHold
		return
	}
	k.utterance(a, now)
}

func (k *Taker) digit(a *Action, d rune) {
	s := &k.s
	if k.Speaking() && s.barge {
		k.stop(a)
	}
	if d == '#' {
		if s.digits != "" {
			k.keys(a)
		}
		return
	}
	s.digits += string(d)
	s.lastDigitAt = k.pos
	if len(s.digits) >= s.l.DTMFMax {
		k.keys(a)
	}
}

// settle starts listening once the prompt has played, or ends a closing turn then.
func (k *Taker) settle(a *Action) {
	s := &k.s
	if s.ended || s.listenFrom >= 0 || k.Speaking() {
		return
	}
	if !s.l.Closing {
		s.listenFrom = k.pos
		return
	}
	switch {
	case s.ttsErr != nil:
		s.out.Fault = &Fault{Source: TTS, Err: s.ttsErr}
	case s.asrErr != nil:
		s.out.Fault = &Fault{Source: ASR, Err: s.asrErr}
	}
	k.end(a, Played)
}

func (k *Taker) keys(a *Action) {
	k.s.out.Digits = k.s.digits
	k.end(a, Keys)
}

func (k *Taker) utterance(a *Action, now time.Time) {
	s := &k.s
	s.out.Text = s.text
	if !s.speechEnd.IsZero() {
		s.out.ASRLatency = now.Sub(s.speechEnd)
	}
	k.end(a, Utterance)
}

// end ends the turn; a hold still on is released.
func (k *Taker) end(a *Action, kind Kind) {
	k.s.out.Kind, k.s.ended, a.End = kind, true, true
	k.release(a)
}

// prefixByShare returns the first share of text's characters: what the callee heard of an interrupted prompt.
func prefixByShare(text string, share float64) string {
	n := utf8.RuneCountInString(text)
	k := int(float64(n) * share)
	if k <= 0 {
		return ""
	}
	i := 0
	for j := range text {
		if i == k {
			return text[:j]
		}
		i++
	}
	return text
}
