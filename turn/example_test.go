package turn_test

import (
	"fmt"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/turn"
)

// A Taker is fed one input at a time; here a turn with no prompt hears the callee's reply.
func ExampleTaker() {
	k := turn.New(turn.Config{}, audio.NewVAD(audio.VADConfig{}))
	now := time.Now()
	k.Begin(turn.Listen{Timeout: 3 * time.Second})
	silence := audio.Frame{Rate: 8000, Samples: make([]int16, 160)}
	for range 10 {
		k.Frame(silence, now)
	}
	a := k.Result(asr.Result{Text: "明天下午可以", Final: true}, now)
	out := k.Outcome()
	fmt.Println(a.End, out.Kind, out.Text)
	// Output: true utterance 明天下午可以
}
