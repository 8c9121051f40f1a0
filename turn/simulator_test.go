package turn_test

import (
	"context"
	"testing"
	"time"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/aritest"
	aridriver "github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/internal/vadcorpus"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/tts/ttstest"
)

const simScript = `name: bargein
start: ask
settings: {max_noinput: 1}
intents: [{name: ok, keywords: [方便]}]
nodes:
  ask:
    say: ["您好,这里是客服中心,我们想跟您确认一下明天上午的送货时间和收货地址,请问您现在方便说话吗?"]
    noinput: bye
    listen: {timeout: 1s}
    routes: [{intent: ok, goto: bye}]
  bye: {say: ["再见"], end: {tags: [done]}}
`

// TestBargeInRealSpeechOnSimulator is the end-to-end case: a LibriVox reading from pocketsphinx-testdata talks
// over the bot's prompt on the Asterisk simulator (ARI, real RTP on 127.0.0.1, µ-law), through dialog.Run with the
// energy detector and with Silero: the bot stops its prompt for the real voice, and the callee heard only a part
// of it. The simulator has no echo path, and dialog does not yet give the bot's frames to Taker.Sent, so the echo
// cases are the frame-level ones (TestBargeInRealSpeech).
func TestBargeInRealSpeechOnSimulator(t *testing.T) {
	if err := vadcorpus.Available(); err != nil {
		t.Skipf("%v (make deps installs pocketsphinx-testdata)", err)
	}
	voice, err := vadcorpus.ReadRecording("librivox/sense_and_sensibility_01_austen_64kb-0880.wav")
	if err != nil {
		t.Fatal(err)
	}
	s, err := dialog.Load([]byte(simScript), "bargein.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sim := aritest.Start(t, aritest.Config{TTS: &ttstest.Synthesizer{}})
	if err := sim.AddCallee("13800000009", callee.Script{Steps: []callee.Step{
		{Action: callee.Say, When: callee.At, Offset: 1500 * time.Millisecond, Audio: normalize(voice, -20)}}}); err != nil {
		t.Fatal(err)
	}
	client, err := ari.New(ari.Config{URL: sim.URL(), Username: sim.Username(), Password: sim.Password(), App: "outcall"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	if err := client.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	drv, err := aridriver.New(client, aridriver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drv.Close() })
	for _, det := range detectors() {
		t.Run(det.name, func(t *testing.T) {
			t.Parallel()
			det.new(t) // skips Silero without its files
			factory := func() (audio.SpeechDetector, error) {
				if det.name == "energy" {
					return audio.NewVAD(audio.VADConfig{}), nil
				}
				m, err := sileroModel()
				if err != nil {
					return nil, err
				}
				return m.NewDetector()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := drv.Dial(ctx, call.Request{Endpoint: "Local/13800000009@outcall-test", Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			res, err := dialog.Run(ctx, c, s, dialog.Deps{ASR: &asrtest.Recognizer{}, TTS: &ttstest.Synthesizer{},
				Turn: dialog.TurnConfig{Detector: factory}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Turns) < 2 {
				t.Fatalf("turns %+v", res.Turns)
			}
			tr := res.Turns[1] // the first is the call's start, which says the prompt as its reply
			if !tr.BargeIn || len(tr.Heard) >= len(tr.Prompt) {
				t.Fatalf("first turn %+v: want the prompt stopped by the real voice, heard only in part", tr)
			}
			t.Logf("heard %q of %q", tr.Heard, tr.Prompt)
		})
	}
}
