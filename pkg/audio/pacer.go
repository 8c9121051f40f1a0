package audio

import (
	"sync"
	"time"
)

// Pacer pops every Receiver's next frame on each tick of the playout clock, from one goroutine, and hands it to
// the Receiver's Frames channel: a call costs no goroutine or timer of its own to be paced, and its consumer wakes
// once per frame. When the clock is not running it paces with a 20 ms ticker.
type Pacer struct {
	clock *Clock

	mu   sync.Mutex
	rxs  map[*Receiver]struct{}
	list []*Receiver // reused by the loop

	stop chan struct{}
	done chan struct{}
}

// NewPacer starts a Pacer on clock; Close stops it.
func NewPacer(clock *Clock) *Pacer {
	p := &Pacer{clock: clock, rxs: make(map[*Receiver]struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p
}

// Add starts pacing r: from now on its frames arrive on r.Frames(). A closed Receiver is forgotten on the next
// tick.
func (p *Pacer) Add(r *Receiver) {
	r.startPush()
	p.mu.Lock()
	p.rxs[r] = struct{}{}
	p.mu.Unlock()
}

// Close stops the Pacer's goroutine.
func (p *Pacer) Close() {
	close(p.stop)
	<-p.done
}

func (p *Pacer) loop() {
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
				fallback = time.NewTicker(FrameDuration)
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
