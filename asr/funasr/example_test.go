package funasr_test

import (
	"context"
	"fmt"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/funasr"
	"github.com/outcall/outcall/pkg/audio"
)

// Example streams a call's audio to a FunASR 2pass server behind the resilience layer and prints final results.
func Example() {
	rec, err := funasr.New(funasr.Config{URL: "ws://127.0.0.1:10095", Mode: funasr.Mode2Pass})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := asr.NewResilient(rec, asr.ResilientConfig{Provider: "funasr", StartTimeout: 3 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := r.Start(ctx, asr.Config{Language: "zh", SampleRate: 16000, Hotwords: []string{"信用卡", "分期"}})
	if err != nil {
		fmt.Println(err) // e.g. asr funasr: dial: ... connection refused
		return
	}
	go func() {
		defer s.Close()
		for range 50 { // one second of silence; a call feeds call.Media.Read frames here
			if s.Write(audio.Frame{Rate: 16000, Samples: make([]int16, 320)}) != nil {
				return
			}
		}
	}()
	for res := range s.Results() {
		if res.Err != nil {
			fmt.Println("failed:", res.Err)
		} else if res.Final {
			fmt.Println("heard:", res.Text)
		}
	}
}
