package ari

import (
	"sync"
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// rxPacer pops every call's next received frame on each tick of the playout clock, from one goroutine, and hands
// it to the call's frame channel (call.FrameChannel): a call costs no goroutine or timer of its own to be paced,
// and its consumer wakes once per frame. When the clock is not running it paces with a 20 ms ticker.
type rxPacer struct {
	clock *audio.Clock

	mu   sync.Mutex
	rxs  map[*mediaRx]struct{}
	list []*mediaRx // reused by the loop

	stop chan struct{}
	done chan struct{}
}

func newRxPacer(clock *audio.Clock) *rxPacer {
	p := &rxPacer{clock: clock, rxs: make(map[*mediaRx]struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p
}

// add starts pacing r: from now on its frames arrive on r.frames.
func (p *rxPacer) add(r *mediaRx) {
	r.startPush()
	p.mu.Lock()
	p.rxs[r] = struct{}{}
	p.mu.Unlock()
}

// close ends the loop.
func (p *rxPacer) close() {
	close(p.stop)
	<-p.done
}

func (p *rxPacer) loop() {
	defer close(p.done)
	var fallback *time.Ticker
	defer func() {
		if fallback != nil {
			fallback.Stop()
		}
	}()
	for {
		if _, tick, ok := p.clock.NextTick(); ok {
			select {
			case <-tick:
			case <-p.stop:
				return
			}
		} else {
			if fallback == nil {
				fallback = time.NewTicker(audio.FrameDuration)
			}
			select {
			case <-fallback.C:
			case <-p.stop:
				return
			}
		}
		p.mu.Lock()
		p.list = p.list[:0]
		for r := range p.rxs {
			p.list = append(p.list, r)
		}
		p.mu.Unlock()
		now := time.Now()
		ended := 0
		for i, r := range p.list {
			if !r.pushDue(now) {
				p.list[ended] = r // ended media: forgotten below
				ended++
			}
			if i >= ended {
				p.list[i] = nil
			}
		}
		if ended > 0 {
			p.mu.Lock()
			for i := range ended {
				delete(p.rxs, p.list[i])
				p.list[i] = nil
			}
			p.mu.Unlock()
		}
	}
}
