package asrtest_test

import (
	"context"
	"fmt"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/ttstest"
)

// A simulated callee speaks with ttstest; the bot hears it with asrtest and gets the exact text back.
func ExampleRecognizer() {
	ctx := context.Background()
	src, _ := (&ttstest.Synthesizer{}).Synthesize(ctx, tts.Request{Text: "我想查一下账单", Rate: 8000})
	stream, _ := (&asrtest.Recognizer{}).Start(ctx, asr.Config{SampleRate: 8000})
	for {
		f, err := src.Read(ctx)
		if err != nil {
			break
		}
		_ = stream.Write(f)
	}
	for range 25 { // half a second of silence after the turn
		_ = stream.Write(audio.Frame{Rate: 8000, Samples: make([]int16, 160)})
	}
	_ = stream.Close()
	for r := range stream.Results() {
		if r.Final {
			fmt.Println(r.Text, r.Language)
		}
	}
	// Output: 我想查一下账单 zh
}

// Scripted answers each utterance, whatever it sounds like, with the next queued text.
func ExampleScripted() {
	rec := asrtest.NewScripted("yes", "no")
	stream, _ := rec.Start(context.Background(), asr.Config{SampleRate: 8000})
	loud := make([]int16, 160)
	for i := range loud {
		loud[i] = int16(4000 * (i%2*2 - 1)) // a harsh buzz
	}
	for _, burst := range []int{10, 20} { // 200 ms, then 400 ms of sound, each followed by 400 ms of silence
		for range burst {
			_ = stream.Write(audio.Frame{Rate: 8000, Samples: loud})
		}
		for range 20 {
			_ = stream.Write(audio.Frame{Rate: 8000, Samples: make([]int16, 160)})
		}
	}
	_ = stream.Close()
	for r := range stream.Results() {
		if r.Final {
			fmt.Println(r.Text, r.End-r.Start)
		}
	}
	// Output:
	// yes 200ms
	// no 400ms
}
