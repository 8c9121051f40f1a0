package aritest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/outcall/outcall/pkg/audio"
)

// chan_websocket queue levels (channels/chan_websocket.c): frames the app sent wait in a queue of at most
// wsQueueMax frames; MEDIA_XOFF is sent when it reaches wsXOFFLevel and MEDIA_XON when it falls below wsXONLevel.
const (
	wsQueueMax  = 1000
	wsXOFFLevel = 900
	wsXONLevel  = 800
	wsMaxText   = 128 // longer TEXT commands are ignored, as Asterisk does
	wsOutQueue  = 256 // messages waiting for a slow app before new ones are dropped
)

// wsFormats maps the formats the simulated chan_websocket accepts to their rate and optimal frame size.
var wsFormats = map[string]struct{ rate, frame int }{
	"ulaw": {8000, 160}, "alaw": {8000, 160}, "slin": {8000, 320}, "slin16": {16000, 640},
}

// wsLeg is ExternalMedia none/websocket with connection_type=server (chan_websocket, WebSocket/INCOMING): the
// app connects to /media/<MEDIA_WEBSOCKET_CONNECTION_ID> with subprotocol "media"; the simulator then sends a TEXT
// MEDIA_START line, answers the channel and raises its StasisStart, and exchanges BINARY frames of the format
// (slin in little-endian host order) both ways. The app's frames wait in a queue played one per tick, which the
// app controls with TEXT commands. At hang-up the socket is closed with status 1000.
type wsLeg struct {
	s      *Server
	id     string // connection id
	format string
	rate   int
	frame  int // optimal_frame_size, bytes per 20 ms
	conv   converter
	out    []byte // the frame send prepared for flush

	mu       sync.Mutex
	ch       *channel
	conn     *websocket.Conn // nil until the app connects
	busy     bool            // a connection is being accepted or was accepted
	closed   bool
	outq     chan wsOut
	done     chan struct{}
	q        []wsItem // the app's frames (at Config.Rate) and pending marks, in order
	frames   int      // audio frames in q
	full     bool     // MEDIA_XOFF sent, MEDIA_XON not yet
	paused   bool
	bulk     bool
	drained  bool // REPORT_QUEUE_DRAINED asked
	leftover []byte
}

// wsItem is an entry of the app's queue: an audio frame, or a notification sent when playout reaches it.
type wsItem struct {
	pcm  []int16
	note string
}

type wsOut struct {
	typ websocket.MessageType
	b   []byte
}

func (s *Server) newWebSocketLeg(format, connType, host string) (mediaLeg, *httpError) {
	if connType != "server" {
		return nil, errf(http.StatusBadRequest, "aritest: chan_websocket connection_type %q is not simulated (use server)", connType)
	}
	if host != "" && host != "INCOMING" {
		return nil, errf(http.StatusBadRequest, "external_host must be INCOMING for connection_type server, got %q", host)
	}
	f, ok := wsFormats[format]
	if !ok {
		return nil, errf(http.StatusBadRequest, "Unsupported format %q for websocket (simulated: ulaw, alaw, slin, slin16)", format)
	}
	conv, err := newConverter(f.rate, s.cfg.Rate)
	if err != nil {
		return nil, errf(http.StatusInternalServerError, "aritest: %v", err)
	}
	return &wsLeg{s: s, id: newUUID(), format: format, rate: f.rate, frame: f.frame, conv: conv,
		outq: make(chan wsOut, wsOutQueue), done: make(chan struct{})}, nil
}

// newUUID returns a random (version 4) UUID, as chan_websocket's connection ids are.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (l *wsLeg) localAddr() *net.UDPAddr { return nil }

// start records the channel: it stays Down, out of Stasis, until the app connects. Called with s.mu held.
func (l *wsLeg) start(_ *Server, ch *channel) {
	l.mu.Lock()
	l.ch = ch
	l.mu.Unlock()
	ch.state = "Down"
	ch.vars["MEDIA_WEBSOCKET_CONNECTION_ID"] = l.id
	ch.vars["MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE"] = fmt.Sprint(l.frame)
}

// note queues a TEXT notification for the app. Called with l.mu held.
func (l *wsLeg) noteLocked(text string) {
	if l.conn == nil || l.closed {
		return
	}
	select {
	case l.outq <- wsOut{websocket.MessageText, []byte(text)}:
	default:
	}
}

// pop plays the next frame of the app's queue (nil: silence), sending the notifications queued before it.
// Called with s.mu held.
func (l *wsLeg) pop() []int16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil || l.paused {
		return nil
	}
	if l.full && l.frames < wsXONLevel {
		l.full = false
		l.noteLocked("MEDIA_XON")
	}
	for len(l.q) > 0 && l.q[0].pcm == nil {
		l.noteLocked(l.q[0].note)
		l.q = l.q[1:]
	}
	if len(l.q) == 0 {
		if l.drained {
			l.drained = false
			l.noteLocked("QUEUE_DRAINED")
		}
		return nil
	}
	f := l.q[0].pcm
	l.q[0] = wsItem{}
	l.q = l.q[1:]
	l.frames--
	return f
}

func (l *wsLeg) silent() {}

// send prepares one frame of the bridge's audio for the app. Called with s.mu held.
func (l *wsLeg) send(pcm []int16) {
	pcm = convert(l.conv.out, pcm, l.rate/50)
	var b []byte // a new buffer each time: the writer goroutine owns it once queued
	switch l.format {
	case "ulaw":
		b = audio.EncodeULaw(nil, pcm)
	case "alaw":
		b = audio.EncodeALaw(nil, pcm)
	default:
		b = audio.AppendPCM16LE(make([]byte, 0, 2*len(pcm)), pcm) // host order, as chan_websocket sends slin
	}
	l.out = b
}

func (l *wsLeg) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil || l.closed || l.out == nil {
		return
	}
	select {
	case l.outq <- wsOut{websocket.MessageBinary, l.out}:
		l.s.stats.wsOut.Add(1)
	default:
	}
	l.out = nil
}

// close ends the connection with status 1000, as chan_websocket does at hang-up.
func (l *wsLeg) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	conn := l.conn
	close(l.done)
	l.mu.Unlock()
	if conn != nil {
		_ = conn.Close(websocket.StatusNormalClosure, "")
	}
}

// wsDTMF sends DTMF_END to the WebSocket channels bridged with ch, as Asterisk passes a digit's end to the other
// members of a bridge. Called with s.mu held.
func (s *Server) wsDTMF(ch *channel, digit rune) {
	if ch.bridge == nil {
		return
	}
	for _, m := range ch.bridge.members {
		if l, ok := m.leg.(*wsLeg); ok && m != ch {
			l.mu.Lock()
			l.noteLocked(fmt.Sprintf("DTMF_END digit:%c channel_id:%s", digit, m.id))
			l.mu.Unlock()
		}
	}
}

// serveMedia is GET /media/<connection id>: the app's side of a chan_websocket channel (subprotocol "media").
// Like Asterisk's, it needs no ARI credentials: the connection id is the secret.
func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeErr(w, errf(http.StatusMethodNotAllowed, "Method not allowed"))
		return
	}
	id := strings.TrimPrefix(r.URL.Path, "/media/")
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeErr(w, errf(http.StatusServiceUnavailable, "Server shutting down"))
		return
	}
	var l *wsLeg
	for _, ch := range s.legs {
		if x, ok := ch.leg.(*wsLeg); ok && x.id == id {
			l = x
		}
	}
	if l == nil {
		s.mu.Unlock()
		writeErr(w, errf(http.StatusNotFound, "WebSocket instance not found"))
		return
	}
	l.mu.Lock()
	busy := l.busy || l.closed
	l.busy = true
	l.mu.Unlock()
	if busy {
		s.mu.Unlock()
		writeErr(w, errf(http.StatusConflict, "Another websocket connection exists for this connection id"))
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	release := func() { // the channel keeps waiting for a proper connection
		l.mu.Lock()
		l.busy = false
		l.mu.Unlock()
	}
	if !offersMedia(r) {
		release()
		writeErr(w, errf(http.StatusBadRequest, "WebSocket subprotocol media required"))
		return
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"media"}})
	if err != nil {
		release()
		return // Accept has answered
	}
	conn.SetReadLimit(65536)

	// MEDIA_START goes first; then the channel is answered and enters Stasis.
	s.mu.Lock()
	l.mu.Lock()
	ch := l.ch
	if s.closed || l.closed || ch == nil || ch.gone {
		l.mu.Unlock()
		s.mu.Unlock()
		_ = conn.Close(websocket.StatusNormalClosure, "")
		return
	}
	l.conn = conn
	l.noteLocked(fmt.Sprintf("MEDIA_START connection_id:%s channel:%s channel_id:%s format:%s optimal_frame_size:%d ptime:20",
		l.id, ch.name, ch.id, l.format, l.frame))
	l.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		l.writeLoop()
	}()
	s.setState(ch, "Up")
	s.enterStasis(ch)
	s.mu.Unlock()
	s.log.Debug().Str("channel", ch.id).Msg("media websocket connected")

	for {
		typ, b, err := conn.Read(s.ctx)
		if err != nil {
			// The app closed the socket (or it broke): Asterisk hangs the channel up.
			s.legGone(ch)
			return
		}
		switch typ {
		case websocket.MessageBinary:
			l.onBinary(b)
		case websocket.MessageText:
			l.onText(b)
		}
	}
}

// offersMedia reports whether the upgrade request offers the "media" subprotocol.
func offersMedia(r *http.Request) bool {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if strings.TrimSpace(p) == "media" {
				return true
			}
		}
	}
	return false
}

func (l *wsLeg) writeLoop() {
	for {
		select {
		case m := <-l.outq:
			ctx, cancel := context.WithTimeout(l.s.ctx, time.Second)
			err := l.conn.Write(ctx, m.typ, m.b)
			cancel()
			if err != nil {
				return
			}
		case <-l.done:
			return
		}
	}
}

// onBinary queues the app's audio in optimal_frame_size frames; a partial frame is kept only while media
// buffering is on, as chan_websocket does.
func (l *wsLeg) onBinary(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.frames >= wsQueueMax {
		l.s.stats.overflow.Add(1)
		return
	}
	if l.bulk && len(l.leftover) > 0 {
		need := l.frame - len(l.leftover)
		take := min(need, len(b))
		l.leftover = append(l.leftover, b[:take]...)
		b = b[take:]
		if len(l.leftover) < l.frame {
			return
		}
		l.queueFrameLocked(l.leftover)
		l.leftover = nil
	}
	for len(b) >= l.frame {
		l.queueFrameLocked(b[:l.frame])
		b = b[l.frame:]
	}
	if l.bulk && len(b) > 0 {
		l.leftover = append(l.leftover[:0], b...)
	}
}

// queueFrameLocked decodes one frame (or a shorter one, padded with silence) to the mix rate and queues it.
func (l *wsLeg) queueFrameLocked(b []byte) {
	var pcm []int16
	switch l.format {
	case "ulaw":
		pcm = audio.DecodeULaw(nil, b)
	case "alaw":
		pcm = audio.DecodeALaw(nil, b)
	default:
		pcm = audio.PCM16LE(nil, b)
	}
	if n := l.rate / 50; len(pcm) < n {
		pcm = append(pcm, make([]int16, n-len(pcm))...)
	}
	mix := convert(l.conv.in, pcm, l.s.cfg.Rate/50)
	l.q = append(l.q, wsItem{pcm: mix})
	l.frames++
	l.s.stats.wsIn.Add(1)
	if !l.full && l.frames >= wsXOFFLevel {
		l.full = true
		l.noteLocked("MEDIA_XOFF")
	}
}

// onText runs a control command of the app (chan_websocket's plain-text format).
func (l *wsLeg) onText(b []byte) {
	if len(b) == 0 || len(b) > wsMaxText {
		l.s.stats.wsBadText.Add(1)
		return
	}
	cmd, data, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	data = strings.TrimSpace(data)
	withID := func(event string) string {
		if data == "" {
			return event
		}
		return event + " " + data
	}
	if cmd == "HANGUP" {
		l.mu.Lock()
		ch := l.ch
		l.mu.Unlock()
		l.s.legGone(ch)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch cmd {
	case "ANSWER": // the channel was answered when the app connected
	case "START_MEDIA_BUFFERING":
		l.bulk = true
	case "STOP_MEDIA_BUFFERING":
		l.bulk = false
		if len(l.leftover) > 0 {
			l.queueFrameLocked(l.leftover)
			l.leftover = nil
		}
		l.q = append(l.q, wsItem{note: withID("MEDIA_BUFFERING_COMPLETED")})
	case "MARK_MEDIA":
		l.q = append(l.q, wsItem{note: withID("MEDIA_MARK_PROCESSED")})
	case "FLUSH_MEDIA":
		clear(l.q)
		l.q, l.frames, l.bulk, l.leftover = nil, 0, false, nil
	case "REPORT_QUEUE_DRAINED":
		l.drained = true
	case "GET_STATUS":
		ch := "unknown"
		if l.ch != nil {
			ch = l.ch.id
		}
		l.noteLocked(fmt.Sprintf("STATUS channel_id:%s queue_length:%d xon_level:%d xoff_level:%d queue_full:%t bulk_media:%t media_paused:%t",
			ch, l.frames, wsXONLevel, wsXOFFLevel, l.full, l.bulk, l.paused))
	case "PAUSE_MEDIA":
		l.paused = true
	case "CONTINUE_MEDIA":
		l.paused = false
	default: // Asterisk logs unknown commands and carries on
		l.s.stats.wsBadText.Add(1)
	}
}
