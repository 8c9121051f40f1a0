package asr_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
)

// ExampleNewResilient wraps a provider whose first connection attempt is refused: the wrapper retries it, and
// when the provider later dies mid-utterance the stream still ends with a final error Result instead of hanging.
func ExampleNewResilient() {
	attempts := 0
	flaky := recFunc(func(ctx context.Context, _ asr.Config) (asr.Stream, error) {
		attempts++
		if attempts == 1 {
			return nil, &asr.Error{Provider: "fake", Op: "dial", Err: errors.New("connection refused"), Transient: true}
		}
		s := newFakeStream(ctx)
		s.dieAt = 3 // the server goes away after three frames
		return s, nil
	})
	r := asr.NewResilient(flaky, asr.ResilientConfig{Provider: "fake", BackoffBase: time.Millisecond})
	s, err := r.Start(context.Background(), asr.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("started after", attempts, "attempts")
	for range 5 {
		if err := s.Write(audio.Frame{Rate: 16000, Samples: make([]int16, 320)}); err != nil {
			fmt.Println("write:", err)
			break
		}
	}
	for res := range s.Results() {
		fmt.Println("final:", res.Final, "error:", res.Err != nil)
	}
	fmt.Println("breaker:", r.State())
	// Output:
	// started after 2 attempts
	// write: asr fake: write: connection reset
	// final: true error: true
	// breaker: closed
}

// ExampleSegmenter cuts a stream into utterances for an engine that recognises whole utterances.
func ExampleSegmenter() {
	seg := asr.NewSegmenter(asr.SegmenterConfig{PreRoll: 200 * time.Millisecond})
	silence := make([]int16, 320)
	tone := make([]int16, 320)
	for i := range tone {
		tone[i] = int16(6000 * ((i/10)%2*2 - 1)) // an 800 Hz square wave stands in for speech
	}
	var frames []audio.Frame
	for i := range 150 { // 1 s silence, 1 s "speech", 1 s silence
		f := silence
		if i >= 50 && i < 100 {
			f = tone
		}
		frames = append(frames, audio.Frame{Rate: 16000, Samples: f})
	}
	for _, f := range frames {
		if u, ok := seg.Push(f); ok {
			fmt.Printf("utterance %v-%v\n", u.Start.Round(100*time.Millisecond), u.End.Round(100*time.Millisecond))
		}
	}
	// Output:
	// utterance 800ms-2.2s
}
