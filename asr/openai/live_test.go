package openai_test

import (
	"os"
	"strings"
	"testing"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/openai"
)

// TestLiveAPI transcribes espeak-ng speech with the real API (or OPENAI_BASE_URL's compatible server) when
// OUTCALL_OPENAI_LIVE=1; it costs a few API calls, so it never runs by default.
func TestLiveAPI(t *testing.T) {
	if os.Getenv("OUTCALL_OPENAI_LIVE") != "1" {
		t.Skip("OUTCALL_OPENAI_LIVE not set to 1; not calling the OpenAI API")
	}
	rec, err := openai.New(openai.Config{APIKey: os.Getenv("OPENAI_API_KEY"), BaseURL: os.Getenv("OPENAI_BASE_URL")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := rec.Start(t.Context(), asr.Config{Language: "en", SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s, 8000, speech(t, 8000, "I would like to pay my bill"))
	s.Close()
	var text string
	for res := range s.Results() {
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		text += res.Text
	}
	t.Logf("heard %q", text)
	if !strings.Contains(strings.ToLower(text), "bill") {
		t.Errorf("transcript %q lacks %q", text, "bill")
	}
}
