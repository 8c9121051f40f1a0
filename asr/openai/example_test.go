package openai_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/openai"
	"github.com/outcall/outcall/pkg/audio"
)

// Example transcribes a call's 8 kHz audio with gpt-4o-transcribe; the utterances are cut by a VAD and sent as
// 16 kHz WAV, and the dialog node's hotwords go into the prompt.
func Example() {
	rec, err := openai.New(openai.Config{
		APIKey:         os.Getenv("OPENAI_API_KEY"),
		BaseURL:        os.Getenv("OPENAI_BASE_URL"), // empty: api.openai.com
		Model:          "gpt-4o-transcribe",
		RequestTimeout: 8 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := rec.Start(context.Background(), asr.Config{Language: "zh", SampleRate: 8000, Hotwords: []string{"分期", "还款日"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 100 { // two seconds of a call; a real caller writes call.Media.Read frames here
		if s.Write(audio.Frame{Rate: 8000, Samples: make([]int16, 160)}) != nil {
			break
		}
	}
	s.Close()
	for res := range s.Results() {
		fmt.Println(res.Text, res.Err)
	}
	// Output:
}
