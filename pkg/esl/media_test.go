package esl_test

import (
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/esl"
)

// TestMediaGapReturnsSilence stops the stream from FreeSWITCH's side: Read keeps returning 20 ms silence frames
// instead of stalling, and Flush reports only what the clock sent.
func TestMediaGapReturnsSilence(t *testing.T) {
	checkLeaks(t)
	_, client, d := newDriver(t, esl.DriverConfig{Format: audio.Narrowband})
	ctx := testCtx(t, 10*time.Second)
	c, err := d.Dial(ctx, call.Request{Endpoint: "loopback/echo"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Hangup(ctx, call.CauseNormal)
	if _, err := client.API(ctx, "uuid_audio_stream "+c.ID()+" stop"); err != nil {
		t.Fatal(err)
	}
	m := c.Media()
	for range 5 { // drain what was already queued
		if _, err := m.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for i := range 25 {
		f, err := m.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Samples) != 160 || f.Rate != 8000 {
			t.Fatalf("frame %d: %d samples at %d Hz", i, len(f.Samples), f.Rate)
		}
		for _, s := range f.Samples {
			if s != 0 {
				t.Fatalf("frame %d not silent", i)
			}
		}
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("25 frames of a gap took %v: Read stalls", el)
	}
	if err := m.Write(ctx, audio.Frame{Rate: 16000, Samples: make([]int16, 320)}); err == nil {
		t.Error("Write accepted a 16 kHz frame on an 8 kHz call")
	}
	for range 5 {
		if err := m.Write(ctx, audio.Frame{Rate: 8000, Samples: make([]int16, 160)}); err != nil {
			t.Fatal(err)
		}
	}
	if played := m.Flush(); played > 100*time.Millisecond {
		t.Errorf("Flush says %v played of 100 ms written", played)
	}
}
