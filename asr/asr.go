// Package asr is streaming speech recognition: the Recognizer and Stream interfaces that providers (asr/openai,
// asr/funasr, asr/vosk, asr/sphinx) implement and the dialog runtime consumes.
package asr

import (
	"context"
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// Recognizer starts recognition streams. One Recognizer serves many concurrent calls.
type Recognizer interface {
	Start(ctx context.Context, c Config) (Stream, error)
}

// Stream recognises one call's audio. Write takes 20 ms frames in Config.SampleRate; Results delivers partial and
// final results and is closed after Close (or after the provider fails, with a final Result whose Err is set).
type Stream interface {
	Write(f audio.Frame) error
	Results() <-chan Result
	Close() error
}

// Config is the per-stream recognition setup.
type Config struct {
	Language    string        // BCP 47 primary language: "zh" or "en"; default "zh"
	Languages   []string      // further languages the callee may speak (code-switching), if the engine allows
	SampleRate  int           // rate of the frames given to Write; default 16000
	Hotwords    []string      // words to favour (names, products)
	Phrases     []string      // phrases the current dialog node expects, for grammar-capable engines
	Endpointing time.Duration // silence that ends an utterance, for engines that endpoint themselves; 0: engine default
}

// Result is a recognition hypothesis.
type Result struct {
	Text       string
	Final      bool          // true once the engine will not revise Text
	Confidence float64       // 0..1; 0 when the engine gives none
	Start, End time.Duration // offsets of the utterance from the stream's first frame
	Language   string        // detected language, when the engine reports it
	Err        error         // set on a final result when the provider failed mid-utterance
}
