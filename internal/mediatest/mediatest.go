// Package mediatest holds the audio checks that the PBX drivers' test suites (ari, pkg/esl) run the same way on
// their simulators and on real servers.
package mediatest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

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

// Said is the sentence SpeechRoundTrip speaks.
const Said = "我要还款 please"

// SpeechRoundTrip runs once (a call: Said through an echo, returning what was recognised and how many frames were
// lost to this process's timing meanwhile: callee frames the receive jitter buffer lost, and bot frames the
// playout clock sent late in a burst after a stall, which a short queue on the far side drops, as FreeSWITCH's
// loopback does) and requires Said back word for word. The fake recognizer decodes a modem signal that one lost
// frame spoils: when an attempt fails and frames were lost to timing (a loaded machine), the loss is logged and
// the check runs once more; a failure without any loss fails at once.
func SpeechRoundTrip(t testing.TB, once func() (heard string, lost uint64)) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		heard, lost := once()
		if heard == Said {
			return
		}
		if lost == 0 || attempt == 2 {
			t.Fatalf("attempt %d: recognised %q, said %q (%d frames lost to timing)", attempt, heard, Said, lost)
		}
		t.Logf("attempt %d: recognised %q with %d frames lost to timing on this machine; once more", attempt, heard, lost)
	}
}

// Lost counts the frames a receive jitter buffer concealed, silenced or dropped late.
func Lost(j audio.JitterStats) uint64 { return j.Concealed + j.Silenced + j.Late }

// Goroutines counts the goroutines whose stacks run code of any of the packages in own (e.g. "outcall/ari.")
// and of none in skip (a simulator running in the same process).
func Goroutines(own, skip []string) int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
next:
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, s := range skip {
			if strings.Contains(g, s) {
				continue next
			}
		}
		for _, o := range own {
			if strings.Contains(g, o) {
				n++
				continue next
			}
		}
	}
	return n
}
