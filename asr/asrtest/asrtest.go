// Package asrtest holds instant, deterministic fake recognizers for simulations and tests of speech callers.
package asrtest

import (
	"context"
	"sync"
	"time"
	"unicode"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/tts/ttstest/modem"
)

// Recognizer recognises the audio of ttstest.Synthesizer (or ttstest.Render) as exactly the text it was made from,
// even after G.711, resampling, frame misalignment and mild noise, with no engine and no state shared between
// streams or processes. It cuts the stream into utterances by energy; for each it emits a partial Result as the
// text arrives and a final Result as soon as the last symbol is read. An utterance that is not such audio (speech,
// tones, noise) or that was cut short ends, after Hangover of silence, in a final Result with empty Text and
// Confidence 0. The zero value is ready to use.
type Recognizer struct {
	Faults       Faults
	Segmentation Segmentation
}

// Start begins a stream at c.SampleRate (default 16000). Only SampleRate and Endpointing of c matter.
func (r *Recognizer) Start(ctx context.Context, c asr.Config) (asr.Stream, error) {
	var rate int
	s, err := newStream(ctx, c, r.Segmentation, r.Faults, func(buf, onset time.Duration) utterance {
		d, _ := modem.NewDecoder(rate, rate*searchMillis/1000) // the rate was validated by newStream
		return &modemUtterance{start: buf, onset: onset, rate: rate, dec: d}
	})
	if err != nil {
		return nil, err
	}
	rate = s.rate
	return s, nil
}

const (
	searchMillis      = 150 // how far into an utterance the preamble may start
	partialEveryBytes = 8   // a partial result at most every 8 bytes of text (240 ms of audio)
)

// modemUtterance reads one message.
type modemUtterance struct {
	start    time.Duration // of the first sample given to dec
	onset    time.Duration
	rate     int
	dec      *modem.Decoder
	fed      int
	partial  string
	partials int
}

func (u *modemUtterance) feed(p []int16) ([]asr.Result, bool) {
	u.fed += len(p)
	_ = u.dec.Write(p) // a failed decoder ignores further audio; end reports the utterance as not understood
	if u.dec.Done() {
		text := u.dec.Text()
		from, to := u.dec.Span()
		var res []asr.Result
		if u.partials == 0 {
			res = append(res, u.result(text, false, from, to))
		}
		r := u.result(text, true, from, to)
		r.Confidence = min(max(u.dec.Quality(), 0), 1)
		return append(res, r), true
	}
	if t := u.dec.Text(); len(t) >= len(u.partial)+partialEveryBytes {
		u.partial = t
		u.partials++
		from, _ := u.dec.Span()
		return []asr.Result{u.result(t, false, from, u.fed)}, false
	}
	return nil, false
}

func (u *modemUtterance) end(at time.Duration) []asr.Result {
	return []asr.Result{{Final: true, Start: u.onset, End: at}}
}

func (u *modemUtterance) result(text string, final bool, from, to int) asr.Result {
	return asr.Result{
		Text:     text,
		Final:    final,
		Start:    u.start + samples(from, u.rate),
		End:      u.start + samples(to, u.rate),
		Language: language(text),
	}
}

// Scripted answers each utterance, whatever its audio, with the next queued text, for callers that feed plain
// tones, noise or real speech. Its queue is shared by all its streams, in the order utterances begin; when it is
// empty an utterance yields empty Text. It emits a partial (the first half of the text) once an utterance has
// lasted 100 ms and the final when Hangover of silence ends it.
type Scripted struct {
	Faults       Faults
	Segmentation Segmentation

	mu    sync.Mutex
	texts []string
}

// NewScripted returns a Scripted recognizer with texts queued.
func NewScripted(texts ...string) *Scripted {
	return &Scripted{texts: append([]string(nil), texts...)}
}

// Push queues more texts.
func (s *Scripted) Push(texts ...string) {
	s.mu.Lock()
	s.texts = append(s.texts, texts...)
	s.mu.Unlock()
}

// Remaining returns how many texts are still queued.
func (s *Scripted) Remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.texts)
}

func (s *Scripted) next() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.texts) == 0 {
		return ""
	}
	t := s.texts[0]
	s.texts = s.texts[1:]
	return t
}

// Start begins a stream at c.SampleRate (default 16000). Only SampleRate and Endpointing of c matter.
func (s *Scripted) Start(ctx context.Context, c asr.Config) (asr.Stream, error) {
	var rate int
	st, err := newStream(ctx, c, s.Segmentation, s.Faults, func(buf, onset time.Duration) utterance {
		return &scriptedUtterance{buf: buf, start: onset, rate: rate, text: s.next()}
	})
	if err != nil {
		return nil, err
	}
	rate = st.rate
	return st, nil
}

type scriptedUtterance struct {
	buf     time.Duration // offset of the first sample fed
	start   time.Duration // offset of the first loud block
	rate    int
	text    string
	fed     int
	partial bool
}

func (u *scriptedUtterance) feed(p []int16) ([]asr.Result, bool) {
	u.fed += len(p)
	at := u.buf + samples(u.fed, u.rate)
	if u.partial || at-u.start < 100*time.Millisecond {
		return nil, false
	}
	u.partial = true
	return []asr.Result{u.result(halfOf(u.text), false, at)}, false
}

func (u *scriptedUtterance) end(at time.Duration) []asr.Result {
	var res []asr.Result
	if !u.partial {
		res = append(res, u.result(halfOf(u.text), false, at))
	}
	r := u.result(u.text, true, at)
	if u.text != "" {
		r.Confidence = 1
	}
	return append(res, r)
}

func (u *scriptedUtterance) result(text string, final bool, end time.Duration) asr.Result {
	return asr.Result{Text: text, Final: final, Start: u.start, End: end, Language: language(text)}
}

func halfOf(s string) string {
	r := []rune(s)
	return string(r[:len(r)/2])
}

// language guesses "zh" for text with Han characters, "en" for other text with letters.
func language(s string) string {
	lang := ""
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return "zh"
		}
		if unicode.IsLetter(r) {
			lang = "en"
		}
	}
	return lang
}

func samples(n, rate int) time.Duration {
	return time.Duration(int64(n) * int64(time.Second) / int64(rate))
}
