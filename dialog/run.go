package dialog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/nlu"
	"github.com/outcall/outcall/tts"
	"github.com/rs/zerolog"
)

// Deps are what Run needs besides the call and the script. ASR and TTS are required.
type Deps struct {
	ASR        asr.Recognizer   // speech recognition; required
	TTS        tts.Synthesizer  // speech synthesis; required (wrap it in tts.NewResilient for retries and a fallback voice)
	Store      Store            // state and journal, one round trip per turn; nil: not persisted
	Notifier   Notifier         // carries out the script's notify requests; nil: they are only logged
	Classifier Classifier       // intent classifier (e.g. FromNLU(matcher)); overrides Options.Classifier when set
	LLM        LLM              // model for LLM nodes (e.g. NewOpenAI); overrides Options.LLM when set
	Clock      func() time.Time // clock for journal times, dates and callbacks; default time.Now
	Options    Options          // further understanding parts: sentiment, extractor, knowledge base
	Logger     *zerolog.Logger  // default: zerolog.Nop(); phone numbers and transcripts are never logged
	Vars       map[string]any   // the contact record
	Turn       TurnConfig       // turn-taking thresholds
	Voice      string           // TTS voice; empty: the provider's default
	// OnTurn is called with each journaled turn, e.g. to feed latency histograms:
	//	OnTurn: func(t dialog.Turn) { m.ObserveTurn(metrics.TurnLatency{ASR: t.Latency.ASR, Decide: t.Latency.Decide, TTSFirst: t.Latency.TTSFirst}) }
	OnTurn func(Turn) // default: nil
}

// TurnConfig holds turn-taking thresholds. Every duration is measured on the call's audio (20 ms per frame), so
// behaviour does not depend on how busy the machine is.
type TurnConfig struct {
	VAD          audio.VADConfig // voice activity detection; zero fields take audio's defaults
	BargeInAfter time.Duration   // speech this long while the bot talks interrupts it, once the recogniser has words that are not a backchannel; default 400ms
	// BargeInNoText is how long speech with no recognised words yet must last to interrupt the bot: a backchannel
	// (嗯, 好的, "ok") is short, and until the recogniser has its words it cannot be told from an interruption.
	BargeInNoText time.Duration // default 800ms; never less than BargeInAfter
	BargeInChars  int           // a recognised interruption shorter than this many CJK characters (or words) does not cut the bot; default 2
	DigitHold     time.Duration // wait for more after a final that is a digit string; default 1.2s
	InterDigit    time.Duration // DTMF reply ends after this gap; default 2s
	MaxTurns      int           // turns before the call is ended as unresolved; default 40
	ASRRestarts   int           // restarts of a failed recognition stream per call before escalating; default 1; <0: none
	TTSRetries    int           // further renderings of a prompt whose rendering failed, before escalating; default 1; <0: none
	// NoHold keeps the bot talking until an interruption is confirmed. By default, on a Media that implements
	// call.Holder, the bot's speech is held (silent, nothing dropped) from the callee's first loud frame, flushed
	// once the interruption is confirmed (BargeInAfter, BargeInNoText, a final transcript) and released where it
	// stopped when it was a cough or a backchannel: the bot stops within a frame or two of the callee's onset.
	NoHold bool
	// GateASR feeds the recognizer only around the callee's speech, from ASRPreRoll before the VAD hears a voice
	// to ASRTail after it was last heard, instead of every frame: a recognizer billed per second of audio costs a
	// fraction (the bot talks most of an outbound call), and each call takes far less CPU. Use it with recognizers
	// that accept gaps in their stream; one that ends an idle stream needs every frame (the default).
	GateASR    bool
	ASRPreRoll time.Duration // with GateASR: audio kept before a voice and sent with it; default 400ms
	ASRTail    time.Duration // with GateASR: audio sent after the voice was last heard; default 1s
	// HoldGrace is how long a held prompt waits after a loud frame that the VAD has not confirmed as speech
	// before it carries on; default 100ms. Once the VAD confirms speech, the hold lasts until the speech ends.
	HoldGrace time.Duration
	// Detector makes the call's voice activity detector (pkg/audio/vad.Open: energy, webrtc, silero); nil: the
	// pure-Go audio.NewVAD(VAD).
	Detector audio.DetectorFactory
}

func (t TurnConfig) withDefaults() TurnConfig {
	if t.BargeInAfter <= 0 {
		t.BargeInAfter = 400 * time.Millisecond
	}
	if t.BargeInChars <= 0 {
		t.BargeInChars = 2
	}
	if t.BargeInNoText <= 0 {
		t.BargeInNoText = 800 * time.Millisecond
	}
	t.BargeInNoText = max(t.BargeInNoText, t.BargeInAfter)
	if t.ASRPreRoll <= 0 {
		t.ASRPreRoll = 400 * time.Millisecond
	}
	if t.ASRTail <= 0 {
		t.ASRTail = time.Second
	}
	if t.HoldGrace <= 0 {
		t.HoldGrace = 100 * time.Millisecond
	}
	if t.DigitHold <= 0 {
		t.DigitHold = 1200 * time.Millisecond
	}
	if t.InterDigit <= 0 {
		t.InterDigit = 2 * time.Second
	}
	if t.MaxTurns <= 0 {
		t.MaxTurns = 40
	}
	if t.ASRRestarts == 0 {
		t.ASRRestarts = 1
	} else if t.ASRRestarts < 0 {
		t.ASRRestarts = 0
	}
	if t.TTSRetries == 0 {
		t.TTSRetries = 1
	} else if t.TTSRetries < 0 {
		t.TTSRetries = 0
	}
	return t
}

// Result is what a call's conversation produced: what a campaign needs to decide retries and do-not-call entries,
// and what a report shows.
type Result struct {
	CallID         string         // the call
	Outcome        Outcome        // tags, end, transfer reason, callback time, opt-out
	Slots          map[string]any // captured slot values
	Turns          []Turn         // the journal: prompt, heard, transcript, intent, sentiment, latencies
	TransferReason string         // Outcome.TransferReason, for convenience
	CallbackAt     time.Time      // Outcome.CallbackAt
	OptOut         bool           // Outcome.OptOut: add the number to the do-not-call list
	Incidents      []Incident     // provider failures handled during the call, and what was done about them
}

// ErrDeps reports a Deps value Run cannot work with.
var ErrDeps = errors.New("dialog: incomplete deps")

// Run converses with the callee on c until the script ends the call, the callee hangs up or ctx ends. It speaks
// each prompt through TTS, listens through VAD and ASR (DTMF from the call's events), lets the callee barge in,
// journals each turn and finally hangs up or transfers as the script says. The Result is valid even with an
// error (it holds what happened up to the failure).
//
// A provider failure does not drop the callee: a recognition stream that dies (a final Result with Err, Results
// closed early, a failed Write) is restarted up to TurnConfig.ASRRestarts times and the prompt asked again; a
// prompt whose rendering fails is rendered again up to TurnConfig.TTSRetries times, continuing where the audio
// stopped. Beyond that the call escalates as the script escalates unresolved turns (its escalate node, else a
// transfer to a human) with the tag TagASRFailed or TagTTSFailed; Result.Incidents records each failure. Wrap
// TTS in tts.NewResilient with a Fallback to keep speaking through a provider outage.
func Run(ctx context.Context, c call.Call, s *Script, d Deps) (Result, error) {
	if d.ASR == nil || d.TTS == nil {
		return Result{CallID: c.ID()}, fmt.Errorf("%w: ASR and TTS are required", ErrDeps)
	}
	log := zerolog.Nop()
	if d.Logger != nil {
		log = d.Logger.With().Str("call", c.ID()).Str("script", s.Name).Logger()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if d.Classifier != nil {
		d.Options.Classifier = d.Classifier
	}
	if d.LLM != nil {
		d.Options.LLM = d.LLM
	}
	if d.Clock != nil {
		d.Options.Now = d.Clock
	}
	r := &runner{c: c, s: s, d: d, log: log, tc: d.Turn.withDefaults(), m: c.Media(), now: d.Options.Now}
	if r.tc.GateASR {
		r.gate = newASRGate(r.tc.ASRPreRoll, r.tc.ASRTail)
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r.run(ctx)
}

type runner struct {
	c   call.Call
	s   *Script
	d   Deps
	tc  TurnConfig
	log zerolog.Logger
	m   call.Media
	now func() time.Time

	conv      *Conversation
	turns     []Turn
	incidents []Incident
	pos       time.Duration // callee audio received so far: the runner's clock
	gate      *asrGate      // TurnConfig.GateASR; nil: every frame goes to the recognizer
	gated     []audio.Frame // reused by the gate
}

// frameSource returns the callee's frames and, once their channel is closed, why: the Media's own channel when
// it has one (call.FrameChannel), else one fed by a reader goroutine.
func (r *runner) frameSource(ctx context.Context) (<-chan audio.Frame, func() error) {
	if fc, ok := r.m.(call.FrameChannel); ok {
		if ch := fc.Frames(); ch != nil {
			return ch, func() error {
				_, err := r.m.Read(ctx) // the channel is closed: Read says why at once
				return err
			}
		}
	}
	ch := make(chan audio.Frame, 8)
	var err error // written before ch is closed
	go func() {
		defer close(ch)
		for {
			f, e := r.m.Read(ctx)
			if e != nil {
				err = e
				return
			}
			select {
			case ch <- f:
			case <-ctx.Done():
				err = ctx.Err()
				return
			}
		}
	}()
	return ch, func() error { return err }
}

// speech is the bot's prompt being played.
type speech struct {
	total   time.Duration // audio written so far
	full    atomic.Int64  // length of the whole prompt when the TTS knows it up front (tts.Sized), else 0
	written bool          // the writer finished (all audio queued)
	start   time.Duration // r.pos when playback began
	cancel  context.CancelFunc
	done    chan time.Duration // the writer's total, once it stops
	first   time.Duration      // wall time from text to first frame written
	firstCh chan time.Duration
	err     error   // a rendering that failed after its retries; set before done is sent
	lastErr error   // the writer's last rendering failure
	retried []error // failures a further rendering mended; read after done
}

// errMediaWrite marks a failure to write to the call (hung up, cancelled), which no re-rendering mends.
var errMediaWrite = errors.New("dialog: media write")

// render synthesizes text and writes its frames through write, skipping the first *played of audio (what an
// earlier, failed rendering of the same text already played) and adding what it writes to *played.
func (r *runner) render(ctx context.Context, text string, speed float64, rate int, played *time.Duration,
	size func(time.Duration), write func(audio.Frame) error) error {
	src, err := r.d.TTS.Synthesize(ctx, tts.Request{Text: text, Language: r.s.Language, Speed: speed, Voice: r.d.Voice, Rate: rate})
	if err != nil {
		return err
	}
	if sz, ok := src.(tts.Sized); ok && size != nil {
		size(sz.Duration())
	}
	var pos time.Duration
	for {
		f, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		d := f.Duration()
		pos += d
		if pos <= *played {
			continue
		}
		if err := write(f); err != nil {
			return fmt.Errorf("%w: %w", errMediaWrite, err)
		}
		*played += d
	}
}

func (r *runner) run(ctx context.Context) (Result, error) {
	conv, open, err := Start(r.s, r.c.ID(), r.d.Vars, r.d.Options)
	if err != nil {
		return Result{CallID: r.c.ID()}, err
	}
	r.conv = conv
	restarts := 0
	stream, err := r.startASR(ctx)
	for err != nil && ctx.Err() == nil && restarts < r.tc.ASRRestarts {
		restarts++
		stream, err = r.startASR(ctx)
	}
	if ctx.Err() != nil {
		return r.result(), ctx.Err()
	}
	defer func() {
		if stream != nil {
			stream.Close()
		}
	}()

	frames, readErr := r.frameSource(ctx)

	var vad audio.SpeechDetector = audio.NewVAD(r.tc.VAD)
	if r.tc.Detector != nil {
		d, derr := r.tc.Detector()
		if derr != nil {
			return r.result(), fmt.Errorf("dialog: voice activity detector: %w", derr)
		}
		vad = d
	}
	events := r.c.Events()
	reply := open
	r.journal(ctx, Turn{Seq: 0, Time: r.now(), Node: r.s.Start, Input: "start", Reply: open.Prompt, NextNode: open.Node})
	r.notify(ctx, open.Notify)

	if err != nil {
		// No recognition at all: say so to a human rather than talk to a callee the bot cannot hear.
		r.incident(IncidentASR, err, ActionEscalated)
		reply = r.escalate(ctx, reply, TagASRFailed)
	}

	var pre *speech
	for {
		in, heard, bargeIn, lat, err := r.turn(ctx, reply, pre, stream, frames, readErr, events, vad)
		pre = nil
		pf := asProviderFailure(err)
		if err != nil && pf == nil {
			if errors.Is(err, errCalleeGone) {
				in = HungUp()
			} else {
				return r.result(), err
			}
		}
		if reply.Done {
			if pf != nil {
				r.incident(pf.kind, pf.err, ActionIgnored)
			}
			return r.finish(ctx, reply)
		}
		if pf != nil {
			switch pf.kind {
			case IncidentASR:
				_ = stream.Close()
				stream = nil
				if restarts < r.tc.ASRRestarts {
					restarts++
					if stream, err = r.startASR(ctx); err == nil {
						r.incident(IncidentASR, pf.err, ActionRestarted)
						reply = r.conv.askAgain(reply)
						continue
					}
					r.log.Error().Err(err).Msg("ASR restart failed")
				}
				r.incident(IncidentASR, pf.err, ActionEscalated)
				reply = r.escalate(ctx, reply, TagASRFailed)
			case IncidentTTS:
				r.incident(IncidentTTS, pf.err, ActionEscalated)
				reply = r.escalate(ctx, reply, TagTTSFailed)
			}
			continue
		}
		t0 := time.Now()
		var onSentence func(string)
		var sentences chan string
		if n := r.s.Nodes[r.conv.st.Node]; n != nil && n.LLM != nil && in.Kind != Hangup {
			sentences = make(chan string, 64)
			pre = r.speakStream(ctx, sentences, r.conv.speedOf(n))
			onSentence = func(s string) {
				select {
				case sentences <- s:
				case <-ctx.Done():
				}
			}
		}
		next, err := r.conv.StepStream(ctx, in, onSentence)
		if sentences != nil {
			close(sentences)
			if !next.Streamed {
				pre.cancel()
				<-pre.done
				pre = nil
			}
		}
		if err != nil {
			return r.result(), err
		}
		if next.LLMError != "" {
			r.incident(IncidentLLM, errors.New(next.LLMError), ActionFallback)
		}
		lat.Decide = time.Since(t0)
		if r.conv.st.Turn >= r.tc.MaxTurns && !next.Done {
			next = Reply{Node: next.Node}
			r.conv.toHuman(&next, "unresolved", TagUnresolved)
		}
		if pre == nil && in.Kind != Hangup && next.Prompt != "" {
			// The reply starts playing before the journal write: the callee does not wait for Redis.
			pre = r.speak(ctx, next.Prompt, next.Speed)
		}
		t := TurnOf(reply, in, next, r.conv.st, r.now())
		t.Heard, t.BargeIn, t.Latency = heard, bargeIn, lat
		r.journal(ctx, t)
		r.notify(ctx, next.Notify)
		r.log.Debug().Int("turn", t.Seq).Str("node", t.Node).Str("intent", t.Intent).Str("next", next.Node).
			Bool("barge_in", bargeIn).Dur("decide", lat.Decide).Msg("turn")
		reply = next
		if in.Kind == Hangup {
			return r.result(), nil
		}
	}
}

var errCalleeGone = errors.New("dialog: callee hung up")

// voicedDB is how far above the noise floor a frame must be to count as voiced for barge-in timing.
const voicedDB = 6

// voiced reports whether the last frame counts as voiced for barge-in timing: voicedDB over the energy
// detector's floor, or another detector's own Voiced.
func voiced(d audio.SpeechDetector) bool {
	if v, ok := d.(*audio.VAD); ok {
		return v.Level() > v.NoiseFloor()+voicedDB
	}
	return d.Voiced()
}

// turn speaks reply.Prompt and listens for the callee's answer. For a final reply (Done) it speaks without
// barge-in and returns once the audio has played.
func (r *runner) turn(ctx context.Context, reply Reply, pre *speech, stream asr.Stream, frames <-chan audio.Frame,
	readErr func() error, events <-chan call.Event, vad audio.SpeechDetector) (in Input, heard string, bargeIn bool, lat Latency, err error) {
	listen := reply.Listen
	bargeAllowed := listen.BargeIn == nil || *listen.BargeIn
	if reply.Done {
		bargeAllowed = false
	}
	sp := pre
	if sp == nil && reply.Prompt != "" {
		sp = r.speak(ctx, reply.Prompt, reply.Speed)
	}
	heard = reply.Prompt
	// Hold: the bot falls silent at the callee's first loud frame and carries on if it was not an interruption.
	holder, _ := r.m.(call.Holder)
	if r.tc.NoHold {
		holder = nil
	}
	var (
		held   bool
		heldAt time.Duration // r.pos when the hold began
		loudAt time.Duration // r.pos after the last loud frame during the hold
		bcDone bool          // during the hold, the recogniser finalised a backchannel: carry on once it is quiet
	)
	release := func() {
		if !held {
			return
		}
		holder.Release()
		held = false
		if sp != nil {
			sp.start += r.pos - heldAt // playout resumes where it stopped: the prompt ends that much later
		}
	}
	stopSpeech := func() {
		if sp == nil {
			release()
			return
		}
		sp.cancel()
		total := <-sp.done
		played := r.m.Flush()
		release()
		// What was written runs ahead of what was played by the playout queue, so the share of the prompt heard is
		// played over the whole prompt's length when the TTS told it, else over what had been written.
		if full := time.Duration(sp.full.Load()); full > total {
			total = full
		}
		if total > 0 && played < total {
			heard = prefixByShare(reply.Prompt, float64(played)/float64(total))
		}
		bargeIn = true
		sp = nil
	}
	defer func() {
		if sp != nil {
			sp.cancel()
			<-sp.done
		}
		release()
	}()
	speaking := func() bool {
		if sp == nil {
			return false
		}
		if held {
			return true
		}
		if !sp.written {
			select {
			case t := <-sp.done:
				sp.total, sp.written = t, true
				sp.done <- t // keep it readable for stopSpeech and the deferred wait
			default:
				return true
			}
		}
		return r.pos < sp.start+sp.total
	}
	timeout := time.Duration(listen.Timeout)
	if timeout <= 0 {
		timeout = 6 * time.Second
	}
	maxUtt := time.Duration(listen.MaxUtterance)
	if maxUtt <= 0 {
		maxUtt = 20 * time.Second
	}
	var results <-chan asr.Result // nil, never ready, when recognition is down (the final prompt of an escalation)
	if stream != nil {
		results = stream.Results()
	}
	var asrFailed error // a recognition failure during a closing prompt, which must still play
	// lostASR returns the failure that ends the turn, or nil during a closing prompt (recognition stops).
	lostASR := func(err error) error {
		f := &providerFailure{IncidentASR, err}
		if !reply.Done {
			return f
		}
		if asrFailed == nil {
			asrFailed = f
		}
		stream, results = nil, nil
		return nil
	}
	var (
		listenFrom  = time.Duration(-1) // r.pos when listening began (the prompt ended)
		onset       = time.Duration(-1) // start of the callee's current speech
		speechEnd   time.Time           // wall time of the last VAD end, for ASR latency
		text        string              // final text collected
		holdUntil   = time.Duration(-1) // digit string: wait for more until then
		digits      string
		lastDigitAt time.Duration
		partial     string
		lastVoiced  time.Duration
	)
	for {
		isSpeaking := speaking()
		if sp != nil && sp.written && len(sp.retried) > 0 {
			for _, e := range sp.retried {
				r.incident(IncidentTTS, e, ActionRetried)
			}
			sp.retried = nil
		}
		if sp != nil && sp.written && sp.err != nil && !reply.Done {
			// The prompt could not be rendered in full: the callee cannot answer what they did not hear.
			err := sp.err
			sp = nil
			return Input{}, heard, bargeIn, lat, &providerFailure{IncidentTTS, err}
		}
		if !isSpeaking && listenFrom < 0 {
			if reply.Done {
				// A closing prompt is played to its end whatever failed; the failure is only reported.
				var failed error
				if sp != nil {
					<-sp.done
					if sp.err != nil {
						failed = &providerFailure{IncidentTTS, sp.err}
					}
					sp = nil
				}
				if failed == nil {
					failed = asrFailed
				}
				return Input{}, heard, false, lat, failed
			}
			listenFrom = r.pos
		}
		if sp != nil && sp.first > 0 && lat.TTSFirst == 0 {
			lat.TTSFirst = sp.first
		}
		select {
		case <-ctx.Done():
			return Input{}, heard, bargeIn, lat, ctx.Err()
		case ev, ok := <-events:
			if !ok {
				return HungUp(), heard, bargeIn, lat, errCalleeGone
			}
			switch ev.Type {
			case call.EventHangup:
				return HungUp(), heard, bargeIn, lat, errCalleeGone
			case call.EventDTMF:
				if !listen.DTMF || reply.Done {
					continue
				}
				if speaking() && bargeAllowed {
					stopSpeech()
				}
				if ev.Digit == '#' {
					if digits != "" {
						return Press(digits), heard, bargeIn, lat, nil
					}
					continue
				}
				digits += string(ev.Digit)
				lastDigitAt = r.pos
				if len(digits) >= max(listen.DTMFMax, 1) {
					return Press(digits), heard, bargeIn, lat, nil
				}
			}
		case fr, ok := <-frames:
			if !ok {
				err := readErr()
				switch {
				case err == nil || errors.Is(err, call.ErrHungUp):
					return HungUp(), heard, bargeIn, lat, errCalleeGone
				case ctx.Err() != nil:
					return Input{}, heard, bargeIn, lat, ctx.Err()
				}
				return Input{}, heard, bargeIn, lat, fmt.Errorf("dialog: read media: %w", err)
			}
			r.pos += fr.Duration()
			ev, evOK := vad.Process(fr)
			if stream != nil {
				if err := r.recognize(stream, fr, vad); err != nil {
					if f := lostASR(err); f != nil {
						return Input{}, heard, bargeIn, lat, f
					}
				}
			}
			if evOK {
				switch ev.Kind {
				case audio.SpeechStart:
					onset = r.pos - (ev.Detected - ev.At)
				case audio.SpeechEnd:
					onset = -1
					speechEnd = time.Now()
				}
			}
			// Voiced frames extend the speech; the VAD's hangover after the last one does not count toward barge-in.
			if onset >= 0 && voiced(vad) {
				lastVoiced = r.pos
			}
			// Hold at the first loud frame; carry on when it was not speech after all, or the speech ended without
			// interrupting (a backchannel).
			if holder != nil && bargeAllowed && vad.Loud() && speaking() {
				if !held {
					holder.Hold()
					held, heldAt, bcDone = true, r.pos-fr.Duration(), false
				}
				loudAt = r.pos
			}
			if held && (!vad.Speaking() || bcDone) && r.pos-loudAt >= r.tc.HoldGrace {
				release()
			}
			// Barge-in: speech longer than the threshold while the bot talks, unless what was recognised so far
			// is a backchannel (嗯, 对, 好的) or too short to be a real interruption.
			if onset >= 0 && bargeAllowed && speaking() {
				talked := lastVoiced - onset
				words := partial != "" && !nlu.IsBackchannel(partial) && nlu.SpokenLength(partial) >= r.tc.BargeInChars
				if (words && talked >= r.tc.BargeInAfter) || (partial == "" && talked >= r.tc.BargeInNoText) {
					stopSpeech()
				}
			}
			if digits != "" && r.pos-lastDigitAt >= r.tc.InterDigit {
				return Press(digits), heard, bargeIn, lat, nil
			}
			if holdUntil >= 0 && r.pos >= holdUntil && onset < 0 {
				return r.utterance(text, speechEnd, &lat), heard, bargeIn, lat, nil
			}
			if onset >= 0 && r.pos-onset > maxUtt && text != "" {
				return r.utterance(text, speechEnd, &lat), heard, bargeIn, lat, nil
			}
			if listenFrom >= 0 && onset < 0 && text == "" && digits == "" && r.pos-listenFrom >= timeout {
				return Silence(), heard, bargeIn, lat, nil
			}
		case res, ok := <-results:
			if !ok || res.Err != nil {
				cause := errASRClosed
				if ok {
					cause = res.Err
				}
				r.log.Warn().Err(cause).Msg("ASR failed")
				if f := lostASR(cause); f != nil {
					return Input{}, heard, bargeIn, lat, f
				}
				continue
			}
			if !res.Final {
				partial = res.Text
				continue
			}
			partial = ""
			t := strings.TrimSpace(res.Text)
			if t == "" {
				continue
			}
			if speaking() && (nlu.IsBackchannel(t) || !bargeAllowed || nlu.SpokenLength(t) < r.tc.BargeInChars) {
				bcDone = held
				continue // a backchannel over the prompt is not a reply
			}
			if speaking() {
				stopSpeech()
			}
			if text != "" && !(nlu.IsDigitString(text) && nlu.IsDigitString(t)) {
				text += " "
			}
			text += t
			// A digit string read aloud (an ID tail, a card number) often pauses between groups: hold the turn.
			if nlu.IsDigitString(text) && wantsDigits(r.s, r.conv.st.Node) {
				holdUntil = r.pos + r.tc.DigitHold
				continue
			}
			return r.utterance(text, speechEnd, &lat), heard, bargeIn, lat, nil
		}
	}
}

// recognize passes f to the recognizer, through the gate when GateASR is set.
func (r *runner) recognize(stream asr.Stream, f audio.Frame, vad audio.SpeechDetector) error {
	if r.gate == nil {
		return stream.Write(f)
	}
	r.gated = r.gate.feed(r.gated[:0], f, r.pos, vad.Speaking() || vad.Loud())
	for i, g := range r.gated {
		r.gated[i] = audio.Frame{}
		if err := stream.Write(g); err != nil {
			return err
		}
	}
	return nil
}

func wantsDigits(s *Script, node string) bool {
	n := s.Nodes[node]
	if n == nil {
		return false
	}
	for _, name := range n.Capture {
		if sl := s.slotBy[name]; sl != nil && sl.Kind == "digits" {
			return true
		}
	}
	return false
}

func (r *runner) utterance(text string, speechEnd time.Time, lat *Latency) Input {
	if !speechEnd.IsZero() {
		lat.ASR = time.Since(speechEnd)
	}
	return Say(text)
}

// speak starts writing the prompt's audio to the call in a goroutine that stops with ctx or the speech's cancel.
func (r *runner) speak(ctx context.Context, text string, speed float64) *speech {
	texts := make(chan string, 1)
	texts <- text
	close(texts)
	sp := r.speakStream(ctx, texts, speed)
	// The first frame usually comes at once; do not block the turn on it.
	select {
	case d := <-sp.firstCh:
		sp.first = d
	case <-time.After(50 * time.Millisecond):
	}
	return sp
}

// speakStream speaks each text received on texts, in order, until texts is closed: sentences of an LLM answer
// start playing while the model is still writing the next ones.
func (r *runner) speakStream(ctx context.Context, texts <-chan string, speed float64) *speech {
	pctx, cancel := context.WithCancel(ctx)
	sp := &speech{start: r.pos, cancel: cancel, done: make(chan time.Duration, 1), firstCh: make(chan time.Duration, 1)}
	t0 := time.Now()
	rate := r.m.Format().Rate
	go func() {
		var total time.Duration
		defer func() { sp.done <- total }()
		for {
			var text string
			select {
			case <-pctx.Done():
				return
			case t, ok := <-texts:
				if !ok {
					return
				}
				text = t
			}
			var played time.Duration // of this text
			for attempt := 0; ; attempt++ {
				err := r.render(pctx, text, speed, rate, &played, func(d time.Duration) {
					if attempt == 0 {
						sp.full.Add(int64(d)) // the whole text's length, known before it plays
					}
				}, func(f audio.Frame) error {
					if err := r.m.Write(pctx, f); err != nil {
						return err
					}
					if total == 0 {
						sp.firstCh <- time.Since(t0)
					}
					total += f.Duration()
					return nil
				})
				if errors.Is(err, errMediaWrite) {
					return // the call is gone or the speech was stopped
				}
				if err == nil || pctx.Err() != nil {
					if err == nil && attempt > 0 {
						sp.retried = append(sp.retried, sp.lastErr)
					}
					break
				}
				sp.lastErr = err
				if attempt >= r.tc.TTSRetries {
					r.log.Error().Err(err).Int("attempts", attempt+1).Msg("TTS failed")
					if sp.err == nil {
						sp.err = err
					}
					break
				}
				r.log.Warn().Err(err).Dur("played", played).Msg("TTS failed; rendering again")
			}
		}
	}()
	return sp
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

func (r *runner) journal(ctx context.Context, t Turn) {
	r.turns = append(r.turns, t)
	if r.d.OnTurn != nil {
		r.d.OnTurn(t)
	}
	if r.d.Store == nil {
		return
	}
	if err := r.d.Store.SaveTurn(ctx, r.conv.st, t); err != nil {
		r.log.Error().Err(err).Int("turn", t.Seq).Msg("journal")
	}
}

func (r *runner) notify(ctx context.Context, ns []Notification) {
	for _, n := range ns {
		if r.d.Notifier == nil {
			r.log.Info().Str("channel", n.Channel).Str("node", n.Node).Msg("notification without a notifier")
			continue
		}
		if err := r.d.Notifier.Notify(ctx, n); err != nil {
			r.log.Error().Err(err).Str("channel", n.Channel).Msg("notify")
		}
	}
}

// finish carries out the end action after the last prompt played.
func (r *runner) finish(ctx context.Context, reply Reply) (Result, error) {
	var err error
	switch reply.End {
	case EndTransfer:
		t := reply.Transfer
		err = r.c.Transfer(ctx, call.Target{Endpoint: t.Endpoint, Context: t.Context, Extension: t.Extension})
		if err != nil && !errors.Is(err, call.ErrHungUp) {
			// A transfer that cannot happen (no target configured, agent unreachable) must not leave the callee on
			// a silent open line: end the call and report why.
			r.incident(IncidentTransfer, err, ActionHungUp)
			if herr := r.c.Hangup(context.WithoutCancel(ctx), call.CauseNormal); herr != nil && !errors.Is(herr, call.ErrHungUp) {
				r.log.Error().Err(herr).Msg("hang-up after a failed transfer failed")
			}
		}
	case EndHangup:
		err = r.c.Hangup(ctx, call.CauseNormal)
	}
	if errors.Is(err, call.ErrHungUp) {
		err = nil
	}
	if err != nil {
		err = fmt.Errorf("dialog: end action %s: %w", reply.End, err)
	}
	return r.result(), err
}

// startASR starts a recognition stream for the call's audio.
func (r *runner) startASR(ctx context.Context) (asr.Stream, error) {
	s, err := r.d.ASR.Start(ctx, asr.Config{Language: r.s.Language, SampleRate: r.m.Format().Rate})
	if err != nil {
		return nil, fmt.Errorf("dialog: start ASR: %w", err)
	}
	return s, nil
}

// incident records a provider failure.
func (r *runner) incident(kind string, err error, action string) {
	in := Incident{Kind: kind, Action: action}
	if err != nil {
		in.Err = err.Error()
	}
	if r.conv != nil {
		in.Turn, in.Node = r.conv.st.Turn, r.conv.st.Node
	}
	r.incidents = append(r.incidents, in)
	r.log.Warn().Str("kind", kind).Str("action", action).Err(err).Msg("provider failure")
}

// escalate sends the conversation the script's escalation way after a provider failure and journals it.
func (r *runner) escalate(ctx context.Context, prev Reply, tag string) Reply {
	next := r.conv.escalate(tag, tag)
	t := TurnOf(prev, Input{}, next, r.conv.st, r.now())
	t.Input = tag
	r.journal(ctx, t)
	r.notify(ctx, next.Notify)
	return next
}

func (r *runner) result() Result {
	res := Result{CallID: r.c.ID(), Turns: r.turns, Incidents: r.incidents}
	if r.conv != nil {
		st := r.conv.st
		res.Outcome = st.Outcome
		res.Outcome.Tags = append([]string(nil), st.Outcome.Tags...)
		res.Slots = map[string]any{}
		for k, v := range st.Slots {
			res.Slots[k] = v
		}
		res.TransferReason, res.CallbackAt, res.OptOut = st.Outcome.TransferReason, st.Outcome.CallbackAt, st.Outcome.OptOut
	}
	return res
}
