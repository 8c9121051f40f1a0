// Package tts is speech synthesis: the Synthesizer interface that providers (tts/openai, tts/espeak) implement,
// a prompt cache and text normalisation for speech.
package tts

import (
	"context"
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// Synthesizer renders text as a stream of audio frames. Where the provider streams, the first frame is available
// before synthesis completes.
type Synthesizer interface {
	Synthesize(ctx context.Context, r Request) (audio.Source, error)
}

// Request is one text to speak.
type Request struct {
	Text     string  // what to say
	Voice    string  // provider voice name; empty: the provider's default for Language
	Language string  // "zh" or "en"; default "zh"
	Speed    float64 // 1.0 is normal; 0 means 1.0
	Rate     int     // sample rate wanted in the returned Source; 0: the provider's native rate
}

// Sized is implemented by a Source that knows its whole length before it is played (a rendered or cached prompt),
// so that after a barge-in the dialog can tell how much of the text the callee actually heard. Streaming providers
// need not implement it.
type Sized interface {
	Duration() time.Duration
}
