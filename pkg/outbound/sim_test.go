package outbound_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/outbound"
	"github.com/outcall/outcall/pkg/outbound/outboundtest"
)

// TestFreeSWITCHSimulatorTransfers: on PBX=freeswitch the platform dials esltest through the real esl driver, and a
// transferred call ends as it would on FreeSWITCH — at once when sent to a dialplan extension (the agents' queue is
// not simulated), when the agent hangs up when bridged with one — rather than staying parked with its callee.
func TestFreeSWITCHSimulatorTransfers(t *testing.T) {
	defer outboundtest.Lock()()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := outbound.Open(ctx, outbound.Simulated(outbound.FreeSWITCH), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Sim == nil || p.Env.DialEndpoint != "sofia/gateway/trunk/{number}" {
		t.Fatalf("not on the FreeSWITCH simulator: %s, %q", p.Where(), p.Env.DialEndpoint)
	}
	agent := p.Sim.Endpoint("PJSIP/agent@trunk")
	if agent != "sofia/gateway/trunk/agent" {
		t.Errorf("agent endpoint %q", agent)
	}
	// The callee stays on the line until the PBX ends the call.
	stays := callee.Script{Name: "stays", Steps: []callee.Step{{Action: callee.Silence, When: callee.Now, Duration: time.Minute}}}
	if err := p.AddCallee("+8613800009101", stays); err != nil {
		t.Fatal(err)
	}
	if err := p.AddCallee("agent", callee.Script{Name: "agent", HangupAfterSteps: true,
		Steps: []callee.Step{{Action: callee.Silence, When: callee.Now, Duration: 500 * time.Millisecond}}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		to     call.Target
		within time.Duration // the call must end this soon after the transfer
	}{
		{"dialplan extension", call.Target{Context: "outcall-agents", Extension: "nurse-station"}, 2 * time.Second},
		{"bridged agent", call.Target{Endpoint: agent, Timeout: 5 * time.Second}, 4 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := p.Dialer.Dial(ctx, call.Request{Endpoint: "sofia/gateway/trunk/8613800009101", Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = c.Hangup(context.WithoutCancel(ctx), call.CauseNormal) }()
			if err := c.Transfer(ctx, tc.to); err != nil {
				t.Fatal(err)
			}
			deadline := time.After(tc.within)
			transferred := false
			for {
				select {
				case ev, ok := <-c.Events():
					if !ok {
						t.Fatal("events closed without a hang-up")
					}
					switch ev.Type {
					case call.EventTransferred:
						transferred = true
					case call.EventHangup:
						if !transferred || !ev.Remote {
							t.Errorf("hang-up: transferred %v, remote %v", transferred, ev.Remote)
						}
						return
					}
				case <-deadline:
					t.Fatalf("the call still lasts %v after the transfer", tc.within)
				}
			}
		})
	}
}
