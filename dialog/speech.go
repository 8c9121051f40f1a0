package dialog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/turn"
)

// speech is the bot's prompt being written to the call by its own goroutine: the turn.Player of a turn.
type speech struct {
	written atomic.Int64 // audio written so far
	full    atomic.Int64 // length of the whole prompt when the TTS knows it up front (tts.Sized), else 0
	cancel  context.CancelFunc
	done    chan struct{}      // closed when the writer stops; err and retried are set before
	first   time.Duration      // wall time from text to first frame written, when it came within speak's wait
	firstCh chan time.Duration // the first frame's wall time, sent once
	err     error              // a rendering that failed after its retries
	lastErr error              // the writer's last rendering failure
	retried []error            // failures a further rendering mended
}

var _ turn.Player = (*speech)(nil)

// Done implements turn.Player.
func (s *speech) Done() <-chan struct{} { return s.done }

// Played implements turn.Player: the audio written to the call so far.
func (s *speech) Played() time.Duration { return time.Duration(s.written.Load()) }

// Length implements turn.Player.
func (s *speech) Length() time.Duration { return time.Duration(s.full.Load()) }

// Err implements turn.Player; read it once Done is closed.
func (s *speech) Err() error { return s.err }

// Stop implements turn.Player.
func (s *speech) Stop() {
	s.cancel()
	<-s.done
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

// speak starts writing the prompt's audio to the call in a goroutine that stops with ctx or the speech's Stop.
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
	sp := &speech{cancel: cancel, done: make(chan struct{}), firstCh: make(chan time.Duration, 1)}
	t0 := time.Now()
	go func() {
		defer close(sp.done)
		for {
			select {
			case <-pctx.Done():
				return
			case text, ok := <-texts:
				if !ok || !r.speakText(pctx, sp, text, speed, t0) {
					return
				}
			}
		}
	}()
	return sp
}

// speakText renders text into the call, rendering it again after a failure (TurnConfig.TTSRetries) from where
// the audio stopped. It returns false once the call is gone or the speech was stopped.
func (r *runner) speakText(ctx context.Context, sp *speech, text string, speed float64, t0 time.Time) bool {
	rate := r.m.Format().Rate
	var played time.Duration // of this text
	for attempt := 0; ; attempt++ {
		err := r.render(ctx, text, speed, rate, &played, func(d time.Duration) {
			if attempt == 0 {
				sp.full.Add(int64(d)) // the whole text's length, known before it plays
			}
		}, func(f audio.Frame) error {
			if err := r.m.Write(ctx, f); err != nil {
				return err
			}
			if sp.written.Load() == 0 {
				sp.firstCh <- time.Since(t0)
			}
			sp.written.Add(int64(f.Duration()))
			return nil
		})
		if errors.Is(err, errMediaWrite) {
			return false
		}
		if err == nil || ctx.Err() != nil {
			if err == nil && attempt > 0 {
				sp.retried = append(sp.retried, sp.lastErr)
			}
			return true
		}
		sp.lastErr = err
		if attempt >= r.tc.TTSRetries {
			r.log.Error().Err(err).Int("attempts", attempt+1).Msg("TTS failed")
			if sp.err == nil {
				sp.err = err
			}
			return true
		}
		r.log.Warn().Err(err).Dur("played", played).Msg("TTS failed; rendering again")
	}
}
