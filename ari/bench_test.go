package ari

import (
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// BenchmarkDispatch routes one decoded event to its subscription among 1,000 calls' subscriptions.
func BenchmarkDispatch(b *testing.B) {
	c, err := New(Config{URL: "http://127.0.0.1:1", App: "a"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	subs := make([]*Subscription, 1000)
	for i := range subs {
		subs[i] = c.Subscribe(fmt.Sprintf("ch-%d", i), fmt.Sprintf("br-%d", i))
	}
	evs := make([]Event, len(subs))
	for i := range evs {
		evs[i], _ = DecodeEvent([]byte(dtmf(fmt.Sprintf("ch-%d", i), "1")))
	}
	b.ReportAllocs()
	i := 0
	cpu := processCPU()
	for b.Loop() {
		c.dispatch(evs[i%len(evs)])
		s := subs[i%len(subs)]
		<-s.ch
		i++
	}
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkEventsWebSocket measures events through the whole path: a server writes StasisStart-sized events on a
// real 127.0.0.1 WebSocket, the client decodes and dispatches them, a subscriber reads them.
func BenchmarkEventsWebSocket(b *testing.B) {
	f := newFakeEventsTB(b)
	c, err := New(f.config())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	sub := c.Subscribe("ch-1")
	if err := c.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	var conn *websocket.Conn
	select {
	case conn = <-f.conns:
	case <-time.After(10 * time.Second):
		b.Fatal("no connection")
	}
	var msg []byte
	for _, tt := range decodeCases {
		if tt.name == "StasisStart" {
			msg = []byte(tt.json)
		}
	}
	b.SetBytes(int64(len(msg)))
	// At most half a queue in flight, so the benchmark measures throughput, not the overflow policy.
	window := make(chan struct{}, DefaultEventBuffer/2)
	b.ResetTimer()
	cpu := processCPU()
	go func() {
		for range b.N {
			window <- struct{}{}
			if conn.Write(b.Context(), websocket.MessageText, msg) != nil {
				return
			}
		}
	}()
	for range b.N {
		if _, ok := (<-sub.Events()).(*StasisStart); !ok {
			b.Fatal("unexpected event")
		}
		<-window
	}
	// Includes the server side's writes: an upper bound of the client's cost.
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}
