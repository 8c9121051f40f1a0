package driver_test

import (
	"context"
	"testing"
	"time"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/aritest"
	"github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/internal/mediatest"
	"github.com/outcall/outcall/pkg/call"
)

// driverGoroutines counts the goroutines running the driver's code (ari, its transports and the shared audio
// machinery; not the in-process simulator).
func driverGoroutines() int {
	return mediatest.Goroutines([]string{"outcall/ari.", "outcall/ari/driver.", "outcall/pkg/audio.", "outcall/pkg/rtp.", "outcall/pkg/audiosocket."},
		[]string{"/ari/aritest.", "/pkg/callee."})
}

// BenchmarkGoroutinesPerCall: goroutines of the driver per live call, per transport, with N answered calls whose
// media is flowing and read through the frame channel as the dialog runtime does.
func BenchmarkGoroutinesPerCall(b *testing.B) {
	for _, transport := range []string{driver.TransportRTP, driver.TransportAudioSocket, driver.TransportWebSocket} {
		b.Run(transport, func(b *testing.B) {
			const n = 50
			sim := aritest.Start(b, aritest.Config{})
			e := startDriver(b, ari.Config{URL: sim.URL(), Username: sim.Username(), Password: sim.Password(), App: "outcall"},
				driver.Config{Transport: transport}, sim)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var perCall float64
			for b.Loop() {
				base := driverGoroutines()
				calls := make([]call.Call, n)
				for i := range calls {
					var err error
					if calls[i], err = e.driver.Dial(ctx, call.Request{Endpoint: "Local/echo@outcall-test"}); err != nil {
						b.Fatal(err)
					}
				}
				for _, cl := range calls {
					<-cl.Media().Caps().Frames
				}
				perCall = float64(driverGoroutines()-base) / n
				for _, cl := range calls {
					_ = cl.Hangup(ctx, call.CauseNormal)
					for range cl.Events() {
					}
				}
			}
			b.ReportMetric(perCall, "goroutines/call")
		})
	}
}
