package sectortest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/tts/ttstest"
	"github.com/rs/zerolog"
)

type spyASR struct{ t *testing.T }

func (s spyASR) Start(ctx context.Context, c asr.Config) (asr.Stream, error) {
	st, err := (&asrtest.Recognizer{}).Start(ctx, c)
	if err != nil {
		return nil, err
	}
	out := make(chan asr.Result, 64)
	go func() {
		defer close(out)
		for r := range st.Results() {
			s.t.Logf("asr: %+v", r)
			out <- r
		}
	}()
	return &spyStream{Stream: st, out: out}, nil
}

type spyStream struct {
	asr.Stream
	out chan asr.Result
	n   int
}

func (s *spyStream) Results() <-chan asr.Result { return s.out }
func (s *spyStream) Write(f audio.Frame) error  { s.n++; return s.Stream.Write(f) }

func TestScratchCall(t *testing.T) {
	which := os.Getenv("SCRATCH_PBX")
	var d *pbx
	if which == "esl" {
		d = startESL(t)
	} else {
		d = startARI(t)
	}
	p := paths[2]
	if err := d.add("1", callee.Script{Steps: p.steps}); err != nil {
		t.Fatal(err)
	}
	s, err := dialog.LoadFile("../../examples/" + p.sector + "/script.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.Settings.Transfer.Endpoint = d.agent
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := d.dial(ctx, "1")
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)
	res, err := dialog.Run(ctx, c, s, dialog.Deps{ASR: spyASR{t}, TTS: &ttstest.Synthesizer{}, Clock: clock, Vars: p.vars, Logger: &log})
	t.Logf("err %v", err)
	for _, tr := range res.Turns {
		t.Logf("turn %d %s %s %q %v", tr.Seq, tr.Node, tr.Input, tr.Transcript, tr.BargeIn)
	}
	rec, _ := d.lookup(c, "1")
	for _, u := range rec.Person.Transcript() {
		t.Logf("callee %+v", u)
	}
	_ = hangupAfterTransfer(ctx, c)
}
