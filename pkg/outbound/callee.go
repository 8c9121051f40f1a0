package outbound

import (
	"time"

	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/tts/ttstest"
)

// Reply is a simulated callee's step that says text once the bot has finished its prompt. The words are rendered as
// the fake TTS renders them, which the fake recognizer (ASR=fake) reads back exactly.
func Reply(text string) callee.Step { return say(callee.AfterBot, 0, text) }

// sayAt is a callee step that says text at offset after answer, whatever the bot is doing (a greeting, or a
// barge-in over the prompt).
func sayAt(offset time.Duration, text string) callee.Step { return say(callee.At, offset, text) }

func say(when callee.Trigger, offset time.Duration, text string) callee.Step {
	pcm, err := ttstest.Render(text, 8000)
	if err != nil {
		// Only text longer than the modem can frame fails; leave it to the simulator's renderer to report.
		return callee.Step{Action: callee.Say, When: when, Offset: offset, Text: text}
	}
	return callee.Step{Action: callee.Say, When: when, Offset: offset, Text: text, Audio: pcm, AudioRate: 8000}
}

// greetAt is when a simulated callee speaks first after answering. The bot's media leg is set up after the answer
// (bridge, ExternalMedia), which takes a few hundred milliseconds and longer on a loaded machine; audio spoken before
// it exists is lost, as on a real PBX, so the greeting waits for it.
const greetAt = 1200 * time.Millisecond

// Person is a simulated callee who answers after half a second with a short greeting ("喂?"), then gives each reply after
// the bot's next prompt. The answer classifier hears a short greeting followed by silence: a person.
func Person(greeting string, replies ...string) callee.Script {
	s := callee.Script{Name: greeting, AnswerAfter: 500 * time.Millisecond, Steps: []callee.Step{sayAt(greetAt, greeting)}}
	for _, r := range replies {
		s.Steps = append(s.Steps, Reply(r))
	}
	return s
}

// Machine is a simulated answering machine: a long greeting, then silence until the bot hangs up.
func Machine(greeting string) callee.Script {
	return callee.Script{Name: "voicemail", AnswerAfter: 300 * time.Millisecond, HangupAfterSteps: true, Steps: []callee.Step{
		sayAt(greetAt, greeting),
		{Action: callee.Silence, When: callee.Now, Duration: 4 * time.Second},
	}}
}

// Busy is a simulated line that is busy.
func Busy() callee.Script { return callee.Script{Name: "busy", Answer: callee.Busy} }

// agent is the human agent transfers reach on the simulator: a greeting, then it hangs up.
func agent() callee.Script {
	return callee.Script{Name: "agent", HangupAfterSteps: true, Steps: []callee.Step{sayAt(greetAt, "您好,人工客服为您服务")}}
}
