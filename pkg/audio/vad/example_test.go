package vad_test

import (
	"fmt"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/audio/vad"
)

// A detector chosen by name, as the VAD environment variable names it; one per call from the factory.
func ExampleOpen() {
	newVAD, err := vad.Open("energy", vad.Config{})
	if err != nil {
		fmt.Println(err) // e.g. VAD=silero in a program that does not import pkg/audio/vad/silero
		return
	}
	d, _ := newVAD()
	loud := make([]int16, 160)
	for i := range loud {
		loud[i] = int16(8000 * (i%16 - 8) / 8) // a 500 Hz buzz
	}
	for i := range 50 {
		f := audio.Frame{Rate: 8000, Samples: make([]int16, 160)}
		if i >= 20 {
			f.Samples = loud
		}
		if ev, ok := d.Process(f); ok {
			fmt.Printf("%v at %v, p=%.2f\n", ev.Kind, ev.At, d.Probability())
		}
	}
	// Output: speech-start at 400ms, p=1.00
}
