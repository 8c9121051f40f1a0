package openai_test

import (
	"os"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/openai"
)

// TestLiveAPI synthesises with the real API (or OPENAI_BASE_URL's compatible server) when OUTCALL_OPENAI_LIVE=1.
func TestLiveAPI(t *testing.T) {
	if os.Getenv("OUTCALL_OPENAI_LIVE") != "1" {
		t.Skip("OUTCALL_OPENAI_LIVE not set to 1; not calling the OpenAI API")
	}
	s, err := openai.New(openai.Config{APIKey: os.Getenv("OPENAI_API_KEY"), BaseURL: os.Getenv("OPENAI_BASE_URL")})
	if err != nil {
		t.Fatal(err)
	}
	src, err := s.Synthesize(t.Context(), tts.Request{Text: "您好，这里是还款提醒。", Rate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	d := audio.Narrowband.Duration(len(pcm))
	var peak int16
	for _, v := range pcm {
		peak = max(peak, v, -v)
	}
	t.Logf("%v of audio, peak %d", d, peak)
	if d < 500*time.Millisecond || d > 15*time.Second || peak < 1000 {
		t.Errorf("implausible speech: %v, peak %d", d, peak)
	}
}
