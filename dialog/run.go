package dialog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/turn"
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
// behaviour does not depend on how busy the machine is. Package turn takes the turns (turn.Config); MaxTurns,
// ASRRestarts and TTSRetries are the runner's.
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
	// NoHold keeps the bot talking until an interruption is confirmed. By default, on a Media whose Caps have a
	// Holder, the bot's speech is held (silent, nothing dropped) from the callee's first loud frame, flushed
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

// withDefaults fills the runner's own defaults; the turn-taking thresholds get theirs in turn.Config.
func (t TurnConfig) withDefaults() TurnConfig {
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

// taking returns the turn-taking part of t, holding the bot's speech when hold (the media can) and t allows it.
func (t TurnConfig) taking(hold bool) turn.Config {
	return turn.Config{BargeInAfter: t.BargeInAfter, BargeInNoText: t.BargeInNoText, BargeInChars: t.BargeInChars,
		DigitHold: t.DigitHold, InterDigit: t.InterDigit, Hold: hold && !t.NoHold, HoldGrace: t.HoldGrace,
		GateASR: t.GateASR, ASRPreRoll: t.ASRPreRoll, ASRTail: t.ASRTail}
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
	listener  *turn.Driver // takes the turns, fed by the call's frames and events
	stream    asr.Stream   // the recognition stream; nil while recognition is down
	restarts  int          // recognition streams restarted so far
}

// listen returns the driver of the call's turns: the Media's own frame channel when it has one, else one fed by
// a reader goroutine that stops with ctx.
func (r *runner) listen(ctx context.Context) (*turn.Driver, error) {
	caps := r.m.Caps()
	media := turn.Media{Frames: caps.Frames, Events: r.c.Events(), Holder: caps.Holder, Flush: r.m.Flush, ReadErr: func() error {
		_, err := r.m.Read(ctx) // the channel is closed: Read says why at once
		return err
	}}
	if caps.Frames == nil {
		media.Frames, media.ReadErr = readFrames(ctx, r.m)
	}
	var vad turn.VAD = audio.NewVAD(r.tc.VAD)
	if r.tc.Detector != nil {
		d, err := r.tc.Detector()
		if err != nil {
			return nil, fmt.Errorf("dialog: voice activity detector: %w", err)
		}
		vad = d
	}
	return &turn.Driver{Taker: turn.New(r.tc.taking(caps.Holder != nil), vad), Media: media}, nil
}

// readFrames reads m's frames into a channel until Read fails or ctx ends, and says why it closed.
func readFrames(ctx context.Context, m call.Media) (<-chan audio.Frame, func() error) {
	ch := make(chan audio.Frame, 8)
	var err error // written before ch is closed
	go func() {
		defer close(ch)
		for {
			f, e := m.Read(ctx)
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

func (r *runner) run(ctx context.Context) (Result, error) {
	reply, err := r.open(ctx)
	if err != nil {
		return r.result(), err
	}
	defer func() {
		if r.stream != nil {
			r.stream.Close()
		}
	}()
	var pre *speech
	for {
		in, heard, bargeIn, lat, err := r.turn(ctx, reply, pre)
		pre = nil
		pf := asProviderFailure(err)
		if err != nil && pf == nil {
			if !errors.Is(err, turn.ErrHungUp) {
				return r.result(), err
			}
			in = HungUp()
		}
		if reply.Done {
			if pf != nil {
				r.incident(pf.kind, pf.err, ActionIgnored)
			}
			return r.finish(ctx, reply)
		}
		if pf != nil {
			reply = r.recover(ctx, reply, pf)
			continue
		}
		next, sp, err := r.step(ctx, reply, in, lat)
		if err != nil {
			return r.result(), err
		}
		pre = sp
		t := TurnOf(reply, in, next.Reply, r.conv.st, r.now())
		t.Heard, t.BargeIn, t.Latency = heard, bargeIn, next.lat
		r.journal(ctx, t)
		r.notify(ctx, next.Notify)
		r.log.Debug().Int("turn", t.Seq).Str("node", t.Node).Str("intent", t.Intent).Str("next", next.Node).
			Bool("barge_in", bargeIn).Dur("decide", t.Latency.Decide).Msg("turn")
		reply = next.Reply
		if in.Kind == Hangup {
			return r.result(), nil
		}
	}
}

// open starts the conversation and the recognition stream, and journals the opening. With recognition down
// from the start, the opening reply is the script's escalation. It returns ctx's error if ctx ends meanwhile.
func (r *runner) open(ctx context.Context) (Reply, error) {
	conv, open, err := Start(r.s, r.c.ID(), r.d.Vars, r.d.Options)
	if err != nil {
		return Reply{}, err
	}
	r.conv = conv
	r.stream, err = r.startASR(ctx)
	for err != nil && ctx.Err() == nil && r.restarts < r.tc.ASRRestarts {
		r.restarts++
		r.stream, err = r.startASR(ctx)
	}
	if ctx.Err() != nil {
		if r.stream != nil {
			r.stream.Close()
		}
		return Reply{}, ctx.Err()
	}
	listener, lerr := r.listen(ctx)
	if lerr != nil {
		if r.stream != nil {
			r.stream.Close()
		}
		return Reply{}, lerr
	}
	r.listener = listener
	r.journal(ctx, Turn{Seq: 0, Time: r.now(), Node: r.s.Start, Input: "start", Reply: open.Prompt, NextNode: open.Node})
	r.notify(ctx, open.Notify)
	if err != nil {
		// No recognition at all: say so to a human rather than talk to a callee the bot cannot hear.
		r.incident(IncidentASR, err, ActionEscalated)
		return r.escalate(ctx, open, TagASRFailed), nil
	}
	return open, nil
}

// recover is the reply after a provider failure ended the turn at prev: the prompt asked again on a restarted
// recognition stream, else the script's escalation.
func (r *runner) recover(ctx context.Context, prev Reply, pf *providerFailure) Reply {
	if pf.kind == IncidentTTS {
		r.incident(IncidentTTS, pf.err, ActionEscalated)
		return r.escalate(ctx, prev, TagTTSFailed)
	}
	_ = r.stream.Close()
	r.stream = nil
	if r.restarts < r.tc.ASRRestarts {
		r.restarts++
		var err error
		if r.stream, err = r.startASR(ctx); err == nil {
			r.incident(IncidentASR, pf.err, ActionRestarted)
			return r.conv.askAgain(prev)
		}
		r.log.Error().Err(err).Msg("ASR restart failed")
	}
	r.incident(IncidentASR, pf.err, ActionEscalated)
	return r.escalate(ctx, prev, TagASRFailed)
}

// stepped is the conversation's answer to a turn, with the turn's latencies.
type stepped struct {
	Reply
	lat Latency
}

// step feeds the callee's input to the conversation and starts speaking the reply before the journal write (the
// callee does not wait for Redis); an LLM node's sentences start playing while the model writes the next ones.
func (r *runner) step(ctx context.Context, reply Reply, in Input, lat Latency) (stepped, *speech, error) {
	t0 := time.Now()
	var pre *speech
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
			pre.Stop()
			pre = nil
		}
	}
	if err != nil {
		return stepped{}, nil, err
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
		pre = r.speak(ctx, next.Prompt, next.Speed)
	}
	return stepped{Reply: next, lat: lat}, pre, nil
}

// turn speaks reply.Prompt (pre: already being spoken) and listens for the callee's answer. For a final reply
// (Done) it speaks without barge-in and returns once the audio has played. A provider failure comes back as a
// *providerFailure error; the callee hanging up as turn.ErrHungUp with the input HungUp.
func (r *runner) turn(ctx context.Context, reply Reply, pre *speech) (in Input, heard string, bargeIn bool, lat Latency, err error) {
	sp := pre
	if sp == nil && reply.Prompt != "" {
		sp = r.speak(ctx, reply.Prompt, reply.Speed)
	}
	var p turn.Player // nil, not a nil *speech, when nothing plays
	if sp != nil {
		p, lat.TTSFirst = sp, sp.first
	}
	out, err := r.listener.Run(ctx, r.listenOf(reply), p, r.stream)
	if sp != nil {
		for _, e := range sp.retried { // the writer has stopped: Run stops its player
			r.incident(IncidentTTS, e, ActionRetried)
		}
	}
	heard, bargeIn = out.Heard, out.BargeIn
	switch {
	case errors.Is(err, turn.ErrHungUp):
		return HungUp(), heard, bargeIn, lat, err
	case err != nil:
		return Input{}, heard, bargeIn, lat, err
	case out.Fault != nil:
		kind := IncidentTTS
		if out.Fault.Source == turn.ASR {
			kind = IncidentASR
			r.log.Warn().Err(out.Fault.Err).Msg("ASR failed")
		}
		err = &providerFailure{kind, out.Fault.Err}
	}
	switch out.Kind {
	case turn.Utterance:
		lat.ASR = out.ASRLatency
		return Say(out.Text), heard, bargeIn, lat, nil
	case turn.Keys:
		return Press(out.Digits), heard, bargeIn, lat, nil
	case turn.Silence:
		return Silence(), heard, bargeIn, lat, nil
	}
	return Input{}, heard, bargeIn, lat, err
}

// listenOf is how the turn that speaks reply listens.
func (r *runner) listenOf(reply Reply) turn.Listen {
	l := reply.Listen
	return turn.Listen{Prompt: reply.Prompt, Closing: reply.Done, BargeIn: l.BargeIn == nil || *l.BargeIn,
		DTMF: l.DTMF, DTMFMax: l.DTMFMax, Timeout: time.Duration(l.Timeout), MaxUtterance: time.Duration(l.MaxUtterance),
		Digits: wantsDigits(r.s, r.conv.st.Node)}
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
