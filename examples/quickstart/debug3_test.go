package main

import (
	"context"
	"testing"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts/ttstest"
)

func TestDebug3(t *testing.T) {
	for _, pair := range [][2]string{{"喂,你好", "可以,没问题"}, {"可以,没问题", "喂,你好"}, {"喂", "可以"}, {"hello", "yes sure"}} {
		var pcm []int16
		pcm = append(pcm, make([]int16, 1600)...)
		a, _ := ttstest.Render(pair[0], 8000)
		b, _ := ttstest.Render(pair[1], 8000)
		pcm = append(pcm, a...)
		pcm = append(pcm, make([]int16, 8000*2)...)
		pcm = append(pcm, b...)
		pcm = append(pcm, make([]int16, 8000*2)...)
		st, _ := (&asrtest.Recognizer{}).Start(context.Background(), asr.Config{SampleRate: 8000})
		done := make(chan bool)
		go func() {
			for r := range st.Results() {
				if r.Final {
					t.Logf("%q: %q", pair, r.Text)
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
}
