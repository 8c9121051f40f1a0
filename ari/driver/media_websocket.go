package driver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
)

// TransportWebSocket is ExternalMedia over chan_websocket (Asterisk 20.16, 21.11, 22.6, 23.0 and later):
// encapsulation none, transport websocket, connection_type server. For each call this process connects to
// Asterisk's /media/<MEDIA_WEBSOCKET_CONNECTION_ID> (subprotocol "media") on the ARI HTTP server; audio travels in
// BINARY messages without a header, control in TEXT lines.
const TransportWebSocket = "websocket"

// ErrWebSocketControl reports a chan_websocket TEXT message that is not a valid control line.
var ErrWebSocketControl = errors.New("ari: malformed chan_websocket control message")

// chan_websocket limits (channels/chan_websocket.c).
const (
	wsMaxMessage   = 65500 // largest message Asterisk accepts
	wsBacklogLimit = 50    // 20 ms frames held while Asterisk says MEDIA_XOFF (1 s); older ones are dropped
	wsGapSlots     = 3     // a silence of more than this many frames between messages is a gap, not jitter
	wsDTMFWindow   = time.Second
	wsWriteTimeout = 2 * time.Second
)

// wsFrame is one 20 ms frame handed from the playout clock to a call's writer, tagged with the Flush generation
// it belongs to.
type wsFrame struct {
	samples []int16
	gen     uint64
}

// mediaWebSocket is a call's media over chan_websocket. A reader goroutine decodes the callee's BINARY frames into
// a mediaRx (gaps become silence on time) and handles TEXT notifications; the playout clock hands the bot's
// frames to a writer goroutine that sends them in multiples of the optimal frame size, holds them while Asterisk's
// queue is over its XOFF level, and turns Flush into FLUSH_MEDIA. A third goroutine reports DTMF_END digits that
// no ChannelDtmfReceived event covered.
type mediaWebSocket struct {
	format     audio.Format
	conn       *websocket.Conn
	start      wsMediaStart
	frameBytes int // MEDIA_START's optimal_frame_size: writes are multiples of it
	sampleSize int // bytes per sample on the wire: 1 for ulaw, 2 for slin16 (little-endian, host order)
	log        zerolog.Logger
	c          *ariCall

	rx       *audio.Receiver
	out      *audio.Playout
	wq       chan wsFrame
	flushReq chan struct{}
	xonCh    chan struct{}
	dtmfCh   chan dtmfMark

	gen         atomic.Uint64 // Flush generation: frames of an older one are dropped
	xoff        atomic.Bool
	sent        atomic.Int64 // nanoseconds of audio written since the last Flush
	late        atomic.Uint64
	dropped     atomic.Uint64
	badText     atomic.Uint64
	closeStatus atomic.Int32 // close code the peer sent (1000 at hang-up), -1 until the socket ends
	closed      atomic.Bool
	connClosing atomic.Bool
	done        chan struct{}
	readDone    chan struct{}
	wg          sync.WaitGroup

	// owned by the reader goroutine
	pcm    []int16
	resid  []int16
	seq    uint16
	lastRx time.Time
}

var _ call.Media = (*mediaWebSocket)(nil)

// newMediaWebSocket creates the call's chan_websocket channel, connects to it and waits until Asterisk has put it
// in Stasis (which happens only once the connection is up), so setupCall can bridge it.
func (d *Driver) newMediaWebSocket(ctx context.Context, c *ariCall) (callMedia, error) {
	sub := d.c.SubscribeSize(callEventQueue, c.extID)
	defer sub.Close()
	c.extMade = true // before asking: see newMedia
	ch, err := d.c.ExternalMedia(ctx, ari.ExternalMediaParams{
		ChannelID:      c.extID,
		ExternalHost:   "INCOMING",
		Format:         d.cfg.Format,
		Encapsulation:  "none",
		Transport:      "websocket",
		ConnectionType: "server",
	})
	if err != nil {
		return nil, err
	}
	id := ch.ChannelVars["MEDIA_WEBSOCKET_CONNECTION_ID"]
	if id == "" {
		if id, err = d.c.GetVariable(ctx, c.extID, "MEDIA_WEBSOCKET_CONNECTION_ID"); err != nil {
			return nil, fmt.Errorf("ari: chan_websocket connection id: %w", err)
		}
	}
	tctx, cancel := context.WithTimeout(ctx, d.cfg.StasisTimeout)
	defer cancel()
	conn, err := d.c.DialMedia(tctx, id)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(wsMaxMessage + 1024)
	start, err := readMediaStart(tctx, conn)
	if err == nil && start.Format != d.cfg.Format {
		err = fmt.Errorf("%w: MEDIA_START format %q, asked for %q", ErrWebSocketControl, start.Format, d.cfg.Format)
	}
	if err == nil {
		err = awaitStasisStart(tctx, sub, c.extID)
	}
	if err != nil {
		_ = conn.CloseNow()
		return nil, err
	}
	return newMediaWebSocketConn(d, c, conn, start)
}

// newMediaWebSocketConn starts the media of an open connection whose MEDIA_START was read.
func newMediaWebSocketConn(d *Driver, c *ariCall, conn *websocket.Conn, start wsMediaStart) (*mediaWebSocket, error) {
	m := &mediaWebSocket{
		format:     d.format,
		conn:       conn,
		start:      start,
		frameBytes: start.OptimalFrameSize,
		sampleSize: 1,
		log:        c.log.With().Str("media", "websocket").Logger(),
		c:          c,
		rx:         d.newRx(),
		wq:         make(chan wsFrame, 8),
		flushReq:   make(chan struct{}, 1),
		xonCh:      make(chan struct{}, 1),
		dtmfCh:     make(chan dtmfMark, 16),
		done:       make(chan struct{}),
		readDone:   make(chan struct{}),
	}
	m.closeStatus.Store(-1)
	if d.format.Rate != 8000 {
		m.sampleSize = 2
	}
	if m.frameBytes <= 0 || m.frameBytes%m.sampleSize != 0 {
		_ = conn.CloseNow()
		return nil, fmt.Errorf("%w: optimal_frame_size %d for %s", ErrWebSocketControl, m.frameBytes, start.Format)
	}
	out, err := d.group.NewPlayout(audio.PlayoutConfig{Depth: d.cfg.PlayoutDepth, Value: m})
	if err != nil {
		_ = conn.CloseNow()
		return nil, err
	}
	m.out = out
	var dtmf *ari.Subscription
	if c.chanID != "" {
		dtmf = d.c.SubscribeSize(callEventQueue, c.chanID)
	}
	m.wg.Add(3)
	go m.readLoop()
	go m.writeLoop()
	go m.dtmfLoop(dtmf)
	return m, nil
}

// readMediaStart reads the first message of a media connection, which must be a TEXT MEDIA_START.
func readMediaStart(ctx context.Context, conn *websocket.Conn) (wsMediaStart, error) {
	typ, b, err := conn.Read(ctx)
	if err != nil {
		return wsMediaStart{}, fmt.Errorf("ari: waiting for MEDIA_START: %w", err)
	}
	if typ != websocket.MessageText {
		return wsMediaStart{}, fmt.Errorf("%w: first message is binary, want MEDIA_START", ErrWebSocketControl)
	}
	ctl, err := parseWSControl(b)
	if err != nil {
		return wsMediaStart{}, err
	}
	return parseMediaStart(ctl)
}

// awaitStasisStart waits for the StasisStart of channel id (a channel the driver created) on sub, which was
// subscribed to it before the request that created it. ctx bounds the wait: its end is ErrNoStasisStart wrapping
// the context's error.
func awaitStasisStart(ctx context.Context, sub *ari.Subscription, id string) error {
	for {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				return fmt.Errorf("ari: waiting for the StasisStart of %s: %w", id, ari.ErrClosed)
			}
			switch e := ev.(type) {
			case *ari.StasisStart:
				if e.Channel.ID == id {
					return nil
				}
			case *ari.ChannelDestroyed:
				if e.Channel.ID == id {
					return fmt.Errorf("ari: channel %s destroyed before its StasisStart (cause %d): %w", id, e.Cause, call.ErrHungUp)
				}
			}
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("%w: %s: %w", ErrNoStasisStart, id, ctx.Err())
			}
			return fmt.Errorf("ari: waiting for the StasisStart of %s: %w", id, ctx.Err())
		}
	}
}

func (m *mediaWebSocket) readLoop() {
	defer m.wg.Done()
	defer close(m.readDone)
	for {
		typ, b, err := m.conn.Read(context.Background())
		if err != nil {
			// Asterisk closes with 1000 at hang-up; the call's events say why.
			m.closeStatus.Store(int32(websocket.CloseStatus(err)))
			m.log.Debug().Err(err).Msg("ari: media WebSocket ended")
			m.rx.Close(call.ErrHungUp)
			return
		}
		now := time.Now()
		switch typ {
		case websocket.MessageBinary:
			m.onAudio(b, now)
		case websocket.MessageText:
			m.onControl(b, now)
		}
	}
}

// onAudio cuts the callee's audio into 20 ms frames for the jitter buffer. Frames are numbered by arrival: a
// message after a silence longer than wsGapSlots frames skips the numbers of the frames that did not come, so the
// buffer plays silence for them and starts the next talk spurt fresh.
func (m *mediaWebSocket) onAudio(b []byte, now time.Time) {
	if m.sampleSize == 1 {
		m.pcm = audio.DecodeULaw(m.pcm, b)
	} else {
		if len(b)%2 != 0 {
			m.dropped.Add(1)
			return
		}
		m.pcm = audio.PCM16LE(m.pcm, b) // chan_websocket sends slin in host order
	}
	if !m.lastRx.IsZero() {
		if slots := int((now.Sub(m.lastRx) + audio.FrameDuration/2) / audio.FrameDuration); slots > wsGapSlots {
			m.seq += uint16(slots - 1)
			m.resid = m.resid[:0]
		}
	}
	m.lastRx = now
	n := m.format.FrameSamples()
	m.resid = append(m.resid, m.pcm...)
	off := 0
	for len(m.resid)-off >= n {
		m.rx.Push(m.seq, uint32(m.seq)*uint32(n), m.resid[off:off+n]) // copied by the jitter buffer
		m.seq++
		off += n
	}
	m.resid = m.resid[:copy(m.resid, m.resid[off:])]
}

func (m *mediaWebSocket) onControl(b []byte, now time.Time) {
	ctl, err := parseWSControl(b)
	if err != nil {
		if n := m.badText.Add(1); n&(n-1) == 0 {
			m.log.Warn().Err(err).Uint64("count", n).Msg("ari: bad chan_websocket TEXT message ignored")
		}
		return
	}
	switch ctl.Event {
	case "MEDIA_XOFF":
		m.xoff.Store(true)
	case "MEDIA_XON":
		m.xoff.Store(false)
		select {
		case m.xonCh <- struct{}{}:
		default:
		}
	case "DTMF_END":
		if dg := ctl.Fields["digit"]; len(dg) == 1 && strings.Contains("0123456789*#ABCD", dg) {
			select {
			case m.dtmfCh <- dtmfMark{digit: rune(dg[0]), at: now}:
			default:
			}
		}
	case "ERROR":
		m.log.Warn().Str("error", ctl.Fields["error_text"]).Msg("ari: chan_websocket reported an error")
	default: // STATUS, QUEUE_DRAINED, MEDIA_MARK_PROCESSED, MEDIA_BUFFERING_COMPLETED: nothing to do
		m.log.Debug().Str("event", ctl.Event).Msg("ari: chan_websocket notification")
	}
}

func (m *mediaWebSocket) writeLoop() {
	defer m.wg.Done()
	var pending []byte // encoded audio not yet sent: less than a frame, or held while Asterisk said XOFF
	for {
		select { // a Flush is handled before any frame behind it
		case <-m.flushReq:
			pending = m.flushNow(pending)
			continue
		default:
		}
		select {
		case <-m.flushReq:
			pending = m.flushNow(pending)
		case f := <-m.wq:
			if f.gen != m.gen.Load() {
				m.dropped.Add(1)
				continue
			}
			if m.sampleSize == 1 {
				pending = append(pending, make([]byte, len(f.samples))...)
				audio.EncodeULaw(pending[len(pending)-len(f.samples):], f.samples)
			} else {
				pending = audio.AppendPCM16LE(pending, f.samples)
			}
			if limit := wsBacklogLimit * m.frameBytes; len(pending) > limit { // XOFF for over a second
				cut := (len(pending) - limit + m.frameBytes - 1) / m.frameBytes * m.frameBytes
				pending = pending[:copy(pending, pending[cut:])]
				m.dropped.Add(uint64(cut / m.frameBytes))
			}
			pending = m.sendPending(pending)
		case <-m.xonCh:
			pending = m.sendPending(pending)
		case <-m.done:
			return
		}
	}
}

// sendPending writes the whole frames of p in one BINARY message, unless Asterisk's queue is full.
func (m *mediaWebSocket) sendPending(p []byte) []byte {
	if m.xoff.Load() {
		return p
	}
	n := len(p) / m.frameBytes * m.frameBytes
	if n == 0 {
		return p
	}
	ctx, cancel := context.WithTimeout(context.Background(), wsWriteTimeout)
	err := m.conn.Write(ctx, websocket.MessageBinary, p[:n])
	cancel()
	if err != nil {
		if !m.closed.Load() {
			m.log.Debug().Err(err).Msg("ari: media WebSocket write failed")
		}
		return p[:0]
	}
	m.sent.Add(int64(m.format.Duration(n / m.sampleSize)))
	return p[:copy(p, p[n:])]
}

// flushNow drops what waits here and asks Asterisk to drop its queue.
func (m *mediaWebSocket) flushNow(p []byte) []byte {
	for {
		select {
		case <-m.wq:
			m.dropped.Add(1)
			continue
		default:
		}
		break
	}
	ctx, cancel := context.WithTimeout(context.Background(), wsWriteTimeout)
	if err := m.conn.Write(ctx, websocket.MessageText, []byte("FLUSH_MEDIA")); err != nil && !m.closed.Load() {
		m.log.Debug().Err(err).Msg("ari: FLUSH_MEDIA not sent")
	}
	cancel()
	return p[:0]
}

// dtmfLoop reports the DTMF_END digits that no ChannelDtmfReceived event of the callee's channel covered within
// wsDTMFWindow (events lost while the events WebSocket reconnected); the others are duplicates.
func (m *mediaWebSocket) dtmfLoop(sub *ari.Subscription) {
	defer m.wg.Done()
	var events <-chan ari.Event
	if sub != nil {
		defer sub.Close()
		events = sub.Events()
	}
	dd := dtmfDedup{window: wsDTMFWindow}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if e, ok := ev.(*ari.ChannelDtmfReceived); ok && e.Channel.ID == m.c.chanID && e.Digit != "" {
				dd.fromARI(rune(e.Digit[0]), time.Now())
			}
		case k := <-m.dtmfCh:
			dd.fromWS(k.digit, k.at)
		case <-timer.C:
		case <-m.done:
			return
		}
		emit, wait := dd.due(time.Now())
		for _, k := range emit {
			m.log.Debug().Msg("ari: DTMF_END without a ChannelDtmfReceived event; reporting it")
			m.c.emit(call.Event{Type: call.EventDTMF, Time: k.at, Digit: k.digit})
		}
		if wait > 0 {
			timer.Reset(wait)
		}
	}
}

// Format implements call.Media.
func (m *mediaWebSocket) Format() audio.Format { return m.format }

// Read implements call.Media.
func (m *mediaWebSocket) Read(ctx context.Context) (audio.Frame, error) { return m.rx.Read(ctx) }

// Write implements call.Media.
func (m *mediaWebSocket) Write(ctx context.Context, f audio.Frame) error {
	return writeFrames(ctx, m.format, m.out, f)
}

// Flush implements call.Media: queued frames are dropped here, FLUSH_MEDIA drops Asterisk's queue, and the
// result is the audio written to the socket since the previous Flush (Asterisk plays it in real time, so at
// most a frame or two of it may still have been queued there).
func (m *mediaWebSocket) Flush() time.Duration {
	m.out.Flush()
	m.gen.Add(1)
	select {
	case m.flushReq <- struct{}{}:
	default:
	}
	return time.Duration(m.sent.Swap(0))
}

func (m *mediaWebSocket) close(err error) {
	if !m.closed.Swap(true) {
		m.out.Close()
		close(m.done)
		m.log.Debug().Uint64("late", m.late.Load()).Uint64("dropped", m.dropped.Load()).
			Uint64("bad_text", m.badText.Load()).Msg("ari: chan_websocket media closed")
	}
	m.rx.Close(err)
	// A callee continued into the dialplan keeps the media channel until the call's teardown: closing the socket
	// now would make Asterisk hang that channel up, which reads as a lost media channel. Otherwise closing with
	// 1000 makes Asterisk hang it up, should the teardown's DELETE not reach it. The close handshake is bounded by
	// the WebSocket library's own timeout.
	m.c.mu.Lock()
	keep := m.c.continued && !m.c.finishing
	m.c.mu.Unlock()
	if keep || m.connClosing.Swap(true) {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		_ = m.conn.Close(websocket.StatusNormalClosure, "")
	}()
}

// wsSender is the playout clock's BatchSender for chan_websocket calls: it passes each due frame to its call's
// writer goroutine without blocking.
type wsSender struct{}

// SendBatch implements audio.BatchSender.
func (wsSender) SendBatch(_ time.Time, out []audio.Outgoing) {
	for _, o := range out {
		m, ok := o.Playout.Value().(*mediaWebSocket)
		if !ok || m.closed.Load() {
			continue
		}
		select {
		case m.wq <- wsFrame{samples: o.Frame.Samples, gen: m.gen.Load()}:
		default:
			m.late.Add(1)
		}
	}
}

// dtmfMark is a digit and when it was reported.
type dtmfMark struct {
	digit rune
	at    time.Time
}

// dtmfDedup pairs DTMF_END notifications with ChannelDtmfReceived events of the same digit: an ARI event within
// window of a DTMF_END (before or after it) covers it; a DTMF_END left alone for window is due to be reported.
type dtmfDedup struct {
	window time.Duration
	ari    []dtmfMark // ARI digits no DTMF_END has matched yet
	ws     []dtmfMark // DTMF_END digits waiting for their ARI event
}

const dtmfDedupMax = 32

func (d *dtmfDedup) fromARI(digit rune, now time.Time) {
	for i, k := range d.ws {
		if k.digit == digit {
			d.ws = append(d.ws[:i], d.ws[i+1:]...)
			return
		}
	}
	if len(d.ari) >= dtmfDedupMax {
		d.ari = append(d.ari[:0], d.ari[1:]...)
	}
	d.ari = append(d.ari, dtmfMark{digit, now})
}

func (d *dtmfDedup) fromWS(digit rune, now time.Time) {
	for i, k := range d.ari {
		if k.digit == digit && now.Sub(k.at) <= d.window {
			d.ari = append(d.ari[:i], d.ari[i+1:]...)
			return
		}
	}
	if len(d.ws) >= dtmfDedupMax {
		d.ws = append(d.ws[:0], d.ws[1:]...)
	}
	d.ws = append(d.ws, dtmfMark{digit, now})
}

// due returns the DTMF_END digits to report at now, and how long until the next one is due (0: none waiting).
func (d *dtmfDedup) due(now time.Time) (emit []dtmfMark, wait time.Duration) {
	keep := d.ari[:0]
	for _, k := range d.ari {
		if now.Sub(k.at) <= d.window {
			keep = append(keep, k)
		}
	}
	d.ari = keep
	for len(d.ws) > 0 && now.Sub(d.ws[0].at) >= d.window {
		emit = append(emit, d.ws[0])
		d.ws = d.ws[1:]
	}
	if len(d.ws) > 0 {
		wait = d.window - now.Sub(d.ws[0].at)
	}
	return emit, wait
}

// Caps implements call.Media: the playout clock holds the call's audio (it sends nothing until Release), and the
// callee's frames come paced on the receiver's channel.
func (m *mediaWebSocket) Caps() call.Caps {
	return call.Caps{Holder: m.out, Frames: m.rx.Frames(), Watch: m.rx.Watch}
}
