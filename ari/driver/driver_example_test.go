package driver_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/aritest"
	"github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
)

// A driver dials through a started client; answered calls carry 20 ms PCM frames both ways, unanswered ones
// return a *call.Error with the outcome. The simulator stands in for Asterisk here.
func ExampleNew() {
	sim, err := aritest.New(aritest.Config{})
	if err != nil {
		panic(err)
	}
	defer sim.Close()
	client, err := ari.New(ari.Config{URL: sim.URL(), Username: sim.Username(), Password: sim.Password(), App: "bot"})
	if err != nil {
		panic(err)
	}
	defer client.Close()
	ctx := context.Background()
	if err := client.Start(ctx); err != nil {
		panic(err)
	}
	drv, err := driver.New(client, driver.Config{Format: driver.FormatULaw, Transport: driver.TransportRTP})
	if err != nil {
		panic(err)
	}
	defer drv.Close()

	_, err = drv.Dial(ctx, call.Request{Endpoint: "Local/busy@outcall-test", Timeout: 5 * time.Second})
	var ce *call.Error
	if errors.As(err, &ce) {
		fmt.Println("busy line:", ce.Outcome, int(ce.Cause))
	}

	c, err := drv.Dial(ctx, call.Request{Endpoint: "Local/echo@outcall-test", Timeout: 5 * time.Second})
	if err != nil {
		panic(err)
	}
	m := c.Media()
	_ = m.Write(ctx, audio.Frame{Rate: m.Format().Rate, Samples: make([]int16, m.Format().FrameSamples())})
	f, _ := m.Read(ctx)
	fmt.Println("frame:", f.Rate, "Hz,", f.Duration())
	_ = c.Hangup(ctx, call.CauseNormal)
	for ev := range c.Events() {
		if ev.Type == call.EventHangup {
			fmt.Println("hung up by the callee:", ev.Remote)
		}
	}
	// Output:
	// busy line: busy 17
	// frame: 8000 Hz, 20ms
	// hung up by the callee: false
}
