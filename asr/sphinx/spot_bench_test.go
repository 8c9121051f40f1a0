package sphinx

import (
	"context"
	"testing"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts/espeak"
)

// BenchmarkSpot measures decoding cost of hotword spotting (filler grammar) as a real-time factor.
func BenchmarkSpot(b *testing.B) {
	syn, err := espeak.New(espeak.Config{})
	if err != nil {
		b.Fatal(err)
	}
	rec := newRecognizer(b)
	pcm := append(make([]int16, 8000), telephone(b, syn, "I want a refund right now", 16000)...)
	pcm = append(pcm, make([]int16, 8000)...)
	b.ResetTimer()
	for b.Loop() {
		s, err := rec.Start(context.Background(), asr.Config{Hotwords: []string{"refund", "supervisor"}})
		if err != nil {
			b.Fatal(err)
		}
		write(b, s, pcm, 16000)
		results(b, s)
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/audio.Wideband.Duration(len(pcm)).Seconds(), "xRT")
}
