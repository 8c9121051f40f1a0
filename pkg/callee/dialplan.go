package callee

import (
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// TestExtensions lists the extensions of the outcall-test dialplan, in the order docs/real-pbx.md configures them.
var TestExtensions = []string{"echo", "busy", "noanswer", "congestion", "dtmf", "hangup", "agent"}

// TestDialplan returns the script of an extension of the outcall-test dialplan that the real-PBX integration tests
// configure on Asterisk and FreeSWITCH and both simulators (ari/aritest, pkg/esl/esltest) answer alike: echo
// (answer, echo), busy, noanswer (ring until the dial times out), congestion, dtmf (answer, press 1 after a second,
// hang up after 31 s), hangup (answer, hang up after a second), agent (answer, echo: the agent of transfer tests).
// false for any other extension.
func TestDialplan(exten string) (Script, bool) {
	switch exten {
	case "echo", "agent":
		return Script{Name: exten, Steps: []Step{{Action: Echo, When: Now}}}, true
	case "busy":
		return Script{Name: "busy", Answer: Busy}, true
	case "noanswer":
		return Script{Name: "noanswer", Answer: NoAnswer}, true
	case "congestion":
		return Script{Name: "congestion", Answer: Congestion}, true
	case "dtmf":
		return Script{Name: "dtmf", HangupAfterSteps: true, Steps: []Step{
			{Action: Press, When: At, Offset: time.Second, Digits: "1"},
			{Action: Silence, When: At, Offset: 31 * time.Second, Duration: audio.FrameDuration},
		}}, true
	case "hangup":
		return Script{Name: "hangup", Steps: []Step{{Action: HangUp, When: At, Offset: time.Second}}}, true
	}
	return Script{}, false
}
