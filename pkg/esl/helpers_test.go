package esl_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/esl"
	"github.com/outcall/outcall/pkg/esl/esltest"
)

// newFake starts a fake FreeSWITCH and a client connected to it, both closed at the end of the test.
func newFake(t testing.TB, cfg esl.Config) (*esltest.Server, *esl.Client) {
	t.Helper()
	return newFakeWith(t, esltest.Config{}, cfg)
}

// newFakeWith is newFake with the fake's configuration.
func newFakeWith(t testing.TB, fcfg esltest.Config, cfg esl.Config) (*esltest.Server, *esl.Client) {
	t.Helper()
	fs, err := esltest.New(fcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Close() })
	cfg.Addr = fs.Addr()
	if cfg.ReconnectMin == 0 {
		cfg.ReconnectMin = 10 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := esl.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return fs, c
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// checkLeaks fails the test if goroutines of this module are still running after cleanup settles.
func checkLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			var leaked []string
			for _, g := range strings.Split(string(buf[:n]), "\n\n") {
				if strings.Contains(g, "outcall/outcall/pkg/") && !strings.Contains(g, "checkLeaks") &&
					!strings.Contains(g, "testing.tRunner") && !strings.Contains(g, "testing.(*T).Run") {
					leaked = append(leaked, g)
				}
			}
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d goroutines leaked; first:\n%s", len(leaked), leaked[0])
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
