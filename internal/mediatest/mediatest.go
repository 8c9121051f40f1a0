// Package mediatest holds the audio checks that the PBX drivers' test suites (ari, pkg/esl) run the same way on
// their simulators and on real servers.
package mediatest

import (
	"context"
	"fmt"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/tts/ttstest"
)

// SpeechThroughEcho speaks said on m in the library's fake speech (tts/ttstest), paced by m's playout, while it
// feeds what comes back to the fake recognizer (asr/asrtest), and returns the recognizer's first final text: said
// itself when the line echoes it intact. It reads the speech's length plus 2 s of frames; "" when no final came.
func SpeechThroughEcho(ctx context.Context, m call.Media, said string) (string, error) {
	rate := m.Format().Rate
	pcm, err := ttstest.Render(said, rate)
	if err != nil {
		return "", err
	}
	st, err := (&asrtest.Recognizer{}).Start(ctx, asr.Config{SampleRate: rate})
	if err != nil {
		return "", err
	}
	defer st.Close()
	n := m.Format().FrameSamples()
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for off := 0; off < len(pcm); off += n {
			fr := make([]int16, n)
			copy(fr, pcm[off:min(off+n, len(pcm))])
			if m.Write(wctx, audio.Frame{Rate: rate, Samples: fr}) != nil {
				return
			}
		}
	}()
	for range len(pcm)/n + 100 { // the speech, then 2 s for the echo's delay and the utterance's end
		f, err := m.Read(ctx)
		if err != nil {
			return "", fmt.Errorf("read: %w", err)
		}
		if err := st.Write(f); err != nil {
			return "", err
		}
		select {
		case r := <-st.Results():
			if r.Final {
				return r.Text, nil
			}
		default:
		}
	}
	return "", nil
}
