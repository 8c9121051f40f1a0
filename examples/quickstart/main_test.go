package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/outbound"
	"github.com/outcall/outcall/pkg/outbound/outboundtest"
)

// TestQuickstart runs the front door on both simulated PBXs — the Asterisk simulator through the ari driver, the
// FreeSWITCH fake through the esl driver — and checks every call's fate, the recordings and the report, the same on
// each.
func TestQuickstart(t *testing.T) {
	for _, pbx := range []struct{ name, banner string }{
		{outbound.Asterisk, "5 calls on the embedded Asterisk simulator (aritest)"},
		{outbound.FreeSWITCH, "5 calls on the FreeSWITCH simulator (esltest)"},
	} {
		t.Run(pbx.name, func(t *testing.T) { testQuickstart(t, pbx.name, pbx.banner) })
	}
}

func testQuickstart(t *testing.T, pbx, banner string) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	out := t.TempDir()
	var stdout bytes.Buffer
	defer outboundtest.Lock()()
	start := time.Now()
	res, err := app.Run(ctx, outbound.Simulated(pbx), outbound.Options{Out: out}, &stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	recs := res.Records
	t.Logf("quickstart on %s ran in %s (its target, < 30 s, is measured in BENCHMARKS.md, not asserted here)", pbx, time.Since(start).Round(100*time.Millisecond))
	want := []struct {
		dial          call.Outcome
		class, result string
	}{
		{call.Answered, "human", "confirmed"},
		{call.Answered, "human", "refused"},
		{call.Answered, "human", "transferred"},
		{call.Busy, "", "busy"},
		{call.Answered, "machine", "machine"},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records", len(recs))
	}
	for i, w := range want {
		r := recs[i]
		class := ""
		if r.Class != nil {
			class = string(r.Class.Class)
		}
		if r.Dial != w.dial || class != w.class || r.Outcome != w.result {
			t.Errorf("call %d: dial %s class %q outcome %q err %v, want %s %q %q", i+1, r.Dial, class, r.Outcome, r.Err, w.dial, w.class, w.result)
		}
		if w.class == "human" && (r.Result == nil || len(r.Result.Turns) != 2) {
			t.Errorf("call %d: want an opening and one answered turn", i+1)
		}
	}
	if r := recs[2].Result; r == nil || r.TransferReason != "requested" {
		t.Errorf("the human request must be a transfer with reason requested")
	}
	if !recs[0].Success || recs[1].Success {
		t.Error("only the confirmation counts as a success")
	}
	// Answered calls are recorded in stereo, with both the callee and the bot audible.
	for i, r := range recs {
		if r.Dial != call.Answered {
			if r.Recording != "" {
				t.Errorf("call %d: unanswered but recorded", i+1)
			}
			continue
		}
		b, err := os.ReadFile(r.Recording)
		if err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
		w, err := audio.DecodeWAV(b)
		if err != nil {
			t.Fatal(err)
		}
		if w.Channels != 2 || w.Frames() < 8000 {
			t.Errorf("call %d: %d channels, %d frames", i+1, w.Channels, w.Frames())
		}
	}
	text := stdout.String()
	for _, s := range []string{banner, "heard:  可以,没问题  intent=confirm", "intent=refuse", "transfer reason: requested",
		"not answered: busy", "answered · machine", "report: " + out + "/report.html", "5 calls:"} {
		if !strings.Contains(text, s) {
			t.Errorf("output lacks %q:\n%s", s, text)
		}
	}
	if strings.Contains(text, "13800000001") {
		t.Error("a phone number was printed in clear")
	}
	html, err := os.ReadFile(out + "/report.html")
	if err != nil || !bytes.Contains(html, []byte(`{"label":"promised/confirmed","value":1}`)) {
		t.Errorf("report funnel missing: %v", err)
	}
}

// TestRealAsteriskNeedsContacts: with ARI_URL set, the built-in simulated contacts make no sense.
func TestRealAsteriskNeedsContacts(t *testing.T) {
	env := outbound.Simulated(outbound.Asterisk)
	env.ARI = &ari.Config{URL: "http://127.0.0.1:1", App: "outcall"}
	_, err := app.Run(context.Background(), env, outbound.Options{Out: t.TempDir()}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-contacts") {
		t.Fatalf("err = %v", err)
	}
}
