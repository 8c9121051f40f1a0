package esl_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/call"
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

// TestIntegrationOriginate dials OUTCALL_ESL_ECHO (an endpoint that answers and echoes, e.g. loopback/9196/default
// on the vanilla dialplan) when set.
func TestIntegrationOriginate(t *testing.T) {
	c := realFreeSWITCH(t)
	ep := os.Getenv("OUTCALL_ESL_ECHO")
	if ep == "" {
		t.Skip("set OUTCALL_ESL_ECHO to an echo endpoint (and run mod_audio_stream) to test calls")
	}
	d, err := esl.NewDriver(c, esl.DriverConfig{MediaListen: os.Getenv("OUTCALL_ESL_MEDIA_LISTEN"),
		MediaURL: os.Getenv("OUTCALL_ESL_MEDIA_URL")})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := testCtx(t, 60*time.Second)
	cl, err := d.Dial(ctx, call.Request{Endpoint: ep, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err := cl.Media().Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.Hangup(ctx, call.CauseNormal); err != nil {
		t.Fatal(err)
	}
}
