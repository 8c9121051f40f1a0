package driver_test

import (
	"context"
	"testing"
	"time"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/aritest"
	"github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/pkg/call"
)

// TestClientReopenKeepsApplication: a client that closes and a new one of the same application opened at once
// (a restart, a test after a test) is the case where Asterisk 23 leaves the new events socket without its
// application: the old session's cleanup unregisters it by name after the new registration. The simulator does
// the same; the client notices (the application is checked after connecting and again appSettle later) and
// reconnects, so the new client's first call still gets its StasisStart. A channel left in the application keeps
// it listed meanwhile, so only the client's delivery probe can tell.
func TestClientReopenKeepsApplication(t *testing.T) {
	sim := aritest.Start(t, aritest.Config{AppCleanupDelay: 20 * time.Millisecond})
	cfg := ari.Config{URL: sim.URL(), Username: sim.Username(), Password: sim.Password(), App: "reopen"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prev, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := prev.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// A channel left in the application keeps it listed by GET /applications even while no socket holds it (as
	// on Asterisk): only a probe through the socket tells a deaf one.
	if _, err := prev.ExternalMedia(ctx, ari.ExternalMediaParams{ChannelID: "left-over", ExternalHost: "127.0.0.1:9", Format: "ulaw"}); err != nil {
		t.Fatal(err)
	}
	lost := uint64(0)
	for i := range 5 {
		prev.Close()
		e := startDriver(t, cfg, driver.Config{}, sim)
		dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := e.driver.Dial(dctx, call.Request{Endpoint: "Local/echo@outcall-test", Timeout: 3 * time.Second})
		dcancel()
		if err != nil {
			t.Fatalf("reopen %d: first call of the new client: %v", i, err)
		}
		hangup(t, c)
		lost += e.client.Stats().AppLost
		prev = e.client
	}
	t.Logf("application found lost and re-registered %d times in 5 reopens", lost)
}
