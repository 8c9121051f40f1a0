package turn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
)

// Player is the bot's prompt being written to the call, as a Driver sees it.
type Player interface {
	Done() <-chan struct{} // closed once the writer stopped: all audio written, a rendering failed for good, or Stop
	Played() time.Duration // audio written into the call so far (queued for playout); final once Done is closed
	Length() time.Duration // the whole prompt's length when the synthesizer told it up front, else 0
	Err() error            // once Done is closed: the rendering failure that stopped the writer, or nil
	Stop()                 // stop writing and wait until Done is closed; a stopped Player stays stopped
}

// Media is the call as a Driver uses it.
type Media struct {
	Frames  <-chan audio.Frame   // the callee's frames, closed when the media ends
	ReadErr func() error         // why Frames was closed
	Events  <-chan call.Event    // the call's events (DTMF, hang-up), closed at hang-up
	Holder  call.Holder          // holds the bot's playout (Action.Hold); nil: the media cannot
	Flush   func() time.Duration // drops the bot's queued audio and says how much the callee heard (call.Media.Flush)
}

// Driver feeds a Taker from a call's channels and carries out its Actions: the small glue between the
// frame-driven Taker and the goroutines of media, recognition and synthesis.
type Driver struct {
	Taker *Taker
	Media Media
}

// Errors that end a turn from outside it.
var (
	ErrHungUp    = errors.New("turn: callee hung up")
	ErrASRClosed = errors.New("turn: recognition results closed unexpectedly") // the Fault's Err when Results closed early
)

// Run plays one turn: l's prompt through p (nil: nothing plays) while listening on stream (nil: recognition is
// down), until the Taker ends the turn, the callee hangs up (ErrHungUp), the media fails or ctx ends. With an
// error, the Outcome still says what the callee heard. A hold still on is released and p is stopped on return.
func (d *Driver) Run(ctx context.Context, l Listen, p Player, stream asr.Stream) (Outcome, error) {
	r := &turnRun{d: d, p: p, stream: stream}
	if p != nil {
		r.done = p.Done()
	}
	if stream != nil {
		r.results = stream.Results()
	}
	l.Playing, l.ASR = p != nil, stream != nil
	defer r.cleanup()
	a := d.Taker.Begin(l)
	for !r.apply(a) {
		var err error
		if a, err = r.next(ctx); err != nil {
			return d.Taker.Outcome(), err
		}
	}
	return d.Taker.Outcome(), nil
}

// turnRun is one Run's channels and effects.
type turnRun struct {
	d       *Driver
	p       Player
	done    <-chan struct{} // p.Done() until it was seen; nil after
	stream  asr.Stream
	results <-chan asr.Result // nil once recognition is lost
	held    bool
}

// next waits for the next input and hands it to the Taker.
func (r *turnRun) next(ctx context.Context) (Action, error) {
	k := r.d.Taker
	select {
	case <-ctx.Done():
		return Action{}, ctx.Err()
	case ev, ok := <-r.d.Media.Events:
		if !ok || ev.Type == call.EventHangup {
			return Action{}, ErrHungUp
		}
		if ev.Type == call.EventDTMF {
			return k.Digit(ev.Digit), nil
		}
		return Action{}, nil
	case f, ok := <-r.d.Media.Frames:
		if !ok {
			return Action{}, r.mediaEnded(ctx)
		}
		return k.Frame(f, time.Now()), nil
	case res, ok := <-r.results:
		if !ok || res.Err != nil {
			r.results = nil
			if !ok {
				res.Err = ErrASRClosed
			}
			return k.ASRLost(res.Err), nil
		}
		return k.Result(res, time.Now()), nil
	case <-r.done:
		r.done = nil
		return k.SpeechDone(r.p.Played(), r.p.Err()), nil
	}
}

// apply carries out a, in the order Action documents, and reports whether the turn is over.
func (r *turnRun) apply(a Action) bool {
	for _, f := range a.Recognize {
		if err := r.stream.Write(f); err != nil {
			r.results = nil
			if r.d.Taker.ASRLost(err).End {
				return true // the rest of a is moot: cleanup releases a hold
			}
			break
		}
	}
	if a.Hold && r.d.Media.Holder != nil {
		r.d.Media.Holder.Hold()
		r.held = true
	}
	if a.Stop && r.p != nil {
		r.p.Stop()
		played := r.d.Media.Flush()
		r.d.Taker.Stopped(played, r.p.Played(), r.p.Length())
		r.p, r.done = nil, nil
	}
	if a.Release {
		r.release()
	}
	return a.End
}

func (r *turnRun) release() {
	if r.held {
		r.d.Media.Holder.Release()
		r.held = false
	}
}

// mediaEnded says why the callee's frames stopped.
func (r *turnRun) mediaEnded(ctx context.Context) error {
	err := r.d.Media.ReadErr()
	switch {
	case err == nil || errors.Is(err, call.ErrHungUp):
		return ErrHungUp
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return fmt.Errorf("turn: read media: %w", err)
}

func (r *turnRun) cleanup() {
	if r.p != nil {
		r.p.Stop()
	}
	r.release()
}
