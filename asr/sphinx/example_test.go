package sphinx_test

import (
	"context"
	"fmt"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/sphinx"
	"github.com/outcall/outcall/pkg/audio"
)

// A dialog node that expects a yes or a no: the grammar holds just those phrases.
func ExampleRecognizer() {
	rec, err := sphinx.New(sphinx.Config{})
	if err != nil {
		fmt.Println(err) // pocketsphinx-en-us not installed
		return
	}
	defer rec.Close()
	stream, err := rec.Start(context.Background(), asr.Config{Language: "en", SampleRate: 8000,
		Phrases: []string{"yes", "no", "call me back later"}})
	if err != nil {
		panic(err)
	}
	// In a call: for each frame from call.Media.Read, stream.Write(frame); read stream.Results() concurrently.
	_ = stream.Write(audio.Frame{Rate: 8000, Samples: make([]int16, 160)})
	_ = stream.Close()
	for r := range stream.Results() {
		fmt.Println(r.Text)
	}
	fmt.Println("closed")
	// Output: closed
}
