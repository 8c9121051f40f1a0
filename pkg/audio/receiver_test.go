package audio

import (
	"context"
	"errors"
	"testing"
)

// TestReceiverCloseNil: Close(nil) ends a paced Receiver like any other Close: Read says it is closed and the Pacer
// stops sending to it (it used to go on and send on the closed frame channel: a panic).
func TestReceiverCloseNil(t *testing.T) {
	clock := NewClock(ClockConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = clock.Run(ctx) }()
	p := NewPacer(clock)
	defer p.Close()
	r := NewReceiver(ReceiverConfig{Format: Narrowband})
	p.Add(r)
	<-r.Frames() // the Pacer is sending
	r.Close(nil)
	for range r.Frames() { // drains, then closed
	}
	if _, err := r.Read(ctx); !errors.Is(err, ErrReceiverClosed) {
		t.Fatalf("Read after Close(nil): %v, want ErrReceiverClosed", err)
	}
	// The Pacer forgets it on its next tick; a send on the closed channel would panic here.
	for range 5 {
		_, tick, _ := clock.NextTick()
		<-tick
	}
}
