package main

import (
	"fmt"
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/internal/exampleenv"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/campaign"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/tts/ttstest"
)

func TestDebug(t *testing.T) {
	ctx := context.Background()
	p, err := exampleenv.Open(ctx, exampleenv.Default(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, _ := dialog.Load(scriptYAML, "x")
	for i, sc := range []callee.Script{
		person("喂,你好", "可以,没问题"),
	} {
		num := "+861390000000" + string(rune('0'+i))
		p.AddCallee(num, sc)
		c, err := p.Dialer.Dial(ctx, call.Request{Endpoint: "PJSIP/" + num[1:] + "@trunk"})
		if err != nil {
			t.Fatal(err)
		}
		cl, err := campaign.Classify(ctx, c.Media(), campaign.ClassifyConfig{})
		t.Logf("class %+v %v", cl, err)
		res, err := dialog.Run(ctx, c, s, dialog.Deps{ASR: &asrtest.Recognizer{}, TTS: &ttstest.Synthesizer{}, Vars: map[string]any{"name": "张三"}})
		t.Logf("%d: %v %+v", i, err, res.Turns)
		for _, cl := range p.Sim.Calls() {
			if cl.Person != nil {
				t.Logf("%s transcript %+v", cl.Number, cl.Person.Transcript())
				ba := cl.Person.BotAudio()
				var spans []string
				on := -1
				for i := 0; i+160 <= len(ba.Samples); i += 160 {
					sum := 0
					for _, v := range ba.Samples[i : i+160] {
						if v < 0 {
							v = -v
						}
						sum += int(v)
					}
					voiced := sum/160 > 64
					if voiced && on < 0 {
						on = i
					}
					if !voiced && on >= 0 {
						spans = append(spans, fmt.Sprintf("%d-%dms", on/8, i/8))
						on = -1
					}
				}
				t.Logf("bot voiced %v", spans)
			}
		}
		_ = time.Second
	}
}
