package turn_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/turn"
)

// effects logs what a Driver did to the call, in order.
type effects struct {
	mu  sync.Mutex
	log []string
}

func (e *effects) add(s string) {
	e.mu.Lock()
	e.log = append(e.log, s)
	e.mu.Unlock()
}

func (e *effects) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.log)
}

func (e *effects) Hold()    { e.add("hold") }
func (e *effects) Release() { e.add("release") }

// player is a prompt whose writer already wrote all of it.
type player struct {
	e       *effects
	written time.Duration
	done    chan struct{}
	once    sync.Once
}

func newPlayer(e *effects, written time.Duration) *player {
	return &player{e: e, written: written, done: make(chan struct{})}
}

func (p *player) Done() <-chan struct{} { return p.done }
func (p *player) Played() time.Duration { return p.written }
func (p *player) Length() time.Duration { return 0 }
func (p *player) Err() error            { return nil }
func (p *player) Stop() {
	p.once.Do(func() {
		p.e.add("stop")
		close(p.done)
	})
}

// stream is a recognition stream whose results the test sends.
type stream struct {
	results chan asr.Result
	mu      sync.Mutex
	writes  int
}

func (s *stream) Write(audio.Frame) error {
	s.mu.Lock()
	s.writes++
	s.mu.Unlock()
	return nil
}
func (s *stream) Results() <-chan asr.Result { return s.results }
func (s *stream) Close() error               { return nil }

func tone(n int) []audio.Frame {
	out := make([]audio.Frame, n)
	phase := 0.0
	for i := range out {
		s := make([]int16, 160)
		for j := range s {
			phase += 2 * math.Pi * 220 / 8000
			s[j] = int16(3000 * math.Sin(phase))
		}
		out[i] = audio.Frame{Rate: 8000, Samples: s}
	}
	return out
}

func hush(n int) []audio.Frame {
	out := make([]audio.Frame, n)
	for i := range out {
		s := make([]int16, 160)
		for j := range s {
			s[j] = int16(j%7 - 3)
		}
		out[i] = audio.Frame{Rate: 8000, Samples: s}
	}
	return out
}

// TestDriverBargeIn runs a whole barge-in through a Driver: the effects reach the call in the order Action
// documents (hold, stop, flush, release), every frame reaches the recognizer, the final ends the turn.
func TestDriverBargeIn(t *testing.T) {
	e := &effects{}
	frames := make(chan audio.Frame) // unbuffered: a send returns once the Driver has the frame
	events := make(chan call.Event)
	d := &turn.Driver{Taker: turn.New(turn.Config{Hold: true}, audio.NewVAD(audio.VADConfig{})), Media: turn.Media{
		Frames: frames, Events: events, Holder: e, ReadErr: func() error { return nil },
		Flush: func() time.Duration { e.add("flush"); return time.Second }}}
	st := &stream{results: make(chan asr.Result)}
	p := newPlayer(e, 4*time.Second)
	type result struct {
		out turn.Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := d.Run(context.Background(), turn.Listen{Prompt: "您好,请问您现在方便吗?", BargeIn: true}, p, st)
		done <- result{out, err}
	}()
	sent := 0
	for _, f := range append(hush(25), tone(60)...) {
		frames <- f
		sent++
	}
	st.results <- asr.Result{Text: "我想问一下价格", Final: true}
	r := <-done
	if r.err != nil || r.out.Kind != turn.Utterance || r.out.Text != "我想问一下价格" || !r.out.BargeIn {
		t.Fatalf("outcome %+v, %v", r.out, r.err)
	}
	// 60 frames of a voice with no words yet pass BargeInNoText (800 ms): held at once, stopped, flushed, released.
	if got := e.all(); !slices.Equal(got, []string{"hold", "stop", "flush", "release"}) {
		t.Errorf("effects %v", got)
	}
	// One second of the 4 s prompt was heard.
	if r.out.Heard != "您好," { // a quarter of its 12 characters
		t.Errorf("heard %q", r.out.Heard)
	}
	if st.writes != sent {
		t.Errorf("%d frames to the recognizer, %d sent", st.writes, sent)
	}
}

// TestDriverEnds: a hang-up, the media ending and a closed result channel end the turn; a hold still on is
// released and the prompt stopped.
func TestDriverEnds(t *testing.T) {
	errRead := errors.New("socket gone")
	cases := []struct {
		name   string
		end    func(frames chan audio.Frame, events chan call.Event, results chan asr.Result)
		check  func(error, turn.Outcome) bool
		readEr error
	}{
		{"hang-up event", func(_ chan audio.Frame, ev chan call.Event, _ chan asr.Result) {
			ev <- call.Event{Type: call.EventHangup}
		}, func(err error, _ turn.Outcome) bool { return errors.Is(err, turn.ErrHungUp) }, nil},
		{"media ended by a hang-up", func(f chan audio.Frame, _ chan call.Event, _ chan asr.Result) { close(f) },
			func(err error, _ turn.Outcome) bool { return errors.Is(err, turn.ErrHungUp) }, call.ErrHungUp},
		{"media failed", func(f chan audio.Frame, _ chan call.Event, _ chan asr.Result) { close(f) },
			func(err error, _ turn.Outcome) bool { return errors.Is(err, errRead) }, errRead},
		{"results closed early", func(_ chan audio.Frame, _ chan call.Event, res chan asr.Result) { close(res) },
			func(err error, out turn.Outcome) bool {
				return err == nil && out.Kind == turn.Failed && errors.Is(out.Fault.Err, turn.ErrASRClosed)
			}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := &effects{}
			frames, events := make(chan audio.Frame), make(chan call.Event)
			d := &turn.Driver{Taker: turn.New(turn.Config{Hold: true}, audio.NewVAD(audio.VADConfig{})), Media: turn.Media{
				Frames: frames, Events: events, Holder: e, ReadErr: func() error { return tc.readEr },
				Flush: func() time.Duration { return 0 }}}
			st := &stream{results: make(chan asr.Result)}
			done := make(chan error, 1)
			var out turn.Outcome
			go func() {
				var err error
				out, err = d.Run(context.Background(), turn.Listen{Prompt: "您好", BargeIn: true}, newPlayer(e, 4*time.Second), st)
				done <- err
			}()
			for _, f := range append(hush(25), tone(2)...) { // a cough: held
				frames <- f
			}
			tc.end(frames, events, st.results)
			err := <-done
			if !tc.check(err, out) {
				t.Fatalf("outcome %+v, %v", out, err)
			}
			got := e.all()
			slices.Sort(got)
			if !slices.Equal(got, []string{"hold", "release", "stop"}) {
				t.Errorf("effects %v, want the hold released and the prompt stopped", got)
			}
		})
	}
}
