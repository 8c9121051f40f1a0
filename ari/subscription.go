package ari

import (
	"sync"
	"sync/atomic"
)

// Subscription receives, in order, every event concerning any of its ids (channel, bridge, playback or recording
// ids; see Event.ChannelIDs), or every event for SubscribeAll. Events are queued in a bounded buffer
// (Config.EventBuffer) so one slow consumer never delays the others: when the buffer is full, events for this
// subscription are dropped, counted (Dropped, Client.Stats) and logged, and an *Overflow event saying how many were
// lost is delivered before the next event that fits.
type Subscription struct {
	c   *Client
	all bool
	ch  chan Event

	mu      sync.Mutex // guards closed, pending, ids and sends on ch
	closed  bool
	pending uint64 // dropped since the last *Overflow
	ids     map[string]struct{}

	dropped atomic.Uint64
}

// subRegistry maps ids to subscriptions; the event reader looks up each event's ids here.
type subRegistry struct {
	mu     sync.RWMutex
	byID   map[string][]*Subscription
	all    []*Subscription
	open   map[*Subscription]struct{}
	closed bool
}

func (r *subRegistry) init() {
	r.byID = make(map[string][]*Subscription)
	r.open = make(map[*Subscription]struct{})
}

// Subscribe returns a subscription for events concerning ids. Add ids you choose (NewID) before the request that
// creates the resource, so its first event cannot be missed. The subscription ends with Close or the client's
// Close; its Events channel is then closed.
func (c *Client) Subscribe(ids ...string) *Subscription {
	return c.SubscribeSize(c.cfg.EventBuffer, ids...)
}

// SubscribeSize is Subscribe with a queue of n events instead of Config.EventBuffer: a channel's own events come
// a few at a time, so a driver with thousands of calls keeps each call's queue small (a queue's memory is
// allocated up front). n below 2 is taken as 2.
func (c *Client) SubscribeSize(n int, ids ...string) *Subscription {
	s := c.newSub(false, n)
	s.Add(ids...)
	return s
}

// SubscribeAll returns a subscription for every event of the application, including events no id matches (such as
// ApplicationReplaced).
func (c *Client) SubscribeAll() *Subscription {
	return c.newSub(true, c.cfg.EventBuffer)
}

func (c *Client) newSub(all bool, n int) *Subscription {
	if n < 2 {
		n = 2 // room for an *Overflow and the event after it
	}
	s := &Subscription{c: c, all: all, ch: make(chan Event, n), ids: make(map[string]struct{})}
	r := &c.subs
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		s.closed = true
		close(s.ch)
		return s
	}
	r.open[s] = struct{}{}
	if all {
		r.all = append(r.all, s)
	}
	return s
}

// Events returns the subscription's event channel, closed when the subscription or its client is closed.
func (s *Subscription) Events() <-chan Event { return s.ch }

// Dropped returns how many events this subscription lost because its queue was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Add adds ids to the subscription; events concerning them are delivered from now on.
func (s *Subscription) Add(ids ...string) {
	r := &s.c.subs
	r.mu.Lock()
	defer r.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		if _, ok := s.ids[id]; ok {
			continue
		}
		s.ids[id] = struct{}{}
		r.byID[id] = append(r.byID[id], s)
	}
}

// Remove stops delivering events concerning ids (unless another of the subscription's ids matches them).
func (s *Subscription) Remove(ids ...string) {
	r := &s.c.subs
	r.mu.Lock()
	defer r.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if _, ok := s.ids[id]; !ok {
			continue
		}
		delete(s.ids, id)
		r.unlinkLocked(id, s)
	}
}

// Close ends the subscription and closes its Events channel. It is idempotent.
func (s *Subscription) Close() {
	r := &s.c.subs
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closeLocked(s)
}

func (r *subRegistry) unlinkLocked(id string, s *Subscription) {
	list := r.byID[id]
	for i, x := range list {
		if x == s {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(r.byID, id)
	} else {
		r.byID[id] = list
	}
}

// closeLocked unregisters and closes s; r.mu must be held.
func (r *subRegistry) closeLocked(s *Subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for id := range s.ids {
		r.unlinkLocked(id, s)
	}
	if s.all {
		for i, x := range r.all {
			if x == s {
				r.all = append(r.all[:i:i], r.all[i+1:]...)
				break
			}
		}
	}
	delete(r.open, s)
	close(s.ch)
}

// closeAll closes every subscription; later ones are born closed.
func (r *subRegistry) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for s := range r.open {
		r.closeLocked(s)
	}
}

// dispatch hands ev to every subscription it concerns, without blocking. It runs on the single event reader
// goroutine, so each subscription sees events in the order Asterisk sent them.
func (c *Client) dispatch(ev Event) {
	var buf [8]*Subscription
	targets := buf[:0]
	r := &c.subs
	r.mu.RLock()
	targets = append(targets, r.all...)
	for _, id := range ev.ChannelIDs() {
		for _, s := range r.byID[id] {
			dup := false
			for _, t := range targets {
				if t == s {
					dup = true
					break
				}
			}
			if !dup {
				targets = append(targets, s)
			}
		}
	}
	r.mu.RUnlock()
	if len(targets) == 0 {
		c.stats.unmatched.Add(1)
		return
	}
	for _, s := range targets {
		s.deliver(ev)
	}
}

// deliver queues ev without blocking; on a full queue it counts the loss and reports it later with *Overflow.
func (s *Subscription) deliver(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.pending > 0 {
		// Only this goroutine sends, so free space seen here can only grow.
		if cap(s.ch)-len(s.ch) >= 2 {
			s.ch <- &Overflow{Dropped: s.pending}
			s.pending = 0
			s.ch <- ev
			return
		}
		s.drop(ev)
		return
	}
	select {
	case s.ch <- ev:
	default:
		s.drop(ev)
	}
}

func (s *Subscription) drop(ev Event) {
	if s.pending == 0 {
		s.c.log.Warn().Str("event", ev.Type()).Int("buffer", cap(s.ch)).
			Msg("ari subscription queue full: dropping events until the consumer catches up")
	}
	s.pending++
	s.dropped.Add(1)
	s.c.stats.dropped.Add(1)
}
