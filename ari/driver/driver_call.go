package driver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
)

// callMedia is a call's media on one transport; close ends it (Read drains, then returns err).
type callMedia interface {
	call.Media
	close(err error)
}

// ariCall is an answered call on Asterisk: the callee's channel, the mixing bridge and the ExternalMedia
// channel. One goroutine (loop) reads its events in order and tears everything down at hang-up.
type ariCall struct {
	d        *Driver
	id       string
	chanID   string // the originated channel (Local ;1 or the trunk channel)
	otherID  string // the dialplan half of a Local channel
	bridgeID string
	extID    string
	sub      *ari.Subscription
	log      zerolog.Logger
	media    callMedia

	bridgeMade, extMade bool // set during setup, read at teardown

	emitMu       sync.Mutex // guards events, dropped and eventsClosed: the loop and Transfer both emit
	events       chan call.Event
	dropped      int
	eventsClosed bool
	done         chan struct{} // closed when teardown is complete
	hangupCh     chan struct{}

	mu         sync.Mutex
	local      bool   // the bot asked for the hang-up
	continued  bool   // Transfer sent the callee to the dialplan
	continueTo string // where: "context,extension,priority"; the loop reports it with EventTransferred
	agentID    string
	extGone    bool
	finishing  bool // teardown has started; a late agent must be hung up by whoever bridged it
	transferMu sync.Mutex
	teardown   sync.Once
}

var _ call.Call = (*ariCall)(nil)

// ID implements call.Call.
func (c *ariCall) ID() string { return c.id }

// ChannelID returns the Asterisk id of the callee's channel.
func (c *ariCall) ChannelID() string { return c.chanID }

// Media implements call.Call.
func (c *ariCall) Media() call.Media { return c.media }

// Events implements call.Call.
func (c *ariCall) Events() <-chan call.Event { return c.events }

// Hangup implements call.Call: it hangs up the callee with cause (mapped to ARI's reason names) and waits until
// the bridge and the media are torn down or ctx ends.
func (c *ariCall) Hangup(ctx context.Context, cause call.Cause) error {
	select {
	case <-c.done:
		return fmt.Errorf("ari: hangup %s: %w", c.id, call.ErrHungUp)
	default:
	}
	c.mu.Lock()
	c.local = true
	continued := c.continued
	c.mu.Unlock()
	if !continued {
		err := c.d.c.Hangup(ctx, c.chanID, hangupReason(cause))
		if err != nil && !errors.Is(err, ari.ErrNotFound) && !errors.Is(err, ari.ErrInvalidState) {
			return fmt.Errorf("ari: hangup %s: %w", c.id, err)
		}
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ari: hangup %s: waiting for teardown: %w", c.id, ctx.Err())
	}
}

// SendDTMF implements call.Call.
func (c *ariCall) SendDTMF(ctx context.Context, digits string) error {
	select {
	case <-c.done:
		return fmt.Errorf("ari: send dtmf: %w", call.ErrHungUp)
	default:
	}
	if err := c.d.c.SendDTMF(ctx, c.chanID, ari.DTMFParams{DTMF: digits}); err != nil {
		return fmt.Errorf("ari: send dtmf on %s: %w", c.id, err)
	}
	return nil
}

// Transfer implements call.Call. With an Endpoint it originates the agent, adds the answered agent to the call's
// bridge and hangs up the bot's ExternalMedia channel (Media then returns ErrHungUp); the call ends when the callee
// or the agent hangs up. With a Context/Extension it takes the callee out of the bridge and continues it in the
// dialplan; the Call then ends (EventTransferred, then EventHangup with Cause normal).
func (c *ariCall) Transfer(ctx context.Context, to call.Target) error {
	c.transferMu.Lock()
	defer c.transferMu.Unlock()
	select {
	case <-c.done:
		return fmt.Errorf("ari: transfer: %w", call.ErrHungUp)
	default:
	}
	c.mu.Lock()
	already := c.agentID != ""
	c.mu.Unlock()
	if already {
		return fmt.Errorf("ari: transfer %s: %w: already transferred to an agent", c.id, ari.ErrInvalidState)
	}
	if to.Endpoint == "" {
		if to.Extension == "" && to.Context == "" {
			return fmt.Errorf("ari: transfer: %w: target has no endpoint, context or extension", ari.ErrIncompleteConfig)
		}
		// Not tied to the call's end: a successful continue ends the call's time in Stasis (StasisEnd), and that
		// event may arrive before the request's own response.
		return c.transferDialplan(ctx, to)
	}
	// The transfer gives up when the call ends meanwhile (the callee hangs up while the agent rings).
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-c.done:
			stop()
		case <-ctx.Done():
		}
	}()
	return c.transferAgent(ctx, to)
}

func (c *ariCall) transferDialplan(ctx context.Context, to call.Target) error {
	prio := to.Priority
	if prio <= 0 {
		prio = 1
	}
	detail := to.Context + "," + to.Extension + "," + strconv.Itoa(prio)
	c.mu.Lock()
	c.continued, c.continueTo = true, detail
	c.mu.Unlock()
	if err := c.d.c.RemoveChannel(ctx, c.bridgeID, c.chanID); err != nil && !errors.Is(err, ari.ErrNotFound) {
		c.log.Debug().Err(err).Msg("ari: remove callee from bridge before continue")
	}
	if err := c.d.c.ContinueInDialplan(ctx, c.chanID, ari.ContinueParams{Context: to.Context, Extension: to.Extension, Priority: prio}); err != nil {
		c.mu.Lock()
		c.continued = false
		c.mu.Unlock()
		// Put the callee back with the bot.
		if aerr := c.d.c.AddChannel(ctx, c.bridgeID, ari.AddChannelParams{Channels: []string{c.chanID}}); aerr != nil {
			c.log.Warn().Err(aerr).Msg("ari: re-adding callee after failed continue")
		}
		return fmt.Errorf("ari: transfer %s to %s: %w", c.id, detail, err)
	}
	c.media.close(fmt.Errorf("media detached by transfer: %w", call.ErrHungUp))
	// The loop reports EventTransferred when the callee leaves Stasis, then the hang-up "transferred".
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		select {
		case <-c.done: // ctx was ended by the call's end, which is what we waited for
			return nil
		default:
		}
		return fmt.Errorf("ari: transfer %s: waiting for the callee to leave: %w", c.id, ctx.Err())
	}
}

func (c *ariCall) transferAgent(ctx context.Context, to call.Target) error {
	agentID, agentOther := ari.NewID("ag"), ari.NewID("ag")
	c.sub.Add(agentID) // the call's loop watches the agent once it is bridged
	asub := c.d.c.SubscribeSize(callEventQueue, agentID, agentOther)
	defer asub.Close()
	timeout := to.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	detail := redactEndpoint(to.Endpoint)
	if _, err := c.d.c.Originate(ctx, ari.OriginateParams{
		Endpoint: to.Endpoint, App: c.d.c.App(), CallerID: to.CallerID, Timeout: timeout,
		ChannelID: agentID, OtherChannelID: agentOther,
	}); err != nil {
		c.sub.Remove(agentID)
		return fmt.Errorf("ari: transfer %s to %s: %w", c.id, detail, err)
	}
	if _, err := c.d.awaitAnswer(ctx, asub, agentID, agentOther, timeout, c.log); err != nil {
		c.sub.Remove(agentID)
		return fmt.Errorf("ari: transfer %s to %s: %w", c.id, detail, err)
	}
	if err := c.d.c.AddChannel(ctx, c.bridgeID, ari.AddChannelParams{Channels: []string{agentID}}); err != nil {
		hctx, cancel := context.WithTimeout(context.Background(), c.d.cfg.CleanupTimeout)
		_ = c.d.c.Hangup(hctx, agentID, ari.ReasonNormal)
		cancel()
		c.sub.Remove(agentID)
		return fmt.Errorf("ari: transfer %s to %s: %w", c.id, detail, err)
	}
	c.mu.Lock()
	finishing := c.finishing
	if !finishing {
		c.agentID = agentID
		c.extGone = true
	}
	c.mu.Unlock()
	if finishing { // the call ended while the agent was being bridged: teardown will not see the agent
		hctx, cancel := context.WithTimeout(context.Background(), c.d.cfg.CleanupTimeout)
		_ = c.d.c.Hangup(hctx, agentID, ari.ReasonNormal)
		cancel()
		return fmt.Errorf("ari: transfer %s to %s: %w", c.id, detail, call.ErrHungUp)
	}
	c.media.close(fmt.Errorf("media detached by transfer: %w", call.ErrHungUp))
	if err := c.d.c.Hangup(ctx, c.extID, ari.ReasonNormal); err != nil && !errors.Is(err, ari.ErrNotFound) {
		c.log.Warn().Err(err).Msg("ari: hang up ExternalMedia after transfer")
	}
	c.emit(call.Event{Type: call.EventTransferred, Time: time.Now(), Detail: detail})
	// An agent who hung up before agentID was set went unnoticed by the loop: check once.
	if _, err := c.d.c.GetChannel(ctx, agentID); errors.Is(err, ari.ErrNotFound) {
		c.log.Debug().Msg("ari: agent left right after the transfer; hanging up the callee")
		c.hangupCallee(ari.ReasonNormal)
	}
	return nil
}

// loop reads the call's events in order until the callee is gone, then tears down.
func (c *ariCall) loop() {
	cause, remote, detail, at := call.CauseUnknown, true, "", time.Time{}
	defer func() { c.finish(cause, remote, detail, at) }()
	for ev := range c.sub.Events() {
		switch e := ev.(type) {
		case *ari.ChannelDtmfReceived:
			if e.Channel.ID == c.chanID && e.Digit != "" {
				c.emit(call.Event{Type: call.EventDTMF, Time: e.Timestamp.Time, Digit: rune(e.Digit[0]),
					Length: time.Duration(e.DurationMS) * time.Millisecond})
			}
		case *ari.ChannelTalkingStarted:
			if e.Channel.ID == c.chanID {
				c.emit(call.Event{Type: call.EventTalkingStarted, Time: e.Timestamp.Time})
			}
		case *ari.ChannelTalkingFinished:
			if e.Channel.ID == c.chanID {
				c.emit(call.Event{Type: call.EventTalkingStopped, Time: e.Timestamp.Time,
					Length: time.Duration(e.Duration) * time.Millisecond})
			}
		case *ari.ChannelHangupRequest:
			if e.Channel.ID == c.chanID && e.Cause != 0 {
				cause = call.Cause(e.Cause)
			}
		case *ari.ChannelDestroyed:
			switch e.Channel.ID {
			case c.chanID:
				if e.Cause != 0 || cause == call.CauseUnknown {
					cause = call.Cause(e.Cause)
				}
				at = e.Timestamp.Time
				return
			case c.extID:
				c.mu.Lock()
				gone := c.extGone
				c.mu.Unlock()
				if !gone {
					c.log.Warn().Msg("ari: ExternalMedia channel vanished; hanging up the call")
					detail = "media channel lost"
					c.hangupCallee(ari.ReasonNormal)
				}
			default:
				c.mu.Lock()
				agent := c.agentID
				c.mu.Unlock()
				if agent != "" && e.Channel.ID == agent {
					detail = "agent hung up"
					c.hangupCallee(ari.ReasonNormal)
				}
			}
		case *ari.StasisEnd:
			c.mu.Lock()
			continued := c.continued
			c.mu.Unlock()
			if e.Channel.ID == c.chanID && continued {
				c.mu.Lock()
				to := c.continueTo
				c.mu.Unlock()
				c.emit(call.Event{Type: call.EventTransferred, Time: e.Timestamp.Time, Detail: to})
				cause, detail, at = call.CauseNormal, "transferred", e.Timestamp.Time
				return
			}
		case *ari.Overflow:
			// A dropped event may have been the hang-up: ask Asterisk whether the callee is still there.
			c.log.Warn().Uint64("dropped", e.Dropped).Msg("ari: call events dropped by a full subscription")
			ctx, cancel := context.WithTimeout(context.Background(), c.d.cfg.CleanupTimeout)
			_, err := c.d.c.GetChannel(ctx, c.chanID)
			cancel()
			if errors.Is(err, ari.ErrNotFound) {
				detail = "channel gone; its hang-up event was dropped"
				return
			}
		}
	}
	detail = "event stream closed"
}

func (c *ariCall) hangupCallee(reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), c.d.cfg.CleanupTimeout)
	defer cancel()
	if err := c.d.c.Hangup(ctx, c.chanID, reason); err != nil && !errors.Is(err, ari.ErrNotFound) {
		c.log.Warn().Err(err).Msg("ari: hang up callee")
	}
}

// emit queues an event without blocking the loop; the last slot is kept for the hang-up event.
func (c *ariCall) emit(e call.Event) {
	c.emitMu.Lock()
	defer c.emitMu.Unlock()
	if c.eventsClosed {
		return
	}
	if e.Type != call.EventHangup && len(c.events) >= cap(c.events)-1 {
		c.dropped++
		c.log.Warn().Stringer("event", e.Type).Int("dropped", c.dropped).Msg("ari: call events not read; dropping")
		return
	}
	select {
	case c.events <- e:
	default:
		c.dropped++
	}
}

// finish runs once at the end of the loop: media, ExternalMedia channel and bridge go, then the hang-up event.
func (c *ariCall) finish(cause call.Cause, remote bool, detail string, at time.Time) {
	if at.IsZero() {
		at = time.Now()
	}
	c.teardown.Do(func() {
		c.mu.Lock()
		c.finishing = true
		if c.local {
			remote = false
		}
		agent := c.agentID
		c.mu.Unlock()
		c.media.close(call.ErrHungUp)
		c.releaseResources()
		if agent != "" {
			ctx, cancel := context.WithTimeout(context.Background(), c.d.cfg.CleanupTimeout)
			if err := c.d.c.Hangup(ctx, agent, ari.ReasonNormal); err != nil && !errors.Is(err, ari.ErrNotFound) {
				c.log.Debug().Err(err).Msg("ari: hang up agent")
			}
			cancel()
		}
		c.sub.Close()
		c.d.mu.Lock()
		delete(c.d.calls, c)
		c.d.mu.Unlock()
		c.emit(call.Event{Type: call.EventHangup, Time: at, Cause: cause, Remote: remote, Detail: detail})
		c.emitMu.Lock()
		c.eventsClosed = true
		close(c.events)
		c.emitMu.Unlock()
		close(c.done)
		c.log.Debug().Int("cause", int(cause)).Bool("remote", remote).Msg("ari: call ended")
		c.d.wg.Done()
	})
}

// releaseResources hangs up the ExternalMedia channel and destroys the bridge; both may already be gone.
func (c *ariCall) releaseResources() {
	ctx, cancel := context.WithTimeout(context.Background(), c.d.cfg.CleanupTimeout)
	defer cancel()
	if c.media != nil {
		c.media.close(call.ErrHungUp)
	}
	c.mu.Lock()
	extGone := c.extGone
	c.extGone = true
	c.mu.Unlock()
	if c.extMade && !extGone {
		if err := c.d.c.Hangup(ctx, c.extID, ari.ReasonNormal); err != nil && !errors.Is(err, ari.ErrNotFound) {
			c.log.Debug().Err(err).Msg("ari: hang up ExternalMedia channel")
		}
	}
	if c.bridgeMade {
		if err := c.d.c.DestroyBridge(ctx, c.bridgeID); err != nil && !errors.Is(err, ari.ErrNotFound) {
			c.log.Debug().Err(err).Msg("ari: destroy bridge")
		}
	}
}

// hangupReason maps a Q.850 cause to the reason name ARI's DELETE /channels takes (or the code itself).
func hangupReason(c call.Cause) string {
	switch c {
	case call.CauseNormal, call.CauseUnknown:
		return ari.ReasonNormal
	case call.CauseUserBusy:
		return ari.ReasonBusy
	case call.CauseCongestion, call.CauseSwitchCongestion:
		return ari.ReasonCongestion
	case call.CauseNoAnswer, call.CauseNoUserResponse:
		return ari.ReasonNoAnswer
	case call.CauseCallRejected:
		return ari.ReasonRejected
	case call.CauseUnallocated:
		return ari.ReasonUnallocated
	case call.CauseNormalUnspec:
		return ari.ReasonNormalUnspecified
	case call.CauseInvalidNumber:
		return ari.ReasonNumberIncomplete
	case call.CauseBearerCapNotAvail:
		return ari.ReasonCodecMismatch
	case call.CauseInterworking:
		return ari.ReasonInterworking
	}
	return strconv.Itoa(int(c))
}

// MediaStats counts one call's frames. The Media of a Driver's call has a Stats method returning it:
//
//	if s, ok := c.Media().(interface{ Stats() ari.MediaStats }); ok { ... }
type MediaStats struct {
	Playout audio.PlayoutStats // the bot's frames through the playout clock: queued, sent on the wire, flushed
	Jitter  audio.JitterStats  // the callee's frames through the receive jitter buffer
}

// Stats returns the call's frame counters.
func (m *mediaRTP) Stats() MediaStats {
	return MediaStats{Playout: m.out.Stats(), Jitter: m.rx.Stats()}
}

// Stats returns the call's frame counters.
func (m *mediaAudioSocket) Stats() MediaStats {
	return MediaStats{Playout: m.out.Stats(), Jitter: m.rx.Stats()}
}

// Stats returns the call's frame counters.
func (m *mediaWebSocket) Stats() MediaStats {
	return MediaStats{Playout: m.out.Stats(), Jitter: m.rx.Stats()}
}
