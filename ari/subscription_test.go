package ari

import (
	"fmt"
	"sync"
	"testing"
)

func mustDecode(t testing.TB, s string) Event {
	ev, err := DecodeEvent([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestSubscriptionAddRemove(t *testing.T) {
	c, err := New(Config{URL: "http://127.0.0.1:1", App: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := c.Subscribe("ch-1", "ch-1", "")
	s.Add("br-1")
	c.dispatch(mustDecode(t, `{"type":"ChannelEnteredBridge","bridge":{"id":"br-1"},"channel":{"id":"ch-1"}}`))
	if n := len(s.ch); n != 1 {
		t.Fatalf("an event matching two ids was queued %d times", n)
	}
	<-s.ch
	s.Remove("ch-1", "never-added")
	c.dispatch(mustDecode(t, dtmf("ch-1", "1")))
	if len(s.ch) != 0 {
		t.Fatal("removed id still delivered")
	}
	if st := c.Stats(); st.Unmatched != 1 {
		t.Fatalf("unmatched = %d", st.Unmatched)
	}
	c.dispatch(mustDecode(t, `{"type":"BridgeDestroyed","bridge":{"id":"br-1"}}`))
	if len(s.ch) != 1 {
		t.Fatal("remaining id not delivered")
	}
	s.Close()
	s.Add("ch-9") // no effect after Close, no panic
	c.dispatch(mustDecode(t, dtmf("ch-9", "1")))
	if len(c.subs.byID) != 0 || len(c.subs.open) != 0 {
		t.Fatalf("registry not empty after Close: %v", c.subs.byID)
	}
}

// TestSubscriptionsConcurrent subscribes, adds, removes and closes from many goroutines while the reader
// dispatches; run with -race.
func TestSubscriptionsConcurrent(t *testing.T) {
	c, err := New(Config{URL: "http://127.0.0.1:1", App: "a", EventBuffer: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const calls = 40
	evs := make([]Event, calls)
	for i := range evs {
		evs[i] = mustDecode(t, dtmf(fmt.Sprintf("ch-%d", i), "1"))
	}
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c.dispatch(evs[i%calls])
		}
	}()
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("ch-%d", i)
			for range 20 {
				s := c.Subscribe()
				s.Add(id, "br-"+id)
				ev := <-s.Events()
				if _, ok := ev.(*Overflow); !ok && ev.ChannelIDs()[0] != id {
					t.Errorf("subscription for %s got %v", id, ev.ChannelIDs())
				}
				s.Remove("br-" + id)
				s.Close()
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-readerDone
	c.subs.mu.RLock()
	defer c.subs.mu.RUnlock()
	if len(c.subs.byID) != 0 || len(c.subs.open) != 0 {
		t.Fatalf("registry not empty: %d ids, %d open", len(c.subs.byID), len(c.subs.open))
	}
}
