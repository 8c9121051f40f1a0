package openai_test

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/openai"
)

// Example renders a prompt for an 8 kHz call leg; frames arrive while the server is still synthesising.
func Example() {
	s, err := openai.New(openai.Config{
		APIKey:  os.Getenv("OPENAI_API_KEY"),
		BaseURL: os.Getenv("OPENAI_BASE_URL"), // empty: api.openai.com
		Model:   "gpt-4o-mini-tts",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	src, err := s.Synthesize(ctx, tts.Request{Text: "您好，这里是还款提醒。", Voice: "coral", Rate: 8000})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.(*openai.Source).Close()
	for {
		f, err := src.Read(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		_ = f // call.Media.Write(ctx, f)
	}
}
