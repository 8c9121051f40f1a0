package main

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/internal/exampleenv"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/campaign"
)

func TestDebug2(t *testing.T) {
	ctx := context.Background()
	p, err := exampleenv.Open(ctx, exampleenv.Default(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i, classify := range []bool{false, true} {
		num := "+861390000001" + string(rune('0'+i))
		p.AddCallee(num, callee.Script{Steps: []callee.Step{
			{Action: callee.Say, When: callee.At, Offset: 200 * time.Millisecond, Text: "喂,你好"},
			{Action: callee.Say, When: callee.At, Offset: 3 * time.Second, Text: "可以,没问题"},
		}})
		c, err := p.Dialer.Dial(ctx, call.Request{Endpoint: "PJSIP/" + num[1:] + "@trunk"})
		if err != nil {
			t.Fatal(err)
		}
		if classify {
			cl, err := campaign.Classify(ctx, c.Media(), campaign.ClassifyConfig{})
			t.Logf("class %+v %v", cl, err)
		}
		st, _ := (&asrtest.Recognizer{}).Start(ctx, asr.Config{SampleRate: 8000})
		vad := audio.NewVAD(audio.VADConfig{})
		go func() {
			for r := range st.Results() {
				t.Logf("%v result %+v", classify, r)
			}
		}()
		for n := 0; n < 250; n++ {
			f, err := c.Media().Read(ctx)
			if err != nil {
				break
			}
			if ev, ok := vad.Process(f); ok {
				t.Logf("%v vad %+v at frame %d", classify, ev, n)
			}
			st.Write(f)
		}
		st.Close()
		c.Hangup(ctx, call.CauseNormal)
		time.Sleep(100 * time.Millisecond)
	}
}
