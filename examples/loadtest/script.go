package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/tts/ttstest"
)

// The texts of the load test. They avoid every keyword of the global intents (human, opt-out, busy, repeat, ...),
// so each reply simply moves the script to its next node. With ttstest's data-over-voice audio (30 ms per UTF-8
// byte plus 240 ms of framing) a prompt lasts about 2.4 s, a reply 1.2 s and the barge-in 2.2 s: long enough that
// the bot is stopped well before the callee finishes and the callee's tracking of the bot's stop (QuietGap, 500 ms)
// ends before the bot answers.
const (
	promptText = "这里是外呼系统的测试语音，我们正在播放一段比较长的内容，请您耐心听完"
	replyText  = "我今天上午在家里等快递"
	bargeText  = "我想先问一下这个账单里面的费用是怎么计算出来的"
	closeText  = "感谢您的配合，祝您生活愉快"

	// calleeNumber is the one scripted callee every call dials.
	calleeNumber = "13800000000"
	// bargeDelay is how long after its first reply the callee waits before talking over the bot's next prompt.
	bargeDelay = time.Second
)

// endpoint is the dial string of the scripted callee on the simulator.
const endpoint = "Local/" + calleeNumber + "@outcall-test"

// botScript is the dialog the controller runs: a greeting, then one node per turn whose only route accepts any
// reply, and a closing node that keeps listening until the callee hangs up. turns >= 2.
func botScript(turns int) (*dialog.Script, error) {
	var b strings.Builder
	b.WriteString("name: loadtest\nlanguage: zh\nstart: t0\nnodes:\n")
	for i := 0; i < turns; i++ {
		fmt.Fprintf(&b, "  t%d:\n    say: [%q]\n    routes: [{goto: t%d}]\n", i, promptText, i+1)
	}
	fmt.Fprintf(&b, "  t%d:\n    say: [%q]\n    routes: [{goto: t%d}]\n", turns, closeText, turns)
	return dialog.Load([]byte(b.String()), "loadtest.yaml")
}

// leadIn is the silence every callee utterance starts with, as a person draws breath. It was first added to work
// around a jitter-buffer bug this harness found (the first 4 packets of every talk spurt after the first were
// dropped as late; fixed in pkg/audio since); it is kept so the sweeps stay comparable. Latencies measured from an
// utterance's start subtract it.
const leadIn = 100 * time.Millisecond

// calleeScript is what every simulated callee does: it answers the greeting, talks over the bot's second prompt
// once (barge-in), answers the remaining prompts, waits for the bot's last reply and hangs up — turns utterances in
// all. turns >= 2.
func calleeScript(turns int) (callee.Script, error) {
	say := func(when callee.Trigger, text string) (callee.Step, error) {
		pcm, err := ttstest.Render(text, 8000)
		if err != nil {
			return callee.Step{}, err
		}
		lead := make([]int16, int(leadIn/time.Millisecond)*8)
		return callee.Step{Action: callee.Say, When: when, Text: text, Audio: append(lead, pcm...), AudioRate: 8000}, nil
	}
	type line struct {
		when callee.Trigger
		text string
	}
	lines := []line{{callee.AfterBot, replyText}, {callee.Now, bargeText}}
	for i := 2; i < turns; i++ {
		lines = append(lines, line{callee.AfterBot, replyText})
	}
	var steps []callee.Step
	for i, l := range lines {
		st, err := say(l.when, l.text)
		if err != nil {
			return callee.Script{}, err
		}
		if i == 1 { // talk over the bot's answer to the first reply
			steps = append(steps, callee.Step{Action: callee.Silence, When: callee.Now, Duration: bargeDelay})
		}
		steps = append(steps, st)
	}
	// Hear the bot's answer to the last utterance, then hang up.
	steps = append(steps, callee.Step{Action: callee.Silence, When: callee.AfterBot, Duration: 20 * time.Millisecond})
	return callee.Script{Name: "loadtest", Steps: steps, HangupAfterSteps: true}, nil
}
