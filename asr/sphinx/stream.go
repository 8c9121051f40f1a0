package sphinx

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
)

// Timing of the decoder's VAD (pocketsphinx defaults): speech is declared after vad_startspeech frames of it.
const (
	startspeech   = 100 * time.Millisecond
	partialPeriod = 300 * time.Millisecond
	histQuiet     = 8000       // 0.5 s at 16 kHz kept before an utterance
	histMax       = 30 * 16000 // longest utterance kept for a second pass
)

// stream decodes one call's audio on the caller's goroutine; a delivery goroutine hands results to Results so
// Write never waits for a reader.
type stream struct {
	rec      *Recognizer
	dec      *decoder
	rate     int
	rs       *audio.Resampler
	hangover time.Duration // silence after the decoder's VAD drops speech before the utterance ends
	lang     string
	filter   func(hyp string) string // when spotting: keeps the hotwords of a hypothesis

	wmu         sync.Mutex // guards the write side: Close may come from another goroutine than Write
	buf         []int16
	hist        []int16       // recent 16 kHz audio: the current utterance and up to histQuiet before it
	pos         time.Duration // audio written so far
	speaking    bool
	start       time.Duration // of the current utterance
	silentSince time.Duration // when the decoder last heard speech end; <0 while it hears speech
	lastPartial time.Duration
	partial     string
	failed      error
	closed      bool

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	queue  []asr.Result
	ending bool
	wake   chan struct{}
	out    chan asr.Result
}

// Results delivers partial and final results; it is closed after Close or a decoder failure.
func (s *stream) Results() <-chan asr.Result { return s.out }

// Write decodes one frame.
func (s *stream) Write(f audio.Frame) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case s.failed != nil:
		return s.failed
	case f.Rate != 0 && f.Rate != s.rate:
		return fmt.Errorf("%w: frame %d Hz, stream %d Hz", ErrRate, f.Rate, s.rate)
	}
	p := f.Samples
	if s.rs != nil {
		s.buf = s.rs.Process(s.buf, p)
		p = s.buf
	}
	s.pos += audio.Format{Rate: s.rate}.Duration(len(f.Samples))
	if !s.dec.inUtt {
		if err := s.dec.start(); err != nil {
			return s.fail(err)
		}
	}
	speech, err := s.dec.process(p)
	if err != nil {
		return s.fail(err)
	}
	s.hist = append(s.hist, p...)
	if keep := histMax; !s.speaking && !speech {
		keep = histQuiet
		if len(s.hist) > keep {
			s.hist = append(s.hist[:0], s.hist[len(s.hist)-keep:]...)
		}
	} else if len(s.hist) > keep {
		s.hist = append(s.hist[:0], s.hist[len(s.hist)-keep:]...)
	}
	switch {
	case speech && !s.speaking:
		s.speaking, s.silentSince = true, -1
		s.start = max(s.pos-startspeech-f.Duration(), 0)
		s.lastPartial, s.partial = s.pos, ""
	case speech:
		s.silentSince = -1
		if s.pos-s.lastPartial >= partialPeriod {
			s.lastPartial = s.pos
			if h := s.text(s.dec.hyp()); h != "" && h != s.partial {
				s.partial = h
				s.push(asr.Result{Text: h, Start: s.start, End: s.pos, Language: s.lang})
			}
		}
	case s.speaking && s.silentSince < 0:
		s.silentSince = s.pos - postspeechFrames*10*time.Millisecond
	case s.speaking && s.pos-s.silentSince >= s.hangover+postspeechFrames*10*time.Millisecond:
		if err := s.endUtterance(s.silentSince); err != nil {
			return s.fail(err)
		}
	}
	return nil
}

func (s *stream) text(hyp string) string {
	if s.filter != nil {
		return s.filter(hyp)
	}
	return strings.TrimSpace(hyp)
}

// endUtterance finishes the decoder's utterance and emits the final result.
func (s *stream) endUtterance(end time.Duration) error {
	h, err := s.dec.end()
	if err != nil {
		return err
	}
	if s.speaking && (!s.dec.warm || h == "") && len(s.hist) > 0 {
		// The utterance was heard with a channel estimate (pocketsphinx's live cepstral mean) that ending it has
		// just updated: the first utterance of a fresh decoder, or one no grammar path explained. Decode it again.
		s.dec.warm = true
		if err := s.dec.start(); err != nil {
			return err
		}
		if _, err := s.dec.process(s.hist); err != nil {
			return err
		}
		if h, err = s.dec.end(); err != nil {
			return err
		}
	}
	if s.speaking {
		s.hist = s.hist[:0]
		s.push(asr.Result{Text: s.text(h), Final: true, Start: s.start, End: max(end, s.start), Language: s.lang})
	}
	s.speaking = false
	return nil
}

// Close ends the stream: an utterance in progress is finished, queued results are delivered, then Results
// closes. The decoder goes back to the Recognizer's pool.
func (s *stream) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.failed == nil {
		end := s.pos
		if s.silentSince >= 0 {
			end = s.silentSince
		}
		err = s.endUtterance(end)
		s.rec.put(s.dec)
		s.finish()
	}
	s.dec = nil
	return err
}

func (s *stream) fail(err error) error {
	s.failed = err
	s.push(asr.Result{Final: true, Start: s.start, End: s.pos, Err: err})
	s.dec.free() // its state is unknown
	s.finish()
	return err
}

func (s *stream) push(r asr.Result) {
	s.mu.Lock()
	s.queue = append(s.queue, r)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *stream) finish() {
	s.mu.Lock()
	s.ending = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// deliver moves queued results to Results until the stream ends and all are delivered, or the context ends.
func (s *stream) deliver() {
	defer close(s.out)
	defer s.cancel()
	defer func() {
		if s.ctx.Err() == nil {
			return
		}
		// The caller's context ended without Close: release the decoder, which holds C memory.
		s.wmu.Lock()
		defer s.wmu.Unlock()
		if !s.closed && s.failed == nil {
			s.closed = true
			s.rec.put(s.dec)
			s.dec = nil
		}
	}()
	for {
		s.mu.Lock()
		q, ending := s.queue, s.ending
		s.queue = nil
		s.mu.Unlock()
		for _, r := range q {
			select {
			case s.out <- r:
			case <-s.ctx.Done():
				return
			}
		}
		if len(q) > 0 {
			continue
		}
		if ending {
			return
		}
		select {
		case <-s.wake:
		case <-s.ctx.Done():
			return
		}
	}
}
