package campaign

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
)

// AnswerClass is what picked up the call.
type AnswerClass string

// Answer classes.
const (
	ClassHuman        AnswerClass = "human"
	ClassMachine      AnswerClass = "machine"      // answering machine or voicemail greeting
	ClassFax          AnswerClass = "fax"          // fax calling tone (CNG)
	ClassSIT          AnswerClass = "sit"          // special information tones: vacant number, circuits busy
	ClassAnnouncement AnswerClass = "announcement" // a carrier's recorded message: 空号, 已关机, "not in service"
	ClassSilence      AnswerClass = "silence"      // nothing heard
)

// DefaultAnnouncements are carrier messages (zh and en) that mean no person will answer.
var DefaultAnnouncements = []string{
	"空号", "已关机", "停机", "无法接通", "正在通话中", "不在服务区", "暂时无法接通", "号码有误", "呼叫转移",
	"the number you have dialed", "the number you dialed", "is not in service", "not in service",
	"cannot be completed", "is switched off", "is not available", "please try again later",
}

// ClassifyConfig tunes answer classification. Its fields mirror Asterisk's AMD() parameters.
type ClassifyConfig struct {
	InitialSilence time.Duration  // silence before any speech that means nobody is there; default: 2.5s
	Greeting       time.Duration  // a first utterance longer than this is a machine's greeting; default: 1.5s
	AfterGreeting  time.Duration  // silence after a short first utterance that means a person waits; default: 800ms
	MaxUtterances  int            // more utterances than this before a pause is a machine; default: 3
	Total          time.Duration  // give up and call it a human (or silence if nothing was heard); default: 5s
	ASR            asr.Recognizer // optional: recognises carrier announcements
	ASRConfig      asr.Config     // for ASR; SampleRate is set from the media
	Announcements  []string       // default: DefaultAnnouncements
	VAD            audio.VADConfig
	Metrics        ClassMetrics // counts each verdict by class (pkg/metrics); default: none
}

// Classification is the verdict on an answered call.
type Classification struct {
	Class    AnswerClass
	Reason   string        // in words, for the call record
	Heard    string        // what the ASR heard, if any
	After    time.Duration // audio listened to before deciding
	Greeting time.Duration // length of the first utterance (machines: the greeting)
}

// Classify listens to the start of an answered call and says who or what answered: a person, an answering
// machine (greeting length and silence pattern, or its beep), a fax, SIT tones, a carrier announcement, or silence.
// It reads from m until it decides; the caller's script then speaks.
func Classify(ctx context.Context, m call.Media, cfg ClassifyConfig) (Classification, error) {
	cfg = cfg.withDefaults()
	rate := m.Format().Rate
	vad := audio.NewVAD(cfg.VAD)
	tones := audio.NewToneDetector(audio.ToneConfig{})
	var stream asr.Stream
	var results <-chan asr.Result
	if cfg.ASR != nil {
		ac := cfg.ASRConfig
		ac.SampleRate = rate
		s, err := cfg.ASR.Start(ctx, ac)
		if err != nil {
			return Classification{}, fmt.Errorf("campaign: classify: start ASR: %w", err)
		}
		stream, results = s, s.Results()
		defer s.Close()
	}
	var (
		pos        time.Duration
		speaking   bool
		utterances int
		firstStart time.Duration = -1
		greeting   time.Duration
		lastEnd    time.Duration
		heard      strings.Builder
		toneBuf    []audio.ToneEvent
	)
	verdict := func(c AnswerClass, reason string) (Classification, error) {
		cfg.Metrics.Class(string(c))
		return Classification{Class: c, Reason: reason, Heard: heard.String(), After: pos, Greeting: greeting}, nil
	}
	for pos < cfg.Total {
		f, err := m.Read(ctx)
		if err != nil {
			if errors.Is(err, call.ErrHungUp) {
				return Classification{Class: ClassSilence, Reason: "hung up while classifying", After: pos}, err
			}
			return Classification{}, err
		}
		pos += f.Duration()
		if stream != nil {
			_ = stream.Write(f)
		}
		toneBuf = tones.Process(toneBuf[:0], f)
		for _, t := range toneBuf {
			switch t.Kind {
			case audio.ToneFax:
				return verdict(ClassFax, "fax calling tone")
			case audio.ToneSIT:
				return verdict(ClassSIT, "special information tones")
			case audio.ToneBeep:
				return verdict(ClassMachine, fmt.Sprintf("answering-machine beep at %.0f Hz", t.Freq))
			}
		}
		if ev, ok := vad.Process(f); ok {
			switch ev.Kind {
			case audio.SpeechStart:
				speaking = true
				utterances++
				if firstStart < 0 {
					firstStart = ev.At
				}
			case audio.SpeechEnd:
				speaking = false
				lastEnd = ev.At
				if utterances == 1 {
					greeting = ev.At - firstStart
				}
			}
		}
		if results != nil {
			if c, done := drainAnnouncements(results, &heard, cfg.Announcements); done {
				return verdict(ClassAnnouncement, "carrier announcement: "+c)
			}
		}
		switch {
		case firstStart < 0 && pos >= cfg.InitialSilence:
			return verdict(ClassSilence, fmt.Sprintf("no speech in the first %s", cfg.InitialSilence))
		case speaking && utterances == 1 && pos-firstStart > cfg.Greeting:
			// A long first utterance: a person says "喂?" and waits; a machine reads its greeting. An ASR that is
			// listening gets a moment longer to recognise a carrier announcement, which is also long.
			if results == nil || pos-firstStart > cfg.Greeting+time.Second {
				greeting = pos - firstStart
				return verdict(ClassMachine, fmt.Sprintf("greeting longer than %s", cfg.Greeting))
			}
		case utterances > cfg.MaxUtterances:
			return verdict(ClassMachine, fmt.Sprintf("%d utterances without a pause", utterances))
		case !speaking && utterances >= 1 && greeting <= cfg.Greeting && pos-lastEnd >= cfg.AfterGreeting:
			if results != nil && heard.Len() == 0 {
				// Give the recogniser a last look at what was said before calling it a person.
				if c, done := waitAnnouncement(ctx, results, &heard, cfg.Announcements, 300*time.Millisecond); done {
					return verdict(ClassAnnouncement, "carrier announcement: "+c)
				}
			}
			return verdict(ClassHuman, fmt.Sprintf("short greeting (%s) then silence", greeting.Round(10*time.Millisecond)))
		}
	}
	if utterances == 0 {
		return verdict(ClassSilence, "nothing heard")
	}
	return verdict(ClassHuman, "undecided after "+cfg.Total.String()+": treated as a person")
}

func drainAnnouncements(results <-chan asr.Result, heard *strings.Builder, words []string) (string, bool) {
	for {
		select {
		case r, ok := <-results:
			if !ok {
				return "", false
			}
			if w, hit := matchAnnouncement(r.Text, words); hit {
				return w, true
			}
			if r.Final && r.Text != "" {
				heard.WriteString(r.Text)
			}
		default:
			return "", false
		}
	}
}

func waitAnnouncement(ctx context.Context, results <-chan asr.Result, heard *strings.Builder, words []string, d time.Duration) (string, bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case r, ok := <-results:
			if !ok {
				return "", false
			}
			if w, hit := matchAnnouncement(r.Text, words); hit {
				return w, true
			}
			if r.Final {
				if r.Text != "" {
					heard.WriteString(r.Text)
				}
				return "", false
			}
		case <-t.C:
			return "", false
		case <-ctx.Done():
			return "", false
		}
	}
}

func matchAnnouncement(text string, words []string) (string, bool) {
	lt := strings.ToLower(text)
	for _, w := range words {
		if w != "" && strings.Contains(lt, strings.ToLower(w)) {
			return w, true
		}
	}
	return "", false
}

func (c ClassifyConfig) withDefaults() ClassifyConfig {
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	if c.InitialSilence == 0 {
		c.InitialSilence = 2500 * time.Millisecond
	}
	if c.Greeting == 0 {
		c.Greeting = 1500 * time.Millisecond
	}
	if c.AfterGreeting == 0 {
		c.AfterGreeting = 800 * time.Millisecond
	}
	if c.MaxUtterances == 0 {
		c.MaxUtterances = 3
	}
	if c.Total == 0 {
		c.Total = 5 * time.Second
	}
	if c.Announcements == nil {
		c.Announcements = DefaultAnnouncements
	}
	return c
}

// ClassAction is what to do with a call of a given class.
type ClassAction int

// Actions per answer class.
const (
	RunScript    ClassAction = iota // hand the call to the script (the default for humans)
	HangupRetry                     // hang up and try again later (the machine retry rule)
	HangupFinal                     // hang up; the contact is done (vacant number, fax)
	LeaveMessage                    // play a voicemail message, then hang up and treat as done
)

// ClassifyingHandler classifies each answered call and then acts per class: actions[class] (defaults: humans run
// next, machines are retried, fax/SIT/announcements are final, silence is retried). leaveMessage plays a voicemail
// (may be nil when no class uses LeaveMessage). The classification is passed to next through ctx (see
// ClassificationFrom).
func ClassifyingHandler(cfg ClassifyConfig, actions map[AnswerClass]ClassAction, leaveMessage Handler, next Handler) Handler {
	act := map[AnswerClass]ClassAction{ClassHuman: RunScript, ClassMachine: HangupRetry, ClassFax: HangupFinal,
		ClassSIT: HangupFinal, ClassAnnouncement: HangupFinal, ClassSilence: HangupRetry}
	for k, v := range actions {
		act[k] = v
	}
	return func(ctx context.Context, c call.Call, a Attempt) (CallResult, error) {
		cl, err := Classify(ctx, c.Media(), cfg)
		if err != nil {
			return CallResult{Outcome: "hangup", Data: cl}, err
		}
		data := map[string]any{"class": cl.Class, "reason": cl.Reason}
		switch act[cl.Class] {
		case RunScript:
			return next(withClassification(ctx, cl), c, a)
		case LeaveMessage:
			if leaveMessage == nil {
				return CallResult{Outcome: string(cl.Class), Data: data}, errors.New("campaign: LeaveMessage needs a message handler")
			}
			r, err := leaveMessage(withClassification(ctx, cl), c, a)
			if r.Outcome == "" {
				r.Outcome = "voicemail"
			}
			return r, err
		case HangupRetry:
			return CallResult{Outcome: string(cl.Class), Data: data}, nil // "machine" and "silence" retry per RetryMachine
		}
		return CallResult{Outcome: string(cl.Class), Data: data}, nil
	}
}

type classKey struct{}

func withClassification(ctx context.Context, c Classification) context.Context {
	return context.WithValue(ctx, classKey{}, c)
}

// ClassificationFrom returns the classification ClassifyingHandler made for this call.
func ClassificationFrom(ctx context.Context) (Classification, bool) {
	c, ok := ctx.Value(classKey{}).(Classification)
	return c, ok
}
