package esl_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/esl"
)

// realFreeSWITCH returns a client of the FreeSWITCH named by OUTCALL_ESL_ADDR (and OUTCALL_ESL_PASSWORD), or skips.
func realFreeSWITCH(t *testing.T) *esl.Client {
	t.Helper()
	addr := os.Getenv("OUTCALL_ESL_ADDR")
	if addr == "" {
		t.Skip("integration test: set OUTCALL_ESL_ADDR (and OUTCALL_ESL_PASSWORD) to run against a real FreeSWITCH")
	}
	c, err := esl.Dial(testCtx(t, 10*time.Second), esl.Config{Addr: addr, Password: os.Getenv("OUTCALL_ESL_PASSWORD")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestIntegrationCommands(t *testing.T) {
	c := realFreeSWITCH(t)
	ctx := testCtx(t, 30*time.Second)
	out, err := c.API(ctx, "status")
	if err != nil || !strings.Contains(out, "UP") {
		t.Fatalf("status: %q %v", out, err)
	}
	if out, err := c.BgAPI(ctx, "status"); err != nil || !strings.Contains(out, "UP") {
		t.Fatalf("bgapi status: %q %v", out, err)
	}
	if err := c.Events(ctx, "json", "HEARTBEAT"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.API(ctx, "uuid_kill 00000000-0000-4000-8000-000000000000"); err == nil {
		t.Error("uuid_kill of a missing channel succeeded")
	}
}

// TestIntegrationOriginate dials the echo extension with the default media (unicast) and requires a tone back at
// its frequency: a call with no audio fails.
func TestIntegrationOriginate(t *testing.T) {
	e := realESL(t, esl.DriverConfig{})
	c := e.call(t, "echo")
	defer endCall(t, c)
	if got := echoTone(t, testCtx(t, 20*time.Second), c.Media(), 1000, 50); got < 980 || got > 1020 {
		t.Fatalf("echo of a 1 kHz tone peaks at %.0f Hz", got)
	}
}

// TestIntegrationStreamMedia runs the media suite over an audio-stream module when FreeSWITCH has one
// (mod_audio_stream); MediaStream needs its bidirectional mode, MediaBroadcast mod_http_cache as well.
func TestIntegrationStreamMedia(t *testing.T) {
	c := realFreeSWITCH(t)
	if out, err := c.API(testCtx(t, 5*time.Second), "module_exists mod_audio_stream"); err != nil || strings.TrimSpace(out) != "true" {
		t.Skip("FreeSWITCH has no mod_audio_stream loaded: stream and broadcast media need it (unicast does not)")
	}
	for _, mode := range []esl.MediaMode{esl.MediaBroadcast, esl.MediaStream} {
		t.Run(mode.String(), func(t *testing.T) { runESLSuite(t, realESL(t, esl.DriverConfig{Media: mode})) })
	}
}
