package callee_test

import (
	"context"
	"fmt"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/callee"
)

// A person who waits for the bot's greeting, answers with a clip, presses 1 and hangs up. The simulator calls Tick
// every 20 ms with the bot audio it received.
func ExampleNewPerson() {
	yes := make([]int16, 8000/5) // 200 ms clip (silence here; a real test uses speech or a tone)
	for i := range yes {
		yes[i] = int16(4000 * (i%20 - 10))
	}
	script := callee.Script{Steps: []callee.Step{
		{Action: callee.Say, When: callee.AfterBot, Audio: yes, Text: "yes"},
		{Action: callee.Press, When: callee.Now, Digits: "1"},
		{Action: callee.HangUp, When: callee.Now},
	}}
	p, err := callee.NewPerson(context.Background(), script, callee.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	greeting := &audio.Frame{Rate: 8000, Samples: yes[:160]} // any voiced frame
	for now := time.Duration(0); now < 3*time.Second; now += audio.FrameDuration {
		var heard *audio.Frame
		if now < time.Second { // the bot speaks for one second
			heard = greeting
		}
		_, signals := p.Tick(now, heard)
		for _, s := range signals {
			if s.Kind == callee.SignalDTMF {
				fmt.Println("press", string(s.Digit), "at", s.At)
			} else {
				fmt.Println("hang up at", s.At)
			}
		}
	}
	for _, u := range p.Transcript() {
		fmt.Println(u.Text, u.Start, u.End)
	}
	// Output:
	// press 1 at 1.7s
	// hang up at 1.78s
	// yes 1.5s 1.7s
}
