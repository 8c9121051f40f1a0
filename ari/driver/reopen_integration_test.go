package driver_test

import (
	"context"
	"testing"
	"time"

	"github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/pkg/call"
)

// TestIntegrationReopen: 30 clients of the same application, each opened as the previous one closes, each
// placing a call: on Asterisk 23 about one in thirty used to get no events at all.
func TestIntegrationReopen(t *testing.T) {
	var lost uint64
	for i := range 30 {
		e := newRealDriver(t, driver.Config{})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := e.driver.Dial(ctx, call.Request{Endpoint: "Local/echo@outcall-test", Timeout: 5 * time.Second})
		cancel()
		if err != nil {
			actx, acancel := context.WithTimeout(context.Background(), 5*time.Second)
			app, aerr := e.client.GetApplication(actx, testApp())
			acancel()
			t.Fatalf("reopen %d: %v (client %+v; application now: %+v %v)", i, err, e.client.Stats(), app, aerr)
		}
		hangup(t, c)
		lost += e.client.Stats().AppLost
		if err := e.driver.Close(); err != nil {
			t.Fatal(err)
		}
		e.client.Close()
	}
	t.Logf("application re-registered after a lost registration %d times in 30 reopens", lost)
}
