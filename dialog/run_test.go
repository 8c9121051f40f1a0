package dialog_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/store"
	"github.com/outcall/outcall/tts/ttstest"
)

// fakeCall is a call.Call at the PBX boundary: its audio clock ticks once per Read (20 ms of call time, paced at a
// tenth of real time), it "plays" one queued bot frame per tick, and its callee follows a list of steps.
type fakeCall struct {
	t      *testing.T
	rate   int
	pace   time.Duration
	events chan call.Event

	mu         sync.Mutex
	tick       int
	queue      [][]int16
	played     time.Duration // since the last Flush
	heard      int           // bot frames the callee heard
	botSpoke   bool          // the bot spoke since the callee's last step
	quiet      int           // ticks since the bot's last frame
	pending    []int16       // callee audio still to send
	saidAt     int           // tick the callee's last words ended
	steps      []step
	hungUp     bool
	cause      call.Cause
	transfer   *call.Target
	closeOnce  sync.Once
	flushes    int
	flushAtBot int // bot frames heard at the first flush

	holding     bool // Media() is a call.Holder
	held        bool // on hold: no bot frame plays
	holds       int  // Hold calls
	heldTicks   int  // ticks spent on hold with bot audio queued
	talkingFrom int  // tick the callee's current words began; 0: not talking
	overTalk    int  // bot frames the callee heard while talking
}

// holdingCall is a fakeCall whose Media has a call.Holder.
type holdingCall struct{ *fakeCall }

func (c holdingCall) Media() call.Media { return c }
func (c holdingCall) Caps() call.Caps   { return call.Caps{Holder: c} }
func (c holdingCall) Hold() {
	c.mu.Lock()
	c.held = true
	c.holds++
	c.mu.Unlock()
}
func (c holdingCall) Release() {
	c.mu.Lock()
	c.held = false
	c.mu.Unlock()
}

type step struct {
	say      string
	atTick   int // > 0: at this tick, talking over the bot; 0: after the bot stops
	gap      int // > 0: this many ticks after the callee's previous words, whatever the bot does
	digits   string
	hangup   bool
	rendered []int16
}

func newFakeCall(t *testing.T, steps ...step) *fakeCall {
	return &fakeCall{t: t, rate: 8000, pace: 2 * time.Millisecond, events: make(chan call.Event, 32), steps: steps}
}

func (c *fakeCall) ID() string                { return "fake-1" }
func (c *fakeCall) Media() call.Media         { return c }
func (c *fakeCall) Events() <-chan call.Event { return c.events }
func (c *fakeCall) Format() audio.Format      { return audio.Format{Rate: c.rate} }
func (c *fakeCall) Caps() call.Caps           { return call.Caps{} }

func (c *fakeCall) end() {
	c.hungUp = true
	c.closeOnce.Do(func() { close(c.events) })
}

func (c *fakeCall) Hangup(ctx context.Context, cause call.Cause) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hungUp {
		return call.ErrHungUp
	}
	c.cause = cause
	c.end()
	return nil
}

func (c *fakeCall) Transfer(ctx context.Context, to call.Target) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hungUp {
		return call.ErrHungUp
	}
	c.transfer = &to
	c.end()
	return nil
}

func (c *fakeCall) SendDTMF(ctx context.Context, digits string) error { return nil }

func (c *fakeCall) Read(ctx context.Context) (audio.Frame, error) {
	select {
	case <-ctx.Done():
		return audio.Frame{}, ctx.Err()
	case <-time.After(c.pace):
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hungUp {
		return audio.Frame{}, call.ErrHungUp
	}
	c.tick++
	if len(c.queue) > 0 && c.held {
		c.heldTicks++
	} else if len(c.queue) > 0 {
		c.queue = c.queue[1:]
		c.played += audio.FrameDuration
		c.heard++
		c.botSpoke, c.quiet = true, 0
		if c.talkingFrom > 0 && len(c.pending) > 0 {
			c.overTalk++
		}
	} else {
		c.quiet++
	}
	if len(c.pending) == 0 && len(c.steps) > 0 {
		s := c.steps[0]
		if (s.gap > 0 && c.saidAt > 0 && c.tick-c.saidAt >= s.gap) ||
			(s.gap == 0 && s.atTick == 0 && c.botSpoke && c.quiet >= 15) || (s.atTick > 0 && c.tick >= s.atTick) {
			c.steps = c.steps[1:]
			c.botSpoke = false
			switch {
			case s.say != "":
				pcm, err := ttstest.Render(s.say, c.rate)
				if err != nil {
					c.t.Error(err)
				}
				c.pending = pcm
				c.talkingFrom = c.tick + 1
			case s.digits != "":
				for _, d := range s.digits {
					c.events <- call.Event{Type: call.EventDTMF, Digit: d, Time: time.Now()}
				}
			case s.hangup:
				c.events <- call.Event{Type: call.EventHangup, Cause: call.CauseNormal, Remote: true}
				c.end()
			}
		}
	}
	n := c.rate / 50
	f := audio.Frame{Rate: c.rate, Samples: make([]int16, n)}
	if len(c.pending) > 0 {
		k := copy(f.Samples, c.pending)
		c.pending = c.pending[k:]
		if len(c.pending) == 0 {
			c.saidAt = c.tick
		}
	}
	return f, nil
}

func (c *fakeCall) Write(ctx context.Context, f audio.Frame) error {
	for {
		c.mu.Lock()
		if c.hungUp {
			c.mu.Unlock()
			return call.ErrHungUp
		}
		if len(c.queue) < 50 {
			c.queue = append(c.queue, append([]int16(nil), f.Samples...))
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.pace):
		}
	}
}

// botHeard returns how many bot frames the callee heard.
func (c *fakeCall) botHeard() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.heard
}

func (c *fakeCall) Flush() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.played
	if c.flushes == 0 && len(c.queue) > 0 {
		c.flushAtBot = c.heard
	}
	c.flushes++
	c.queue, c.played = nil, 0
	return p
}

// noLeak fails the test when goroutines started during it are still running shortly after it ends.
func noLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func load(t *testing.T, path string) *dialog.Script {
	t.Helper()
	s, err := dialog.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type notes struct {
	mu sync.Mutex
	ns []dialog.Notification
}

func (n *notes) Notify(ctx context.Context, x dialog.Notification) error {
	n.mu.Lock()
	n.ns = append(n.ns, x)
	n.mu.Unlock()
	return nil
}

func deps(vars map[string]any, st dialog.Store, n dialog.Notifier) dialog.Deps {
	return dialog.Deps{ASR: &asrtest.Recognizer{}, TTS: &ttstest.Synthesizer{}, Store: st, Notifier: n, Vars: vars}
}

func TestRunPromiseOnAudio(t *testing.T) {
	noLeak(t)
	s := load(t, "../examples/finance-overdue/script.yaml")
	fc := newFakeCall(t, step{say: "好的,我明天还"}, step{say: "对的"}) // the read-back before the SMS
	mem := dialog.NewStore(store.NewMemory())
	nt := &notes{}
	res, err := dialog.Run(t.Context(), fc, s, deps(map[string]any{"name": "张三", "overdue_days": 1, "amount": 1000.0}, mem, nt))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Outcome.Has("promise_to_pay") || res.Outcome.End != dialog.EndHangup || fc.cause != call.CauseNormal {
		t.Fatalf("outcome %+v cause %v", res.Outcome, fc.cause)
	}
	if res.Slots["pay_date"] == nil || res.Slots["pay_amount"] != 980.0 {
		t.Fatalf("slots %v", res.Slots)
	}
	if len(res.Turns) != 3 || res.Turns[1].Transcript != "好的,我明天还" || res.Turns[1].BargeIn ||
		res.Turns[1].Heard != res.Turns[1].Prompt || res.Turns[1].Intent != "will_pay" {
		t.Fatalf("turns %+v", res.Turns)
	}
	j, err := mem.Journal(t.Context(), "fake-1")
	if err != nil || len(j) != 3 {
		t.Fatalf("journal %v %v", j, err)
	}
	if len(nt.ns) != 1 || nt.ns[0].Channel != "sms" {
		t.Fatalf("notifications %+v", nt.ns)
	}
}

func TestRunBargeIn(t *testing.T) {
	noLeak(t)
	s := load(t, "../examples/finance-overdue/script.yaml")
	// The callee talks over the opening prompt one second in.
	fc := newFakeCall(t, step{say: "我昨天已经还了", atTick: 50})
	d := deps(map[string]any{"name": "张三", "overdue_days": 1, "amount": 1000.0}, nil, nil)
	var hooked []dialog.Turn
	d.OnTurn = func(t dialog.Turn) { hooked = append(hooked, t) }
	res, err := dialog.Run(t.Context(), fc, s, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(hooked) != len(res.Turns) || hooked[len(hooked)-1].Seq != res.Turns[len(res.Turns)-1].Seq {
		t.Fatalf("OnTurn saw %d turns, the result has %d", len(hooked), len(res.Turns))
	}
	if !res.Outcome.Has("already_paid") {
		t.Fatalf("outcome %+v turns %+v", res.Outcome, res.Turns)
	}
	tr := res.Turns[1]
	if !tr.BargeIn || tr.Heard == "" || len(tr.Heard) >= len(tr.Prompt) || !strings.HasPrefix(tr.Prompt, tr.Heard) {
		t.Fatalf("barge-in turn: heard %q of %q (barge-in %v)", tr.Heard, tr.Prompt, tr.BargeIn)
	}
	// The flush came within a frame of the barge-in decision: far less of the prompt played than it lasts.
	if fc.flushAtBot == 0 || fc.flushAtBot > 150 {
		t.Fatalf("bot frames heard before flush: %d", fc.flushAtBot)
	}
	// Heard matches what the callee actually heard: the share of the prompt's audio that played, not the share of
	// what had been written to the playout queue (which runs ahead of it).
	pcm, err := ttstest.Render(tr.Prompt, 8000)
	if err != nil {
		t.Fatal(err)
	}
	share := float64(fc.flushAtBot*160) / float64(len(pcm))
	want := int(share * float64(utf8.RuneCountInString(tr.Prompt)))
	if got := utf8.RuneCountInString(tr.Heard); got < want-3 || got > want+3 {
		t.Fatalf("Heard has %d of %d characters; the callee heard %d of %d frames (≈%d characters)",
			got, utf8.RuneCountInString(tr.Prompt), fc.flushAtBot, len(pcm)/160, want)
	}
}

func TestRunBackchannelDoesNotInterrupt(t *testing.T) {
	noLeak(t)
	s := load(t, "../examples/finance-overdue/script.yaml")
	fc := newFakeCall(t, step{say: "嗯", atTick: 40}, step{say: "明天还"}, step{say: "对的"})
	res, err := dialog.Run(t.Context(), fc, s, deps(map[string]any{"name": "张三", "overdue_days": 1, "amount": 1000.0}, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Turns) < 2 {
		t.Fatalf("turns %+v", res.Turns)
	}
	tr := res.Turns[1]
	if tr.BargeIn || tr.Heard != tr.Prompt || tr.Transcript != "明天还" || !res.Outcome.Has("promise_to_pay") {
		t.Fatalf("turn %+v outcome %+v", tr, res.Outcome)
	}
}

func TestRunDTMFAndTransfer(t *testing.T) {
	noLeak(t)
	s := load(t, "../examples/government/script.yaml")
	fc := newFakeCall(t, step{digits: "1234"}, step{say: "不对,我换单位了"})
	vars := map[string]any{"name": "林女士", "scenario": "service", "id_last4": "1234", "employer": "星光科技", "base": 8000}
	res, err := dialog.Run(t.Context(), fc, s, deps(vars, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Slots["id_tail"] != "1234" || res.TransferReason != "info_mismatch" || fc.transfer == nil {
		t.Fatalf("result %+v transfer %v", res, fc.transfer)
	}
	if res.Turns[1].DTMF != "1234" || res.Turns[1].Input != "keys" {
		t.Fatalf("dtmf turn %+v", res.Turns[1])
	}
}

func TestRunCalleeHangsUp(t *testing.T) {
	noLeak(t)
	s := load(t, "../examples/finance-overdue/script.yaml")
	fc := newFakeCall(t, step{hangup: true, atTick: 30})
	res, err := dialog.Run(t.Context(), fc, s, deps(map[string]any{"name": "张三", "overdue_days": 9, "amount": 1000.0}, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Outcome.Has(dialog.TagHangup) || res.Outcome.End != dialog.EndCalleeHangup {
		t.Fatalf("outcome %+v", res.Outcome)
	}
}

func TestRunContextCancel(t *testing.T) {
	noLeak(t)
	s := load(t, "../examples/finance-overdue/script.yaml")
	fc := newFakeCall(t) // silent callee
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := dialog.Run(ctx, fc, s, deps(map[string]any{"name": "张三", "overdue_days": 9, "amount": 1000.0}, nil, nil))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
}

func TestRunNeedsDeps(t *testing.T) {
	s := load(t, "../examples/finance-overdue/script.yaml")
	_, err := dialog.Run(t.Context(), newFakeCall(t), s, dialog.Deps{})
	if !errors.Is(err, dialog.ErrDeps) {
		t.Fatalf("err %v", err)
	}
}

// A digit string read aloud in two groups with a pause between them is one reply, not two.
func TestRunHoldsTurnForDigitString(t *testing.T) {
	noLeak(t)
	s := load(t, "../examples/government/script.yaml")
	fc := newFakeCall(t, step{say: "一二"}, step{say: "三四", gap: 25}, step{say: "对的"})
	vars := map[string]any{"name": "林女士", "scenario": "service", "id_last4": "1234", "employer": "星光科技", "base": 8000}
	res, err := dialog.Run(t.Context(), fc, s, deps(vars, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Slots["id_tail"] != "1234" || !res.Outcome.Has("info_confirmed") || res.Turns[1].Transcript != "一二三四" {
		t.Fatalf("result %+v", res)
	}
}

func TestRunHoldStopsTheBotAtOnset(t *testing.T) {
	noLeak(t)
	s := load(t, "../examples/finance-overdue/script.yaml")
	vars := map[string]any{"name": "张三", "overdue_days": 1, "amount": 1000.0}
	for _, hold := range []bool{true, false} {
		fc := newFakeCall(t, step{say: "我昨天已经还了", atTick: 50})
		var c call.Call = fc
		if hold {
			c = holdingCall{fc}
		}
		res, err := dialog.Run(t.Context(), c, s, deps(vars, nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		tr := res.Turns[1]
		if !tr.BargeIn || !res.Outcome.Has("already_paid") || !strings.HasPrefix(tr.Prompt, tr.Heard) {
			t.Fatalf("hold %v: turn %+v outcome %+v", hold, tr, res.Outcome)
		}
		t.Logf("hold %v: the callee heard %d bot frames over their own words; %d holds", hold, fc.overTalk, fc.holds)
		if hold {
			// The first loud frame holds the bot: at most the frame already on its way is heard.
			if fc.holds == 0 || fc.overTalk > 2 {
				t.Fatalf("with hold: %d bot frames heard over the callee, %d holds; want ≤ 2 and a hold", fc.overTalk, fc.holds)
			}
		} else if fc.overTalk < 15 {
			t.Fatalf("without hold the bot talks until the interruption is confirmed (400 ms); heard %d frames", fc.overTalk)
		}
	}
}

func TestRunHoldResumesAfterBackchannel(t *testing.T) {
	noLeak(t)
	s := load(t, "../examples/finance-overdue/script.yaml")
	fc := newFakeCall(t, step{say: "嗯", atTick: 40}, step{say: "明天还"}, step{say: "对的"})
	res, err := dialog.Run(t.Context(), holdingCall{fc}, s, deps(map[string]any{"name": "张三", "overdue_days": 1, "amount": 1000.0}, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Turns) < 2 {
		t.Fatalf("turns %+v", res.Turns)
	}
	tr := res.Turns[1]
	if tr.BargeIn || tr.Heard != tr.Prompt || tr.Transcript != "明天还" || !res.Outcome.Has("promise_to_pay") {
		t.Fatalf("turn %+v outcome %+v", tr, res.Outcome)
	}
	if fc.holds == 0 || fc.heldTicks == 0 || fc.flushes != 0 {
		t.Fatalf("holds %d, held ticks %d, flushes %d: want the prompt held over the backchannel and then carried on",
			fc.holds, fc.heldTicks, fc.flushes)
	}
	// Nothing of the prompt was lost: the callee heard every frame of it.
	pcm, err := ttstest.Render(tr.Prompt, 8000)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(pcm) / 160; fc.heard < want {
		t.Fatalf("the callee heard %d bot frames of the %d-frame prompt", fc.heard, want)
	}
	t.Logf("held %d ticks (%v) over the backchannel", fc.heldTicks, time.Duration(fc.heldTicks)*audio.FrameDuration)
}

// countingASR counts the audio written to its streams.
type countingASR struct {
	inner asr.Recognizer
	mu    sync.Mutex
	fed   time.Duration
}

func (c *countingASR) Start(ctx context.Context, cfg asr.Config) (asr.Stream, error) {
	s, err := c.inner.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &countingStream{Stream: s, c: c}, nil
}

type countingStream struct {
	asr.Stream
	c *countingASR
}

func (s *countingStream) Write(f audio.Frame) error {
	s.c.mu.Lock()
	s.c.fed += f.Duration()
	s.c.mu.Unlock()
	return s.Stream.Write(f)
}

func TestRunGateASR(t *testing.T) {
	noLeak(t)
	s := load(t, "../examples/finance-overdue/script.yaml")
	vars := map[string]any{"name": "张三", "overdue_days": 1, "amount": 1000.0}
	fed := map[bool]time.Duration{}
	for _, gate := range []bool{false, true} {
		fc := newFakeCall(t, step{say: "我昨天已经还了"})
		rec := &countingASR{inner: &asrtest.Recognizer{}}
		d := deps(vars, nil, nil)
		d.ASR = rec
		d.Turn.GateASR = gate
		res, err := dialog.Run(t.Context(), fc, s, d)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Outcome.Has("already_paid") || res.Turns[1].Transcript != "我昨天已经还了" {
			t.Fatalf("gate %v: outcome %+v turns %+v", gate, res.Outcome, res.Turns)
		}
		call := time.Duration(fc.tick) * audio.FrameDuration
		fed[gate] = rec.fed
		t.Logf("gate %v: recognizer got %v of a %v call", gate, rec.fed, call)
		if !gate && rec.fed < call-100*time.Millisecond {
			t.Fatalf("without the gate the recognizer got %v of a %v call", rec.fed, call)
		}
	}
	// The callee spoke once: the recognizer hears that, its pre-roll and tail, not the bot's minutes.
	if fed[true] >= fed[false]/2 {
		t.Fatalf("gated recognizer got %v, ungated %v", fed[true], fed[false])
	}
}
