package espeak_test

import (
	"context"
	"fmt"
	"io"

	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/espeak"
)

func ExampleSynthesizer() {
	syn, err := espeak.New(espeak.Config{})
	if err != nil {
		fmt.Println(err) // espeak-ng not installed
		return
	}
	ctx := context.Background()
	src, err := syn.Synthesize(ctx, tts.Request{Text: tts.Normalize("您的验证码是2580", "zh"), Language: "zh", Rate: 8000})
	if err != nil {
		panic(err)
	}
	var frames int
	for {
		f, err := src.Read(ctx) // the first frame comes while espeak-ng is still speaking
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		_ = f // call.Media.Write(ctx, f)
		frames++
	}
	fmt.Println(src.Format().Rate, frames > 50)
	// Output: 8000 true
}
