package vosk_test

import (
	"context"
	"fmt"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/vosk"
	"github.com/outcall/outcall/pkg/audio"
)

// Example recognises telephone-band audio with a vosk-server, restricted to the answers a dialog node expects.
func Example() {
	rec, err := vosk.New(vosk.Config{URL: "ws://127.0.0.1:2700", Grammar: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := rec.Start(context.Background(), asr.Config{SampleRate: 8000, Phrases: []string{"yes", "no"}})
	if err != nil {
		fmt.Println(err) // asr vosk: dial: ...
		return
	}
	for range 25 {
		if s.Write(audio.Frame{Rate: 8000, Samples: make([]int16, 160)}) != nil {
			break
		}
	}
	s.Close()
	for res := range s.Results() {
		if res.Final {
			fmt.Printf("%q (confidence %.2f, err %v)\n", res.Text, res.Confidence, res.Err)
		}
	}
}
