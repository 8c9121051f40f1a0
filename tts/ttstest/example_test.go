package ttstest_test

import (
	"context"
	"fmt"
	"io"

	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/ttstest"
)

func ExampleSynthesizer() {
	ctx := context.Background()
	src, err := (&ttstest.Synthesizer{}).Synthesize(ctx, tts.Request{Text: "Hello, how are you today?", Rate: 16000})
	if err != nil {
		panic(err)
	}
	var frames int
	for {
		if _, err := src.Read(ctx); err == io.EOF {
			break
		}
		frames++
	}
	fmt.Println(frames*20, "ms at", src.Format().Rate, "Hz")
	// Output: 1000 ms at 16000 Hz
}
