package driver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/audiosocket"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/rtp"
)

// Media transports of the call driver.
const (
	TransportRTP         = "rtp"         // ExternalMedia rtp/udp on one shared, batched UDP socket
	TransportAudioSocket = "audiosocket" // ExternalMedia audiosocket/tcp, one TCP connection per call
)

// Media formats of the call driver (the ExternalMedia format on the wire).
const (
	FormatULaw   = "ulaw"   // G.711 µ-law, 8 kHz (RTP PT 0); AudioSocket uses 8 kHz slin for it
	FormatSlin16 = "slin16" // 16-bit linear, 16 kHz (RTP PT 118, big-endian; AudioSocket 0x12, little-endian)
)

// Driver errors.
var (
	// ErrMediaFormat reports a frame whose rate differs from the call's media format.
	ErrMediaFormat = errors.New("ari: frame rate does not match the call's media format")
	// ErrEventsNotConnected reports a Dial while the client's events WebSocket is down (not started, or
	// reconnecting): the call's events could not be seen.
	ErrEventsNotConnected = errors.New("ari: events WebSocket not connected")
	// ErrDriverClosed reports a Dial on a closed Driver.
	ErrDriverClosed = errors.New("ari: driver closed")
	// ErrNoFinalEvent reports a dial attempt Asterisk never resolved: no answer and no end well past its ring
	// timeout (events lost, or a stuck channel). The attempt is hung up.
	ErrNoFinalEvent = errors.New("ari: no answer or end reported for the dial attempt")
	// ErrNoStasisStart is wrapped by Dial when a channel the driver created (the ExternalMedia channel) did not
	// enter the application within Config.StasisTimeout; the half-made call was torn down.
	ErrNoStasisStart = errors.New("ari: channel did not enter Stasis in time")
	// ErrMediaRequestTimeout is wrapped by Dial when Asterisk did not answer POST /channels/externalMedia within
	// Config.StasisTimeout (chan_websocket on Asterisk 23.5.0-rc1 was seen holding such requests for ever); the
	// half-made call was torn down, the media channel hung up by the id the driver chose.
	ErrMediaRequestTimeout = errors.New("ari: ExternalMedia request not answered in time")
)

// Config configures a Driver.
type Config struct {
	// MediaHost is the address this process binds its media socket to and gives Asterisk as external_host
	// (MEDIA_HOST).
	MediaHost string // default: "127.0.0.1"
	// ExternalHost is the address Asterisk is told to send media to (external_host), when it differs from the
	// bound MediaHost (NAT, containers: bind 0.0.0.0, advertise the host's IP). The port is the bound one.
	ExternalHost string // default: MediaHost
	// Format is the ExternalMedia format: FormatULaw or FormatSlin16. Media frames are 8 kHz for ulaw, 16 kHz
	// for slin16. slin16 needs the audiosocket or websocket transport: over rtp Asterisk ignores what it receives
	// with slin16's dynamic payload type, and New refuses the pair.
	Format string // default: "ulaw"
	// Transport is TransportRTP, TransportAudioSocket or TransportWebSocket (chan_websocket: one WebSocket per
	// call to the ARI server's /media/<id>; MediaHost and ExternalHost are then unused).
	Transport string // default: "rtp"
	// Clock is the shared playout clock. When nil the driver creates one and runs it until Close.
	Clock *audio.Clock // default: a driver-owned clock with a 20 ms period
	// RTP is the shared UDP transport. When nil the driver listens on MediaHost:0 and closes it at Close.
	RTP *rtp.Transport // default: a driver-owned transport
	// AudioSocket is the AudioSocket server. When nil (and Transport is audiosocket) the driver listens on
	// MediaHost:0 and closes it at Close.
	AudioSocket *audiosocket.Server // default: a driver-owned server
	// PlayoutDepth is how many 20 ms frames Media.Write queues before it blocks.
	PlayoutDepth int // default: 10 (200 ms)
	// JitterDepth is how many 20 ms frames the receive jitter buffer holds before playout starts (the delay it
	// adds to Media.Read).
	JitterDepth int // default: 3 (60 ms)
	// ReadSlack is how long a due callee frame waits for a late packet, when nothing after it has arrived either,
	// before it is concealed: a sender that stalls for less (a busy PBX, a burst on the network) loses nothing, and
	// the frames it then sends are handed over at once. A far end that went quiet costs this much delay once.
	ReadSlack time.Duration // default: 60ms; <0: none
	// EventBuffer is the size of each Call's Events channel; events that do not fit are dropped and logged.
	EventBuffer int // default: 64
	// CleanupTimeout bounds the REST requests of teardown (hang-up, bridge and ExternalMedia removal).
	CleanupTimeout time.Duration // default: 5s
	// StasisTimeout bounds the wait for a channel the driver creates (the ExternalMedia channel on every
	// transport) to enter the application: Asterisk answers POST /channels/externalMedia before the channel's
	// StasisStart, and the channel can be bridged only after it. A call whose media channel does not arrive in
	// time fails with ErrNoStasisStart and is torn down (callee hung up, channel and bridge removed). It also
	// bounds the POST /channels/externalMedia request itself (ErrMediaRequestTimeout).
	StasisTimeout time.Duration // default: 5s
	// Logger receives the driver's logs. Endpoints (phone numbers) are logged redacted.
	Logger zerolog.Logger // default: zerolog.Nop() (the zero value logs nothing)
}

// Driver places calls through Asterisk: it implements call.Dialer. One Driver carries many concurrent calls over
// one media socket and one playout clock.
type Driver struct {
	c   *ari.Client
	cfg Config
	log zerolog.Logger

	format   audio.Format
	pt       uint8
	rtp      *rtp.Transport
	as       *audiosocket.Server
	clock    *audio.Clock
	group    *audio.Group
	pacer    *audio.Pacer // paces every call's received frames
	ownRTP   bool
	ownAS    bool
	cancel   context.CancelFunc
	clockEnd chan struct{}

	unreconcile func() // removes the reconnect hook that runs Reconcile

	closeCtx  context.Context // ended by Close: aborts dials in progress
	closeStop context.CancelFunc

	mu     sync.Mutex
	calls  map[*ariCall]struct{}
	closed bool
	wg     sync.WaitGroup
}

// callEventQueue is the queue length of each call's subscription to its channels' events (Client.SubscribeSize):
// they come a few at a time and one goroutine per call drains them at once; an overflow is reported, never silent.
const callEventQueue = 128

// New returns a Driver dialing through client, which must be started (Start) before Dial.
func New(client *ari.Client, cfg Config) (*Driver, error) {
	if client == nil {
		return nil, fmt.Errorf("ari: New: %w: nil client", ari.ErrIncompleteConfig)
	}
	if cfg.MediaHost == "" {
		cfg.MediaHost = "127.0.0.1"
	}
	if cfg.ExternalHost == "" {
		cfg.ExternalHost = cfg.MediaHost
	}
	if cfg.Format == "" {
		cfg.Format = FormatULaw
	}
	if cfg.Transport == "" {
		cfg.Transport = TransportRTP
	}
	if cfg.PlayoutDepth <= 0 {
		cfg.PlayoutDepth = 10
	}
	if cfg.ReadSlack == 0 {
		cfg.ReadSlack = 60 * time.Millisecond
	} else if cfg.ReadSlack < 0 {
		cfg.ReadSlack = 0
	}
	if cfg.JitterDepth <= 0 {
		cfg.JitterDepth = 3
	}
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = 64
	}
	if cfg.CleanupTimeout <= 0 {
		cfg.CleanupTimeout = 5 * time.Second
	}
	if cfg.StasisTimeout <= 0 {
		cfg.StasisTimeout = 5 * time.Second
	}
	d := &Driver{c: client, cfg: cfg, log: cfg.Logger, calls: make(map[*ariCall]struct{})}
	d.closeCtx, d.closeStop = context.WithCancel(context.Background())
	switch cfg.Format {
	case FormatULaw:
		d.format, d.pt = audio.Narrowband, 0
	case FormatSlin16:
		d.format, d.pt = audio.Wideband, 118
	default:
		return nil, fmt.Errorf("ari: New: %w: format %q (want ulaw or slin16)", ari.ErrIncompleteConfig, cfg.Format)
	}
	if _, err := netip.ParseAddr(cfg.MediaHost); err != nil {
		return nil, fmt.Errorf("ari: New: %w: MediaHost %q is not an IP address", ari.ErrIncompleteConfig, cfg.MediaHost)
	}
	if a, err := netip.ParseAddr(cfg.ExternalHost); err != nil || a.IsUnspecified() {
		return nil, fmt.Errorf("ari: New: %w: ExternalHost %q is not a reachable IP address", ari.ErrIncompleteConfig, cfg.ExternalHost)
	}
	hostPort := net.JoinHostPort(cfg.MediaHost, "0")
	switch cfg.Transport {
	case TransportRTP:
		if cfg.Format == FormatSlin16 {
			// Seen on Asterisk 23.5 and in its source: chan_rtp's channels have no SDP, so RTP they receive is
			// looked up among the static payload types only (0-34, ast_rtp_codecs_get_payload), and slin16's
			// dynamic type 118 is dropped without a word. Asterisk sends slin16 to us, but the callee would never
			// hear the bot.
			return nil, fmt.Errorf("ari: New: %w: slin16 over rtp: Asterisk drops the RTP it receives with slin16's dynamic payload type (118) on ExternalMedia channels, so the callee would hear nothing; use ulaw over rtp, or slin16 over audiosocket or websocket", ari.ErrIncompleteConfig)
		}
		d.rtp = cfg.RTP
		if d.rtp == nil {
			t, err := rtp.Listen(rtp.TransportConfig{Addr: hostPort, Logger: cfg.Logger})
			if err != nil {
				return nil, fmt.Errorf("ari: New: %w", err)
			}
			d.rtp, d.ownRTP = t, true
		}
	case TransportAudioSocket:
		d.as = cfg.AudioSocket
		if d.as == nil {
			s, err := audiosocket.Listen(audiosocket.ServerConfig{Addr: hostPort, Logger: cfg.Logger})
			if err != nil {
				return nil, fmt.Errorf("ari: New: %w", err)
			}
			d.as, d.ownAS = s, true
		}
	case TransportWebSocket:
	default:
		return nil, fmt.Errorf("ari: New: %w: transport %q (want rtp, audiosocket or websocket)", ari.ErrIncompleteConfig, cfg.Transport)
	}
	d.clock = cfg.Clock
	if d.clock == nil {
		d.clock = audio.NewClock(audio.ClockConfig{Logger: cfg.Logger})
		ctx, cancel := context.WithCancel(context.Background())
		d.cancel, d.clockEnd = cancel, make(chan struct{})
		go func() {
			defer close(d.clockEnd)
			_ = d.clock.Run(ctx)
		}()
	}
	d.pacer = audio.NewPacer(d.clock)
	if d.rtp != nil {
		d.group = d.clock.NewGroup(&rtpSender{t: d.rtp})
	} else if cfg.Transport == TransportWebSocket {
		d.group = d.clock.NewGroup(wsSender{})
	} else {
		d.group = d.clock.NewGroup(&asSender{log: cfg.Logger})
	}
	// Calls whose hang-up happened while the events WebSocket was down are ended after each reconnect.
	d.unreconcile = client.OnReconnected(func(live []ari.Channel) { d.Reconcile(live) })
	return d, nil
}

// newRx returns a call's receive side, paced by the driver's pacer.
func (d *Driver) newRx() *audio.Receiver {
	r := audio.NewReceiver(audio.ReceiverConfig{Format: d.format, Depth: d.cfg.JitterDepth, Slack: d.cfg.ReadSlack})
	d.pacer.Add(r)
	return r
}

// Format is the PCM format of every call's Media.
func (d *Driver) Format() audio.Format { return d.format }

// MediaAddr is the local address of the media socket (the shared RTP socket or the AudioSocket server; zero for
// chan_websocket).
func (d *Driver) MediaAddr() netip.AddrPort {
	if d.rtp != nil {
		return d.rtp.LocalAddr()
	}
	if d.as == nil {
		return netip.AddrPort{} // chan_websocket: this process connects to Asterisk
	}
	return d.as.Addr()
}

// externalHost is external_host for ExternalMedia: ExternalHost with the bound port.
func (d *Driver) externalHost() string {
	return net.JoinHostPort(d.cfg.ExternalHost, strconv.Itoa(int(d.MediaAddr().Port())))
}

// Clock is the playout clock the driver's calls write to; its Stats report playout lateness.
func (d *Driver) Clock() *audio.Clock { return d.clock }

// RTPStats returns the shared RTP transport's counters (zero for AudioSocket).
func (d *Driver) RTPStats() rtp.Stats {
	if d.rtp == nil {
		return rtp.Stats{}
	}
	return d.rtp.Stats()
}

// ActiveCalls returns how many calls are live.
func (d *Driver) ActiveCalls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}

// Reconcile ends the calls whose channel is not among live, the channels Asterisk still has, since a hang-up that
// happened while the events WebSocket was down was never seen. New registers it with the client, so it runs
// after every reconnect's resync; call it yourself only with a list you fetched. It returns how many calls it ended.
func (d *Driver) Reconcile(live []ari.Channel) int {
	alive := make(map[string]bool, len(live))
	for _, ch := range live {
		alive[ch.ID] = true
	}
	d.mu.Lock()
	var lost []*ariCall
	for c := range d.calls {
		if !alive[c.chanID] {
			lost = append(lost, c)
		}
	}
	d.mu.Unlock()
	for _, c := range lost {
		c.log.Warn().Msg("ari: call's channel is gone after an events reconnect; tearing down")
		c.finish(call.CauseUnknown, true, "channel lost while events were disconnected", time.Time{})
	}
	return len(lost)
}

// Close cancels dials in progress, hangs up every live call, waits for their teardown (forcing it after
// CleanupTimeout when Asterisk does not confirm), and stops what the driver owns (clock, socket, server). It does
// not close the Client.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	calls := make([]*ariCall, 0, len(d.calls))
	for c := range d.calls {
		calls = append(calls, c)
	}
	d.mu.Unlock()
	d.closeStop()
	if d.unreconcile != nil {
		d.unreconcile()
	}
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), d.cfg.CleanupTimeout)
			defer cancel()
			if err := c.Hangup(ctx, call.CauseNormal); err != nil && !errors.Is(err, call.ErrHungUp) {
				c.log.Warn().Err(err).Msg("ari: hang-up at driver close not confirmed; tearing down")
				c.finish(call.CauseNormal, false, "driver closed", time.Time{})
			}
		}()
	}
	wg.Wait()
	d.wg.Wait()
	d.group.Close()
	d.pacer.Close()
	if d.cancel != nil {
		d.cancel()
		<-d.clockEnd
	}
	var err error
	if d.ownRTP {
		err = d.rtp.Close()
	}
	if d.ownAS {
		err = errors.Join(err, d.as.Close())
	}
	return err
}

// Dial originates r.Endpoint into the client's Stasis application and waits for the outcome. Answered: a live
// call.Call whose callee sits in a mixing bridge with this process's media. Otherwise a *call.Error whose Outcome
// comes from the Dial event's dialstatus (BUSY, CONGESTION, NOANSWER, ...) and whose Cause is the Q.850 cause of
// the channels' destruction. When ctx ends first the attempt is hung up and the Outcome is call.Cancelled.
func (d *Driver) Dial(ctx context.Context, r call.Request) (call.Call, error) {
	if r.Endpoint == "" {
		return nil, &call.Error{Outcome: call.Failed, Detail: "empty endpoint", Err: ari.ErrIncompleteConfig}
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, &call.Error{Outcome: call.Failed, Detail: "cannot dial", Err: ErrDriverClosed}
	}
	d.wg.Add(1) // released by the call's teardown, or below when the attempt fails
	d.mu.Unlock()
	if !d.c.Stats().Connected {
		d.wg.Done()
		return nil, &call.Error{Outcome: call.Failed, Detail: "cannot dial", Err: ErrEventsNotConnected}
	}
	// Close aborts the attempt like the caller's ctx would.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	defer context.AfterFunc(d.closeCtx, stop)()

	id := r.ID
	if id == "" {
		id = ari.NewID("call")
	}
	// The channel ids derive from the call id ("<id>-a" originated, "<id>-b" the Local channel's other half), so
	// any process that knows a call's id can find and end its channels.
	chanID, otherID := id+"-a", id+"-b"
	if r.ID != "" {
		// A caller-chosen call id names the channels too, so another process can find and end this call
		// (HangupCall) if this one dies mid-call.
		chanID, otherID = callChannelIDs(r.ID)
	}
	log := d.log.With().Str("call", id).Str("channel", chanID).Logger()
	// Subscribe before originating so no event of the attempt can be missed.
	sub := d.c.SubscribeSize(callEventQueue, chanID, otherID)
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if timeout < time.Second {
		timeout = time.Second // Asterisk's timeout is in whole seconds
	}
	log.Debug().Str("endpoint", redactEndpoint(r.Endpoint)).Dur("timeout", timeout).Msg("ari: originate")
	_, err := d.c.Originate(ctx, ari.OriginateParams{
		Endpoint:       r.Endpoint,
		App:            d.c.App(),
		CallerID:       r.CallerID,
		Timeout:        timeout,
		ChannelID:      chanID,
		OtherChannelID: otherID,
		Variables:      r.Variables,
	})
	if err != nil {
		sub.Close()
		if ctx.Err() != nil {
			// The request may have reached Asterisk before it was cancelled: its channel would ring on.
			hctx, cancel := context.WithTimeout(context.Background(), d.cfg.CleanupTimeout)
			if herr := d.c.Hangup(hctx, chanID, ari.ReasonNormal); herr != nil && !errors.Is(herr, ari.ErrNotFound) {
				log.Warn().Err(herr).Msg("ari: hang up cancelled originate")
			}
			cancel()
			d.wg.Done()
			return nil, &call.Error{Outcome: call.Cancelled, Detail: "originate", Err: ctx.Err()}
		}
		d.wg.Done()
		return nil, &call.Error{Outcome: call.Failed, Detail: "originate", Err: err}
	}
	ans, err := d.awaitAnswer(ctx, sub, chanID, otherID, timeout, log)
	if err != nil {
		sub.Close()
		d.wg.Done()
		return nil, err
	}
	c, err := d.setupCall(ctx, id, chanID, otherID, sub, ans, log)
	if err != nil {
		sub.Close()
		d.wg.Done()
		return nil, err
	}
	return c, nil
}

// dialState accumulates what the events of one attempt said.
type dialState struct {
	status     string // last non-empty Dial.dialstatus
	ringing    bool
	cause      call.Cause // from the originated channel's ChannelDestroyed
	otherCause call.Cause // from the other half of a Local channel
	reqCause   call.Cause // from ChannelHangupRequest
	destroyed  bool
	otherGone  bool
}

// awaitAnswer waits for StasisStart (answer) or the attempt's end. Events that concern the answered call and
// arrive after StasisStart stay queued in sub for the call's event loop.
func (d *Driver) awaitAnswer(ctx context.Context, sub *ari.Subscription, chanID, otherID string, ring time.Duration, log zerolog.Logger) (*ari.StasisStart, error) {
	var st dialState
	var grace <-chan time.Time
	hangup := func() {
		hctx, cancel := context.WithTimeout(context.Background(), d.cfg.CleanupTimeout)
		defer cancel()
		if err := d.c.Hangup(hctx, chanID, ari.ReasonNormal); err != nil && !errors.Is(err, ari.ErrNotFound) {
			log.Warn().Err(err).Msg("ari: hang up unresolved attempt")
		}
	}
	limit := time.NewTimer(ring + 15*time.Second)
	defer limit.Stop()
	for {
		select {
		case <-ctx.Done():
			hangup()
			return nil, &call.Error{Outcome: call.Cancelled, Detail: st.status, Err: ctx.Err()}
		case <-limit.C:
			hangup()
			return nil, &call.Error{Outcome: call.Failed, Detail: st.status, Err: ErrNoFinalEvent}
		case <-grace:
			return nil, st.failure()
		case ev, ok := <-sub.Events():
			if !ok {
				return nil, &call.Error{Outcome: call.Failed, Detail: "event stream closed", Err: ari.ErrClosed}
			}
			switch e := ev.(type) {
			case *ari.StasisStart:
				if e.Channel.ID == chanID {
					return e, nil
				}
			case *ari.Dial:
				if e.Peer.ID == chanID || e.Peer.ID == otherID {
					switch e.Dialstatus {
					case "":
					case "RINGING", "PROGRESS":
						st.ringing = true
						st.status = e.Dialstatus
					default:
						st.status = e.Dialstatus
					}
				}
			case *ari.ChannelStateChange:
				if e.Channel.State == "Ringing" || e.Channel.State == "Ring" {
					st.ringing = true
				}
			case *ari.ChannelHangupRequest:
				if e.Cause != 0 && st.reqCause == 0 {
					st.reqCause = call.Cause(e.Cause)
				}
			case *ari.ChannelDestroyed:
				switch e.Channel.ID {
				case chanID:
					st.cause, st.destroyed = call.Cause(e.Cause), true
				case otherID:
					st.otherCause, st.otherGone = call.Cause(e.Cause), true
				}
				if st.destroyed {
					// The other half of a Local channel may still report the real cause (busy: ;1 has cause 0,
					// ;2 cause 17); give it a moment when it matters.
					if st.cause != 0 || st.otherGone || !isLocal(e.Channel.Name) {
						return nil, st.failure()
					}
					if grace == nil {
						grace = time.After(200 * time.Millisecond)
					}
				}
			case *ari.Overflow:
				log.Warn().Uint64("dropped", e.Dropped).Msg("ari: dial events dropped")
			}
		}
	}
}

func isLocal(name string) bool { return len(name) >= 6 && name[:6] == "Local/" }

// failure turns what an unanswered attempt reported into a *call.Error.
func (st *dialState) failure() *call.Error {
	cause := st.cause
	if cause == call.CauseUnknown {
		cause = st.otherCause
	}
	if cause == call.CauseUnknown {
		cause = st.reqCause
	}
	var o call.Outcome
	switch st.status {
	case "BUSY":
		o = call.Busy
	case "CONGESTION":
		o = call.Congestion
	case "NOANSWER":
		o = call.NoAnswer
	case "DONTCALL", "TORTURE":
		o = call.Rejected
	case "CHANUNAVAIL":
		o = call.OutcomeOf(cause)
	default: // "", RINGING, PROGRESS, CANCEL: no final status; the cause decides
		o = call.OutcomeOf(cause)
		if o == call.Failed && st.ringing {
			o = call.NoAnswer // rang until the originate timeout
		}
	}
	detail := st.status
	if detail == "" {
		detail = "no dial status"
	}
	return &call.Error{Outcome: o, Cause: cause, Detail: "dialstatus " + detail}
}

// setupCall builds the answered call's bridge and media.
func (d *Driver) setupCall(ctx context.Context, id, chanID, otherID string, sub *ari.Subscription, ans *ari.StasisStart, log zerolog.Logger) (*ariCall, error) {
	c := &ariCall{
		d: d, id: id, chanID: chanID, otherID: otherID, sub: sub, log: log,
		bridgeID: callBridgeID(chanID), extID: callMediaID(chanID),
		events:   make(chan call.Event, d.cfg.EventBuffer),
		done:     make(chan struct{}),
		hangupCh: make(chan struct{}),
	}
	sub.Add(c.bridgeID, c.extID)
	fail := func(step string, err error) (*ariCall, error) {
		log.Warn().Err(err).Str("step", step).Msg("ari: media setup failed; hanging up")
		c.releaseResources()
		hctx, cancel := context.WithTimeout(context.Background(), d.cfg.CleanupTimeout)
		_ = d.c.Hangup(hctx, chanID, ari.ReasonNormal)
		cancel()
		o := call.Failed
		if ctx.Err() != nil {
			o = call.Cancelled
		}
		return nil, &call.Error{Outcome: o, Detail: "answered, but " + step + " failed", Err: err}
	}
	// Marked made before asking, as the ExternalMedia channel is: a request cancelled in flight may still have
	// created the bridge, and teardown destroys it by the id we chose (a 404 when it never existed).
	c.bridgeMade = true
	if _, err := d.c.CreateBridge(ctx, ari.CreateBridgeParams{Type: "mixing", BridgeID: c.bridgeID}); err != nil {
		return fail("create bridge", err)
	}
	m, err := d.newMedia(ctx, c)
	if err != nil {
		return fail("external media", err)
	}
	c.media = m
	if err := d.c.AddChannel(ctx, c.bridgeID, ari.AddChannelParams{Channels: []string{chanID, c.extID}}); err != nil {
		return fail("add to bridge", err)
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return fail("register", ari.ErrClosed)
	}
	d.calls[c] = struct{}{}
	d.mu.Unlock()
	log.Debug().Msg("ari: call answered and bridged")
	go c.loop()
	return c, nil
}

// newMedia asks Asterisk for the ExternalMedia channel, connects this process's side of it and returns once
// the channel is in the application (its StasisStart), so that setupCall can bridge it. Asterisk answers the
// request with the channel still Down and outside Stasis; its StasisStart follows from the dial thread, often
// after the response, sometimes before: both orders work because the subscription exists before the request.
func (d *Driver) newMedia(ctx context.Context, c *ariCall) (callMedia, error) {
	if d.cfg.Transport == TransportWebSocket {
		return d.newMediaWebSocket(ctx, c)
	}
	sub := d.c.SubscribeSize(callEventQueue, c.extID)
	defer sub.Close()
	// Marked made before asking: a request that times out may still have created the channel, and teardown
	// hangs it up by the id we chose (a 404 when it never existed).
	c.extMade = true
	if d.rtp != nil {
		ch, err := d.externalMedia(ctx, ari.ExternalMediaParams{
			ChannelID:     c.extID,
			ExternalHost:  d.externalHost(),
			Format:        d.cfg.Format,
			Encapsulation: "rtp",
			Transport:     "udp",
		})
		if err != nil {
			return nil, err
		}
		remote, err := unicastRemote(ch.ChannelVars)
		if err != nil {
			return nil, err
		}
		if err := d.awaitStasis(ctx, sub, c.extID); err != nil {
			return nil, err
		}
		return newMediaRTP(d, remote)
	}
	uuid := audiosocket.NewUUID()
	asFormat := "slin"
	if d.format.Rate == 16000 {
		asFormat = "slin16"
	}
	// Accept before asking, so a connection that arrives first is matched.
	accepted := make(chan acceptResult, 1)
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		conn, err := d.as.Accept(actx, uuid)
		accepted <- acceptResult{conn, err}
	}()
	drop := func() {
		cancel()
		if r := <-accepted; r.conn != nil {
			_ = r.conn.Close()
		}
	}
	if _, err := d.externalMedia(ctx, ari.ExternalMediaParams{
		ChannelID:     c.extID,
		ExternalHost:  d.externalHost(),
		Format:        asFormat,
		Encapsulation: "audiosocket",
		Transport:     "tcp",
		Data:          uuid.String(),
	}); err != nil {
		drop()
		return nil, err
	}
	// chan_audiosocket connects while Asterisk handles the request, and the channel enters Stasis after.
	if err := d.awaitStasis(ctx, sub, c.extID); err != nil {
		drop()
		return nil, err
	}
	tctx, tcancel := context.WithTimeout(ctx, d.cfg.StasisTimeout)
	defer tcancel()
	select {
	case r := <-accepted:
		if r.err != nil {
			return nil, r.err
		}
		return newMediaAudioSocket(d, r.conn)
	case <-tctx.Done():
		drop()
		return nil, fmt.Errorf("ari: AudioSocket connection did not arrive: %w", tctx.Err())
	}
}

// externalMedia asks for an ExternalMedia channel, bounded by StasisTimeout on top of ctx.
func (d *Driver) externalMedia(ctx context.Context, p ari.ExternalMediaParams) (ari.Channel, error) {
	rctx, cancel := context.WithTimeout(ctx, d.cfg.StasisTimeout)
	defer cancel()
	ch, err := d.c.ExternalMedia(rctx, p)
	if err != nil && ctx.Err() == nil && rctx.Err() != nil {
		return ch, fmt.Errorf("%w (%v, %s): %w", ErrMediaRequestTimeout, d.cfg.StasisTimeout, p.Transport, err)
	}
	return ch, err
}

// awaitStasis waits up to StasisTimeout for the StasisStart of channel id, a channel the driver created.
func (d *Driver) awaitStasis(ctx context.Context, sub *ari.Subscription, id string) error {
	tctx, cancel := context.WithTimeout(ctx, d.cfg.StasisTimeout)
	defer cancel()
	return awaitStasisStart(tctx, sub, id)
}

type acceptResult struct {
	conn *audiosocket.Conn
	err  error
}

// unicastRemote reads where Asterisk's ExternalMedia RTP comes from (and where ours must go).
func unicastRemote(vars map[string]string) (netip.AddrPort, error) {
	a, p := vars["UNICASTRTP_LOCAL_ADDRESS"], vars["UNICASTRTP_LOCAL_PORT"]
	if a == "" || p == "" {
		return netip.AddrPort{}, fmt.Errorf("ari: ExternalMedia channel lacks UNICASTRTP_LOCAL_ADDRESS/PORT")
	}
	addr, err := netip.ParseAddr(a)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("ari: UNICASTRTP_LOCAL_ADDRESS %q: %w", a, err)
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, fmt.Errorf("ari: UNICASTRTP_LOCAL_PORT %q is not a port", p)
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// redactEndpoint keeps the technology and trunk of a dial string and masks the number, e.g.
// "PJSIP/138****8000@trunk".
func redactEndpoint(ep string) string {
	b := []byte(ep)
	start := 0
	for i, c := range b {
		if c == '/' {
			start = i + 1
			break
		}
	}
	end := len(b)
	for i := start; i < len(b); i++ {
		if b[i] == '@' {
			end = i
			break
		}
	}
	n := end - start
	keep := n / 4
	for i := start + keep; i < end-keep; i++ {
		b[i] = '*'
	}
	return string(b)
}
