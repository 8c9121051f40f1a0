package campaign

import (
	"context"
	"testing"
	"time"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/aritest"
	aridriver "github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/tts/ttstest"
)

// TestClassifyOnSimulator classifies calls answered by aritest callees that play each kind of answer, over the real
// ARI driver and RTP (G.711 on the wire, jitter buffer, gaps while the callee is silent).
func TestClassifyOnSimulator(t *testing.T) {
	sim := aritest.Start(t, aritest.Config{TTS: &ttstest.Synthesizer{}})
	announcement, err := ttstest.Render("您拨打的用户已关机，请稍后再拨", 8000)
	if err != nil {
		t.Fatal(err)
	}
	say := func(at time.Duration, pcm []int16) callee.Step {
		return callee.Step{Action: callee.Say, When: callee.At, Offset: at, Audio: pcm, AudioRate: 8000}
	}
	cases := []struct {
		number string
		steps  []callee.Step
		asr    bool
		want   AnswerClass
	}{
		{"8610000001", []callee.Step{say(300*time.Millisecond, speech(t, "喂，你好"))}, false, ClassHuman},
		{"8610000002", []callee.Step{say(200*time.Millisecond, speech(t,
			"您好，您拨打的电话暂时无人接听，请在提示音后留言，留言完毕请挂机，谢谢您的来电，再见"))}, false, ClassMachine},
		{"8610000003", []callee.Step{say(400*time.Millisecond, tone([]float64{1000}, 600*time.Millisecond, 0.3))}, false, ClassMachine},
		{"8610000004", []callee.Step{say(100*time.Millisecond, concat(tone([]float64{1100}, 500*time.Millisecond, 0.3),
			silence(3*time.Second), tone([]float64{1100}, 500*time.Millisecond, 0.3)))}, false, ClassFax},
		{"8610000005", []callee.Step{say(100*time.Millisecond, concat(tone([]float64{913.8}, 274*time.Millisecond, 0.3),
			tone([]float64{1370.6}, 274*time.Millisecond, 0.3), tone([]float64{1776.7}, 380*time.Millisecond, 0.3)))}, false, ClassSIT},
		{"8610000006", []callee.Step{say(300*time.Millisecond, announcement)}, true, ClassAnnouncement},
		{"8610000007", nil, false, ClassSilence},
	}
	for _, c := range cases {
		if err := sim.AddCallee(c.number, callee.Script{Steps: c.steps}); err != nil {
			t.Fatal(err)
		}
	}
	client, err := ari.New(ari.Config{URL: sim.URL(), Username: sim.Username(), Password: sim.Password(), App: "amd"})
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
	for _, c := range cases {
		t.Run(string(c.want)+"-"+c.number, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cl, err := drv.Dial(ctx, call.Request{Endpoint: "PJSIP/" + c.number + "@trunk", Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Hangup(context.Background(), call.CauseNormal)
			cfg := ClassifyConfig{}
			if c.asr {
				cfg.ASR = &asrtest.Recognizer{}
			}
			got, err := Classify(ctx, cl.Media(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got.Class != c.want {
				t.Fatalf("class %s (%s), want %s", got.Class, got.Reason, c.want)
			}
		})
	}
}

func speech(t *testing.T, text string) []int16 {
	t.Helper()
	// Real speech for the human/machine cases: espeak-ng's Mandarin voice through sox at 8 kHz.
	return espeak(t, "cmn", text)
}
