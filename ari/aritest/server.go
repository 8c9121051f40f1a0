// Package aritest is an in-process Asterisk for tests: ARI REST and events over real HTTP, ExternalMedia over real RTP, AudioSocket and chan_websocket, and scripted callees.
package aritest

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/tts"
)

// Config configures a Server.
type Config struct {
	// Addr is the HTTP listen address. default: "127.0.0.1:0" (a free port); must be a loopback address
	Addr string
	// Username and Password are the ARI credentials, checked by Basic auth and ?api_key=user:pass.
	// default: "asterisk" / "asterisk"
	Username, Password string
	// MediaHost is the address ExternalMedia channels bind their RTP sockets to. default: "127.0.0.1"
	MediaHost string
	// AsteriskID is the asterisk_id every event carries. default: "aritest"
	AsteriskID string
	// Rate is the sample rate callees speak and hear at; ExternalMedia legs convert to their own format.
	// default: 8000
	Rate int
	// TTS renders the Text of Say steps of callees added with AddCallee. default: nil (steps need Audio)
	TTS tts.Synthesizer
	// Callee is the template for every callee's Person (Rate, TTS and Logger are set from this Config). Load
	// runs set Callee.DiscardAudio: each Person otherwise keeps both sides' audio (~2 MB per call-minute).
	// default: zero Config (the callee package's defaults)
	Callee callee.Config
	// EventBuffer is how many events may wait for a slow events socket before it is closed, as Asterisk
	// drops a socket that does not keep up. default: 10000
	EventBuffer int
	// Logger receives the simulator's logs. Phone numbers are never logged in clear. default: zerolog.Nop()
	Logger zerolog.Logger
	// StasisDelay is how long after its REST response a channel the app makes itself (ExternalMedia rtp and
	// audiosocket, POST /channels/create, snoop) enters Stasis. Asterisk answers these requests with the
	// channel's snapshot (state Down) and puts the channel into the application later, on the dial thread it
	// starts: until its StasisStart, bridge operations on it fail with 422 "Channel not in Stasis application" and
	// channel operations with 409, here as there. default: 2ms; <0: StasisStart before the response (an order
	// Asterisk does not produce for these requests, kept so tests can cover both)
	StasisDelay time.Duration
	// AppCleanupDelay is how long after a client closes its events socket the simulator cleans up that socket's
	// session, as Asterisk 23's session thread does: the cleanup unregisters the session's applications by name,
	// so a socket of the same application opened in between is left connected without it (no more events), as
	// on Asterisk (res/ari/ari_websockets.c). A socket replaced while open keeps its successor's application.
	// default: 5ms; <0: at once
	AppCleanupDelay time.Duration

	// DTMFBeginLate is how late Asterisk's thread of the callee's channel reads a key's BEGIN (scheduling delay on
	// a loaded host). Asterisk leaves a DTMF END that it would read less than 45 ms (AST_MIN_DTMF_GAP) after
	// the BEGIN on the channel's queue without waking the channel again (main/channel.c, should_skip_dtmf), so
	// the key's ChannelDtmfReceived comes only with the channel's next frame: on a line that carries no packets
	// that is the hang-up. Keys are held 100 ms, so a DTMFBeginLate over 55 ms holds every key of a silent
	// callee (callee.Script.CarrySilence unset) until it sends a frame or hangs up. default: 0 (read on time)
	DTMFBeginLate time.Duration

	// StallExternalMedia is a transport ("udp", "tcp" or "websocket") whose POST /channels/externalMedia makes
	// the channel and then never answers until the client gives up, as chan_websocket on Asterisk 23.5.0-rc1
	// did under concurrent set-ups (docs/real-pbx.md, finding 9). default: "" (every request is answered)
	StallExternalMedia string

	manualClock bool // benchmarks drive tick themselves
}

func (c *Config) fill() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.Username == "" && c.Password == "" {
		c.Username, c.Password = "asterisk", "asterisk"
	}
	if c.MediaHost == "" {
		c.MediaHost = "127.0.0.1"
	}
	if c.AsteriskID == "" {
		c.AsteriskID = "aritest"
	}
	if c.Rate == 0 {
		c.Rate = 8000
	}
	if c.EventBuffer == 0 {
		c.EventBuffer = 10000
	}
	if c.StasisDelay == 0 {
		c.StasisDelay = 2 * time.Millisecond
	}
	if c.AppCleanupDelay == 0 {
		c.AppCleanupDelay = 5 * time.Millisecond
	}
}

// Stats counts what the simulator received and dropped.
type Stats struct {
	RTPIn          int64 // RTP packets accepted from apps
	RTPOut         int64 // RTP packets sent to apps
	RTPBadSource   int64 // RTP packets from an address other than the channel's external_host, dropped
	RTPBadType     int64 // RTP packets with the wrong payload type or size, dropped
	RTPDynamic     int64 // RTP packets with a dynamic payload type (slin16's 118), dropped unseen as Asterisk does
	RTPMalformed   int64 // datagrams that are not RTP, dropped
	MediaOverflow  int64 // received frames dropped because the app sent faster than real time
	AudioSocketIn  int64 // AudioSocket audio messages accepted
	AudioSocketOut int64 // AudioSocket audio messages sent
	WebSocketIn    int64 // chan_websocket audio frames accepted from apps
	WebSocketOut   int64 // chan_websocket BINARY frames sent to apps
	WebSocketBad   int64 // chan_websocket TEXT commands ignored (unknown, empty or too long)
	EventsSent     int64 // events queued to a socket
	EventsDropped  int64 // events for an app with no socket
	SkippedTicks   int64 // 20 ms ticks the clock skipped because the process was starved of CPU
}

type stats struct {
	rtpIn, rtpOut, rtpBadSource, rtpBadType, rtpMalformed, rtpDynamic, overflow atomic.Int64
	asIn, asOut, eventsSent, eventsDropped, skipped                             atomic.Int64
	wsIn, wsOut, wsBadText                                                      atomic.Int64
}

// Server is a simulated Asterisk. Its methods are safe for concurrent use.
//
// It serves ARI under /ari: the REST operations a voice bot needs (originate, create/dial, answer, hangup,
// continue, play, record, snoop, externalMedia, variables, dtmf, bridges, playbacks, live recordings) with
// Asterisk's status codes and {"message"} error bodies, and the events WebSocket (/ari/events?app=, subprotocol
// "ari"). Endpoints `Local/<exten>@outcall-test` with exten echo, busy, noanswer, congestion, dtmf, hangup or
// agent behave like the test dialplan of docs/real-pbx.md; any other number reaches the callee registered with AddCallee, or is
// unallocated. A mixing bridge joins the callee with ExternalMedia channels (rtp/udp: ulaw, alaw, slin16;
// audiosocket/tcp: slin, slin16, ...; none/websocket with connection_type=server: chan_websocket, which the app
// reaches at /media/<id>) that carry real packets on 127.0.0.1. One 20 ms clock drives every call.
type Server struct {
	cfg   Config
	log   zerolog.Logger
	ln    net.Listener
	http  *http.Server
	url   string
	start time.Time
	stats stats

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the server starts

	mu        sync.Mutex
	closed    bool
	ticks     int64 // 20 ms ticks since start
	seq       int64 // id counter
	callees   map[string]callee.Script
	channels  map[string]*channel
	bridges   map[string]*bridge
	plays     map[string]*playback
	recs      map[string]*recording
	subs      map[string]*subscriber // by app name
	calls     map[string]*simCall    // by originated channel id
	order     []*simCall             // call log order
	active    []*simCall             // calls not ended
	legs      []*channel             // ExternalMedia channels alive
	snoops    []*channel
	flush     []mediaLeg     // legs with a packet prepared this tick; used only by the clock goroutine
	conc      map[string]int // live calls per number
	maxConc   map[string]int
	maxActive int
}

// New starts a Server listening on cfg.Addr. Close it when done.
func New(cfg Config) (*Server, error) {
	cfg.fill()
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("aritest: Addr %q: %w", cfg.Addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%w: Addr %q", ErrAddr, cfg.Addr)
	}
	if ip := net.ParseIP(cfg.MediaHost); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%w: MediaHost %q", ErrAddr, cfg.MediaHost)
	}
	switch cfg.Rate {
	case 8000, 16000:
	default:
		return nil, fmt.Errorf("aritest: Rate %d: want 8000 or 16000", cfg.Rate)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("aritest: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, log: cfg.Logger, ln: ln, url: "http://" + ln.Addr().String(), start: time.Now(),
		ctx: ctx, cancel: cancel,
		callees: map[string]callee.Script{}, channels: map[string]*channel{}, bridges: map[string]*bridge{},
		plays: map[string]*playback{}, recs: map[string]*recording{}, subs: map[string]*subscriber{},
		calls: map[string]*simCall{}, conc: map[string]int{}, maxConc: map[string]int{},
	}
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		_ = s.http.Serve(ln)
	}()
	go func() {
		defer s.wg.Done()
		if !cfg.manualClock {
			s.loop()
		}
	}()
	return s, nil
}

// Start starts a Server for a test and closes it when the test ends.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// URL returns the server's base URL, e.g. http://127.0.0.1:41234 (ARI lives under /ari).
func (s *Server) URL() string { return s.url }

// Username returns the ARI user name the server accepts.
func (s *Server) Username() string { return s.cfg.Username }

// Password returns the ARI password the server accepts.
func (s *Server) Password() string { return s.cfg.Password }

// AddCallee registers a scripted callee: any endpoint other than the test dialplan's extensions whose number (the
// resource of `PJSIP/<number>@trunk`, or the extension of `Local/<number>@outcall-test`) is number reaches it.
// Text-only Say steps are rendered now with Config.TTS.
func (s *Server) AddCallee(number string, sc callee.Script) error {
	if number == "" {
		return fmt.Errorf("%w: empty number", callee.ErrInvalidScript)
	}
	r, err := callee.Render(s.ctx, sc, s.cfg.TTS, s.cfg.Rate)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.callees[number] = r
	return nil
}

// Stats returns the media and event counters.
func (s *Server) Stats() Stats {
	return Stats{
		RTPIn: s.stats.rtpIn.Load(), RTPOut: s.stats.rtpOut.Load(), RTPBadSource: s.stats.rtpBadSource.Load(),
		RTPBadType: s.stats.rtpBadType.Load(), RTPMalformed: s.stats.rtpMalformed.Load(),
		RTPDynamic:    s.stats.rtpDynamic.Load(),
		MediaOverflow: s.stats.overflow.Load(), AudioSocketIn: s.stats.asIn.Load(),
		AudioSocketOut: s.stats.asOut.Load(), EventsSent: s.stats.eventsSent.Load(),
		WebSocketIn: s.stats.wsIn.Load(), WebSocketOut: s.stats.wsOut.Load(), WebSocketBad: s.stats.wsBadText.Load(),
		EventsDropped: s.stats.eventsDropped.Load(), SkippedTicks: s.stats.skipped.Load(),
	}
}

// DropEvents closes every events WebSocket, as a network failure or an Asterisk restart would; calls carry on.
// Events raised while no socket is connected are lost, as on Asterisk.
func (s *Server) DropEvents() {
	s.mu.Lock()
	subs := make([]*subscriber, 0, len(s.subs))
	seen := map[*subscriber]bool{}
	for app, sub := range s.subs {
		delete(s.subs, app)
		if !seen[sub] {
			seen[sub] = true
			subs = append(subs, sub)
		}
	}
	s.mu.Unlock()
	for _, sub := range subs {
		sub.close(websocket.StatusGoingAway, "aritest: dropped")
	}
}

// Close hangs up every channel, closes every socket and stops every goroutine the server started.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, c := range slices.Clone(s.active) {
		s.endCall(c, 16, "server", nil)
	}
	for _, ch := range s.channels {
		s.destroy(ch, 16, true, false) // closes media legs
	}
	subs := make([]*subscriber, 0, len(s.subs))
	for _, sub := range s.subs {
		subs = append(subs, sub)
	}
	s.subs = map[string]*subscriber{}
	s.mu.Unlock()

	s.cancel()
	for _, sub := range subs {
		sub.close(websocket.StatusGoingAway, "aritest: shutting down")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if err != nil {
		_ = s.http.Close()
	}
	s.wg.Wait()
	return nil
}

// routes builds the ARI HTTP handler.
func (s *Server) routes() http.Handler {
	m := http.NewServeMux()
	h := func(pattern string, f func(http.ResponseWriter, *http.Request, params) (int, any, *httpError)) {
		m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			p, herr := readParams(r)
			if herr != nil {
				writeErr(w, herr)
				return
			}
			after := &afterResponse{}
			r = r.WithContext(context.WithValue(r.Context(), afterResponseKey{}, after))
			status, v, herr := f(w, r, p)
			switch {
			case herr != nil:
				writeErr(w, herr)
			case v == nil:
				w.WriteHeader(status)
			default:
				writeJSON(w, status, v)
			}
			if len(after.fns) > 0 {
				if fl, ok := w.(http.Flusher); ok {
					fl.Flush()
				}
				for _, fn := range after.fns {
					fn()
				}
			}
		})
	}
	m.HandleFunc("GET /ari/events", s.serveEvents)
	h("GET /ari/asterisk/info", s.getInfo)
	h("GET /ari/asterisk/modules/{name}", s.getModule)
	h("GET /ari/applications/{name}", s.getApplication)
	h("POST /ari/events/user/{eventName}", s.userEvent)
	h("GET /ari/channels", s.listChannels)
	h("POST /ari/channels", s.originate)
	h("POST /ari/channels/create", s.createChannel)
	h("POST /ari/channels/externalMedia", s.externalMediaOrStall)
	h("GET /ari/channels/{id}", s.getChannel)
	h("POST /ari/channels/{id}", s.originate)
	h("DELETE /ari/channels/{id}", s.hangup)
	h("POST /ari/channels/{id}/dial", s.dial)
	h("POST /ari/channels/{id}/answer", s.answer)
	h("POST /ari/channels/{id}/ring", s.ring)
	h("DELETE /ari/channels/{id}/ring", s.ringStop)
	h("POST /ari/channels/{id}/progress", s.progress)
	h("POST /ari/channels/{id}/continue", s.continueDialplan)
	h("POST /ari/channels/{id}/play", s.playChannel)
	h("POST /ari/channels/{id}/play/{playbackId}", s.playChannel)
	h("POST /ari/channels/{id}/record", s.recordChannel)
	h("POST /ari/channels/{id}/snoop", s.snoop)
	h("POST /ari/channels/{id}/snoop/{snoopId}", s.snoop)
	h("GET /ari/channels/{id}/variable", s.getVar)
	h("POST /ari/channels/{id}/variable", s.setVar)
	h("POST /ari/channels/{id}/dtmf", s.sendDTMF)
	h("GET /ari/bridges", s.listBridges)
	h("POST /ari/bridges", s.createBridge)
	h("GET /ari/bridges/{id}", s.getBridge)
	h("POST /ari/bridges/{id}", s.createBridge)
	h("DELETE /ari/bridges/{id}", s.destroyBridge)
	h("POST /ari/bridges/{id}/addChannel", s.addChannel)
	h("POST /ari/bridges/{id}/removeChannel", s.removeChannel)
	h("POST /ari/bridges/{id}/play", s.playBridge)
	h("POST /ari/bridges/{id}/play/{playbackId}", s.playBridge)
	h("POST /ari/bridges/{id}/record", s.recordBridge)
	h("GET /ari/playbacks/{id}", s.getPlayback)
	h("DELETE /ari/playbacks/{id}", s.stopPlayback)
	h("POST /ari/playbacks/{id}/control", s.controlPlayback)
	h("GET /ari/recordings/live/{name}", s.getRecording)
	h("POST /ari/recordings/live/{name}/stop", s.stopRecording)
	h("DELETE /ari/recordings/live/{name}", s.cancelRecording)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, errf(http.StatusNotFound, "Resource not found"))
	})
	authed := s.auth(m)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/media/") { // chan_websocket media, outside ARI's auth
			s.serveMedia(w, r)
			return
		}
		authed.ServeHTTP(w, r)
	})
}

// auth checks HTTP Basic credentials or ?api_key=user:pass, answering 401 with a Basic challenge on failure.
func (s *Server) auth(next http.Handler) http.Handler {
	want := []byte(s.cfg.Username + ":" + s.cfg.Password)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var got string
		if u, p, ok := r.BasicAuth(); ok {
			got = u + ":" + p
		} else if k := r.URL.Query().Get("api_key"); k != "" {
			got = k
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
			writeErr(w, errf(http.StatusUnauthorized, "Authentication required"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// modules are the modules the simulator stands in for, as GET /asterisk/modules/{name} reports them.
var modules = map[string]string{
	"chan_rtp.so": "RTP Media Channel", "chan_audiosocket.so": "AudioSocket Channel",
	"chan_websocket.so": "Websocket Media Channel", "res_ari.so": "Asterisk RESTful Interface",
	"app_echo.so": "Simple Echo Application", "chan_pjsip.so": "PJSIP Channel Driver",
}

// appKnown reports whether Asterisk would list the application: registered to a socket, or unregistered but
// kept by the channels it still has (Asterisk keeps such an application, inactive, and delivers it nothing).
// Called with s.mu held.
func (s *Server) appKnown(name string) (chans []string, known bool) {
	for id, ch := range s.channels {
		if ch.app == name && ch.stasis {
			chans = append(chans, id)
		}
	}
	return chans, s.subs[name] != nil || len(chans) > 0
}

// userEvent is POST /events/user/{eventName}: a ChannelUserevent to the application, delivered only when a
// socket holds it.
func (s *Server) userEvent(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	app := p.get("application")
	if app == "" {
		return 0, nil, errf(http.StatusBadRequest, "Application must be specified")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, known := s.appKnown(app); !known {
		return 0, nil, errf(http.StatusNotFound, "Application not found")
	}
	ev := s.event("ChannelUserevent", app)
	ev["eventname"], ev["userevent"] = r.PathValue("eventName"), map[string]any{}
	s.emit(app, ev)
	return http.StatusNoContent, nil, nil
}

func (s *Server) getApplication(_ http.ResponseWriter, r *http.Request, _ params) (int, any, *httpError) {
	name := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	chans, known := s.appKnown(name)
	if !known {
		return 0, nil, errf(http.StatusNotFound, "Application not found")
	}
	slices.Sort(chans)
	return http.StatusOK, map[string]any{"name": name, "channel_ids": append([]string{}, chans...), "bridge_ids": []string{},
		"endpoint_ids": []string{}, "device_names": []string{}, "events_allowed": []any{}, "events_disallowed": []any{}}, nil
}

func (s *Server) getModule(_ http.ResponseWriter, r *http.Request, _ params) (int, any, *httpError) {
	name := r.PathValue("name")
	if !strings.HasSuffix(name, ".so") {
		return 0, nil, errf(http.StatusConflict, "Module information could not be retrieved")
	}
	desc, ok := modules[name]
	if !ok {
		return 0, nil, errf(http.StatusNotFound, "Module could not be found in running modules")
	}
	return http.StatusOK, map[string]any{"name": name, "description": desc, "use_count": 0, "status": "Running",
		"support_level": "core"}, nil
}

func (s *Server) getInfo(http.ResponseWriter, *http.Request, params) (int, any, *httpError) {
	return http.StatusOK, map[string]any{
		"system": map[string]any{"version": "23.4.1-aritest", "entity_id": s.cfg.AsteriskID},
		"status": map[string]any{"startup_time": stamp(s.start), "last_reload_time": stamp(s.start)},
	}, nil
}

// subscriber is one events WebSocket with its outgoing queue. Events are queued under the server lock and
// written by the socket's own goroutine, so a slow socket never blocks the simulation.
type subscriber struct {
	conn       *websocket.Conn
	apps       []string
	max        int
	registered time.Time // when it took its applications

	mu     sync.Mutex
	q      [][]byte
	wake   chan struct{}
	done   chan struct{}
	closed bool
	// draining asks the writer to close the socket once the queue is empty.
	draining bool
	// overflowed asks the writer to close the socket at once: the client is not keeping up.
	overflowed bool
}

func (sub *subscriber) push(b []byte) bool {
	sub.mu.Lock()
	if sub.closed {
		sub.mu.Unlock()
		return false
	}
	if len(sub.q) >= sub.max {
		// The writer closes the socket: closing can block, and push runs under the server lock.
		sub.overflowed = true
		sub.mu.Unlock()
		select {
		case sub.wake <- struct{}{}:
		default:
		}
		return false
	}
	sub.q = append(sub.q, b)
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
	return true
}

func (sub *subscriber) close(code websocket.StatusCode, reason string) {
	sub.mu.Lock()
	if sub.closed {
		sub.mu.Unlock()
		return
	}
	sub.closed = true
	conn := sub.conn
	sub.mu.Unlock()
	close(sub.done)
	if conn != nil {
		_ = conn.Close(code, reason)
	}
}

// writeLoop sends queued events until the socket closes; pending events are flushed first when it is closed
// in an orderly way.
func (sub *subscriber) writeLoop(ctx context.Context) {
	for {
		sub.mu.Lock()
		q := sub.q
		sub.q = nil
		overflowed := sub.overflowed
		sub.mu.Unlock()
		if overflowed {
			sub.close(websocket.StatusPolicyViolation, "aritest: event queue overflow")
			return
		}
		for _, b := range q {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := sub.conn.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				sub.close(websocket.StatusInternalError, "write failed")
				return
			}
		}
		sub.mu.Lock()
		drained := sub.draining && len(sub.q) == 0
		sub.mu.Unlock()
		if drained {
			sub.close(websocket.StatusNormalClosure, "application replaced")
			return
		}
		select {
		case <-sub.wake:
		case <-sub.done:
			return
		case <-ctx.Done():
			return
		}
	}
}

// serveEvents is GET /ari/events?app=a,b: the events WebSocket (subprotocol "ari").
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	var apps []string
	for _, a := range strings.Split(r.URL.Query().Get("app"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			apps = append(apps, a)
		}
	}
	if len(apps) == 0 {
		writeErr(w, errf(http.StatusBadRequest, "Missing parameter app"))
		return
	}
	// Register before the upgrade completes, so every event raised after the client sees the socket open is
	// queued for it.
	sub := &subscriber{apps: apps, max: s.cfg.EventBuffer, wake: make(chan struct{}, 1), done: make(chan struct{}), registered: time.Now()}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeErr(w, errf(http.StatusServiceUnavailable, "Server shutting down"))
		return
	}
	var replaced []*subscriber
	for _, a := range apps {
		if old := s.subs[a]; old != nil && old != sub {
			b, _ := json.Marshal(s.event("ApplicationReplaced", a))
			old.push(b)
			replaced = append(replaced, old)
		}
		s.subs[a] = sub
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	unregister := func() {
		s.mu.Lock()
		for _, a := range apps {
			if s.subs[a] == sub {
				delete(s.subs, a)
			}
		}
		s.mu.Unlock()
	}
	for _, old := range replaced {
		s.releaseIfUnused(old)
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"ari"}})
	if err != nil {
		unregister()
		return // Accept has answered the client
	}
	sub.mu.Lock()
	sub.conn = conn
	closed := sub.closed
	sub.mu.Unlock()
	if closed { // dropped or replaced during the handshake
		_ = conn.Close(websocket.StatusGoingAway, "aritest: dropped")
		unregister()
		return
	}
	s.log.Debug().Strs("apps", apps).Msg("events socket connected")

	ctx := conn.CloseRead(s.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sub.writeLoop(ctx)
	}()
	byClient := false
	select {
	case <-ctx.Done():
		byClient = s.ctx.Err() == nil
	case <-sub.done:
	}
	closedAt := time.Now()
	sub.close(websocket.StatusNormalClosure, "")
	<-done
	if !byClient || s.cfg.AppCleanupDelay < 0 {
		unregister()
	} else {
		// Asterisk's session cleanup, a moment after the client's close: it unregisters the applications by
		// name, including a newer socket's registration of them made meanwhile.
		time.Sleep(s.cfg.AppCleanupDelay)
		s.mu.Lock()
		for _, a := range apps {
			if cur := s.subs[a]; cur == sub || cur != nil && cur.registered.After(closedAt) {
				if cur != sub {
					s.log.Debug().Str("app", a).Msg("events socket's cleanup unregistered a newer socket's application")
				}
				delete(s.subs, a)
			}
		}
		s.mu.Unlock()
	}
	s.log.Debug().Strs("apps", apps).Msg("events socket closed")
}

// releaseIfUnused closes a replaced socket once it holds no app, after its writer has delivered
// ApplicationReplaced.
func (s *Server) releaseIfUnused(old *subscriber) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subs {
		if sub == old {
			return
		}
	}
	old.mu.Lock()
	old.draining = true
	old.mu.Unlock()
	select {
	case old.wake <- struct{}{}:
	default:
	}
}

// event returns a new event of type typ for app with the common fields set.
func (s *Server) event(typ, app string) Event {
	return Event{"type": typ, "application": app, "asterisk_id": s.cfg.AsteriskID, "timestamp": stamp(time.Now())}
}

// emit sends ev to app's socket, if one is connected. Called with s.mu held.
func (s *Server) emit(app string, ev Event) {
	if app == "" {
		return
	}
	sub := s.subs[app]
	if sub == nil {
		s.stats.eventsDropped.Add(1)
		return
	}
	b, err := json.Marshal(ev)
	if err != nil {
		s.log.Error().Err(err).Str("type", ev.Type()).Msg("encoding event")
		return
	}
	if sub.push(b) {
		s.stats.eventsSent.Add(1)
	} else {
		s.stats.eventsDropped.Add(1)
	}
}

// nextID returns an id in Asterisk's style, e.g. 1795470132.41. Called with s.mu held.
func (s *Server) nextID() string {
	s.seq++
	return strconv.FormatInt(s.start.Unix(), 10) + "." + strconv.FormatInt(s.seq, 10)
}

// redact hides all but the last 4 digits of a number for logs.
func redact(n string) string {
	if len(n) <= 4 {
		return strings.Repeat("*", len(n))
	}
	return strings.Repeat("*", len(n)-4) + n[len(n)-4:]
}
