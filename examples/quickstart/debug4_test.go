package main

import (
	"context"
	"testing"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/tts/ttstest"
)

func TestDebug4(t *testing.T) {
	sc := callee.Script{Steps: []callee.Step{
		{Action: callee.Say, When: callee.At, Offset: 200 * time.Millisecond, Text: "喂,你好"},
		{Action: callee.Say, When: callee.At, Offset: 3 * time.Second, Text: "可以,没问题"},
	}}
	r, err := callee.Render(context.Background(), sc, &ttstest.Synthesizer{}, 8000)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range r.Steps {
		a, _ := ttstest.Render(s.Text, 8000)
		same := len(a) == len(s.Audio)
		for j := range a {
			if j < len(s.Audio) && a[j] != s.Audio[j] {
				same = false
				break
			}
		}
		t.Logf("step %d len %d vs %d same %v", i, len(s.Audio), len(a), same)
	}
	p, _ := callee.NewPerson(context.Background(), r, callee.Config{})
	var pcm []int16
	for now := time.Duration(0); now < 6*time.Second; now += audio.FrameDuration {
		f, _ := p.Tick(now, nil)
		if f == nil {
			pcm = append(pcm, make([]int16, 160)...)
		} else {
			pcm = append(pcm, f.Samples...)
		}
	}
	st, _ := (&asrtest.Recognizer{}).Start(context.Background(), asr.Config{SampleRate: 8000})
	done := make(chan bool)
	go func() {
		for r := range st.Results() {
			if r.Final {
				t.Logf("%q", r.Text)
			}
		}
		close(done)
	}()
	for i := 0; i+160 <= len(pcm); i += 160 {
		st.Write(audio.Frame{Rate: 8000, Samples: pcm[i : i+160]})
	}
	st.Close()
	<-done
}
