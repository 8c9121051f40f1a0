package sectortest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/aritest"
	aridriver "github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/esl"
	"github.com/outcall/outcall/pkg/esl/esltest"
	"github.com/outcall/outcall/tts/ttstest"
)

// agentNumber is where the finance script's transfers to a human go on both simulators.
const agentNumber = "collections-queue"

// record is what a simulator logged about one call, in driver-neutral form.
type record struct {
	HungUpBy string         // "app", "callee", ...
	Transfer string         // agent endpoint the callee was bridged with; "" when never transferred
	DTMF     string         // keys the callee pressed
	Person   *callee.Person // the scripted callee
	Ended    bool           // the call is over
	Raw      string         // the simulator's own record, for failure messages
}

// pbx is one driver on its simulator.
type pbx struct {
	name string
	// agent is the dial string the finance script's transfers use on this PBX.
	agent string
	// add registers a scripted callee under number.
	add func(number string, s callee.Script) error
	// dial places a call to number.
	dial func(ctx context.Context, number string) (call.Call, error)
	// lookup returns the simulator's current record of the call c to number.
	lookup func(c call.Call, number string) (record, bool)
}

// waitFor polls the simulator's record of c until cond holds or ctx ends.
func (p *pbx) waitFor(ctx context.Context, c call.Call, number string, cond func(record) bool) (record, error) {
	for {
		rec, ok := p.lookup(c, number)
		if ok && cond(rec) {
			return rec, nil
		}
		select {
		case <-ctx.Done():
			return rec, fmt.Errorf("%s: call record %s: %w", p.name, rec.Raw, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// agentScript is the human agent a transfer reaches: it greets and then waits for the bot to hang up.
func agentScript() callee.Script {
	return callee.Script{Name: "agent", Steps: []callee.Step{{Action: callee.Say, When: callee.At, Offset: 300 * time.Millisecond,
		Text: "您好,人工客服为您服务"}}}
}

// startARI starts the Asterisk simulator and an ari driver on it; both are closed when t ends.
func startARI(t *testing.T) *pbx {
	t.Helper()
	sim := aritest.Start(t, aritest.Config{TTS: &ttstest.Synthesizer{}})
	client, err := ari.New(ari.Config{URL: sim.URL(), Username: sim.Username(), Password: sim.Password(), App: "outcall"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A deeper jitter buffer than the default 60 ms: the test machine is shared and the race detector slows every
	// goroutine, so packets of the simulator's clock can be later than on a PBX; a late packet is a lost frame, and
	// a lost frame garbles the callee's words.
	drv, err := aridriver.New(client, aridriver.Config{JitterDepth: 15})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drv.Close() })
	p := &pbx{
		name:  "ari",
		agent: "PJSIP/" + agentNumber, // the script's own transfer endpoint
		add:   sim.AddCallee,
		dial: func(ctx context.Context, number string) (call.Call, error) {
			return drv.Dial(ctx, call.Request{Endpoint: "PJSIP/" + number + "@trunk", Timeout: 5 * time.Second})
		},
		lookup: func(_ call.Call, number string) (record, bool) {
			for _, r := range sim.Calls() {
				if r.Number == number {
					return record{HungUpBy: r.HungUpBy, Transfer: r.Transfer, DTMF: r.DTMFPressed, Person: r.Person,
						Ended: !r.End.IsZero(), Raw: fmt.Sprintf("%+v", r)}, true
				}
			}
			return record{}, false
		},
	}
	if err := p.add(agentNumber, agentScript()); err != nil {
		t.Fatal(err)
	}
	return p
}

// startESL starts the FreeSWITCH fake and an esl driver on it; both are closed when t ends.
func startESL(t *testing.T) *pbx {
	t.Helper()
	fs, err := esltest.New(esltest.Config{TTS: &ttstest.Synthesizer{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := esl.Dial(ctx, esl.Config{Addr: fs.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	// More slack than the default 60 ms before a late callee frame is replaced by silence, for the same reason as
	// the ari driver's jitter depth.
	drv, err := esl.NewDriver(client, esl.DriverConfig{ReadSlack: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drv.Close() })
	p := &pbx{
		name: "esl",
		// FreeSWITCH has no PJSIP technology: the same queue is reached through the gateway.
		agent: "sofia/gateway/trunk/" + agentNumber,
		add: func(number string, s callee.Script) error {
			fs.AddCallee(number, s)
			return nil
		},
		dial: func(ctx context.Context, number string) (call.Call, error) {
			return drv.Dial(ctx, call.Request{Endpoint: "sofia/gateway/trunk/" + number, Timeout: 5 * time.Second})
		},
		lookup: func(c call.Call, _ string) (record, bool) {
			r, ok := fs.Call(c.ID())
			if !ok {
				return record{}, false
			}
			return record{HungUpBy: r.HungUpBy, Transfer: r.Transfer, DTMF: r.DTMFPressed, Person: r.Person,
				Ended: !r.End.IsZero(), Raw: fmt.Sprintf("%+v", r)}, true
		},
	}
	if err := p.add(agentNumber, agentScript()); err != nil {
		t.Fatal(err)
	}
	return p
}

// hangupAfterTransfer ends a call the bot handed to an agent, as the agent would once done.
func hangupAfterTransfer(ctx context.Context, c call.Call) error {
	if err := c.Hangup(ctx, call.CauseNormal); err != nil && !errors.Is(err, call.ErrHungUp) {
		return err
	}
	return nil
}

// moduleGoroutines returns the stacks of live goroutines running this module's code, test goroutines aside.
func moduleGoroutines() []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/outcall/outcall/") && !strings.Contains(g, "testing.tRunner") {
			out = append(out, g)
		}
	}
	return out
}

// checkLeaks fails t if goroutines running this module's code outlive t's cleanup (register it first, so that it
// runs after every other cleanup: simulators, drivers, clients).
func checkLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			leaked := moduleGoroutines()
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d goroutines of outcall outlive the test; first:\n%s", len(leaked), leaked[0])
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
