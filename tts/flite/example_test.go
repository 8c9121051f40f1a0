package flite_test

import (
	"context"
	"fmt"

	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/flite"
)

func Example() {
	s, err := flite.New(flite.Config{}) // voice kal, 8 kHz
	if err != nil {
		fmt.Println(err)
		return
	}
	src, err := s.Synthesize(context.Background(), tts.Request{Text: "Your parcel arrives tomorrow.", Language: "en"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(src.Format().Rate, "Hz,", src.(tts.Sized).Duration() > 0)
	// Output: 8000 Hz, true
}
