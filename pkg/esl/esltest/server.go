// Package esltest is a fake FreeSWITCH: the event socket over real TCP on 127.0.0.1, scripted callees,
// mod_audio_stream's WebSocket client, and uuid_broadcast playback of http:// URLs (fetched and played in real
// time, with PLAYBACK_START/PLAYBACK_STOP) as mod_http_cache and the playback application do.
package esltest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/esl"
	"github.com/outcall/outcall/tts"
)

// Config configures a fake FreeSWITCH.
type Config struct {
	Password string           // event socket password; default: "ClueCon"
	Rate     int              // sample rate the callees (callee.Person) run at; default: 16000
	TTS      tts.Synthesizer  // renders callee Say steps that have only Text; default: nil
	Logger   zerolog.Logger   // default: zerolog.Nop()
	Callee   callee.Config    // template for each Person (Rate and TTS are overridden); default: zero
	Now      func() time.Time // event timestamps; default: time.Now
	// NoBidirectional makes the audio-stream module one without a bidirectional mode (community mod_audio_stream
	// builds, mod_audio_fork without playAudio): audio the application sends on the WebSocket is not played but
	// logged and counted in Call.IgnoredFrames. default: false (bot audio on the WebSocket is played)
	NoBidirectional bool
	// CodecRate is every channel's read codec rate: what Channel-Read-Codec-Rate and `uuid_getvar read_rate` say,
	// and the rate of unicast audio (8000 PCMU, 16000 G722, 48000 opus). default: 8000
	CodecRate int
	// SessionsPerSecond is FreeSWITCH's sessions-per-second throttle (switch.conf.xml; 30 in vanilla): an
	// originate that would create more sessions within one second (a loopback call makes two) fails with
	// DESTINATION_OUT_OF_ORDER, as FreeSWITCH's "Throttle Error!" does. default: 30; <0: no limit
	SessionsPerSecond int
}

// Call is the fake's record of one originated channel.
type Call struct {
	ID       string            // Unique-ID (origination_uuid when given)
	Endpoint string            // dial string, e.g. sofia/gateway/gw/13800138000 or loopback/echo
	Number   string            // the callee number or test extension
	Vars     map[string]string // channel variables from the {...} block, unescaped
	App      string            // what the channel runs once answered, e.g. &park()
	Start    time.Time
	Answer   time.Time // zero when never answered
	End      time.Time // zero while the call lasts
	// Outcome is Answered for any answered call, else how the attempt failed; 0 while it lasts.
	Outcome      call.Outcome
	Cause        call.Cause // Q.850 cause of the end
	HungUpBy     string     // "callee", "app" (uuid_kill, hangup), "timeout", "network", "server"
	Transfer     string     // "dest dialplan context" after uuid_transfer, or the bridged endpoint after uuid_bridge
	DTMFPressed  string     // keys the callee pressed
	DTMFReceived string     // keys the app sent (uuid_send_dtmf)
	Broadcasts   []string   // uuid_broadcast arguments after the uuid, e.g. "playback::http://host/a.wav aleg"
	Breaks       int        // uuid_break count
	BreaksAll    int        // of which `uuid_break <uuid> all`
	Playbacks    []Playback // broadcast playbacks, in the order they were queued
	Apps         []string   // "app arg" of each sendmsg execute
	StreamURL    string     // uuid_audio_stream URL
	Person       *callee.Person

	// IgnoredFrames counts binary WebSocket messages the application sent while Config.NoBidirectional is set.
	IgnoredFrames int

	Unicast         string    // "local-ip:port->remote-ip:port" of the unicast connection in use; "" when none started
	UnicastRequests int       // sendmsg call-command unicast received
	UnicastFailures int       // of which the bind failed (the port was taken): FreeSWITCH only logs it
	UnicastIn       int       // datagrams received from the application and written into the call
	UnicastOut      int       // datagrams sent to the application (comfort noise included)
	UnicastLastIn   time.Time // when the last datagram from the application arrived
	UnicastDropped  int       // datagrams from the application dropped: it sent more than 200 ms ahead of real time
	UnicastCleared  int       // loopback: queued frames thrown away when a 4th arrived before the other leg read one
	UnicastLost     int       // the first datagram of the connection, which FreeSWITCH loses
}

// Playback is the fake's record of one uuid_broadcast playback.
type Playback struct {
	Path string // as given after any playback:: prefix, e.g. http://127.0.0.1:4321/play/a.wav
	// Status is "" while queued or playing, then "done", "break" (stopped by uuid_break), "discarded" (dropped
	// from the queue by uuid_break ... all before it started) or "error" (the fetch or the WAV failed: see Error).
	Status string
	Played time.Duration // how much of it the callee heard
	Error  string        // Status "error": why
}

// Server is a fake FreeSWITCH event socket. Create it with New; it is safe for concurrent use.
type Server struct {
	cfg  Config
	ln   net.Listener
	log  zerolog.Logger
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
	http *http.Client // fetches broadcast URLs

	mu       sync.Mutex
	sessions []time.Time // session creations of the last second, for SessionsPerSecond
	conns    map[*eslConn]struct{}
	calls    map[string]*fsCall
	order    []string
	callees  map[string]callee.Script
}

// New starts a fake FreeSWITCH listening on 127.0.0.1 (random port).
func New(cfg Config) (*Server, error) {
	if cfg.Password == "" {
		cfg.Password = "ClueCon"
	}
	if cfg.Rate == 0 {
		cfg.Rate = 16000
	}
	if cfg.CodecRate == 0 {
		cfg.CodecRate = 8000
	}
	if cfg.SessionsPerSecond == 0 {
		cfg.SessionsPerSecond = 30
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("esltest: listen: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, ln: ln, log: cfg.Logger, ctx: ctx, stop: stop, conns: map[*eslConn]struct{}{},
		calls: map[string]*fsCall{}, callees: map[string]callee.Script{},
		http: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr returns host:port of the event socket.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close hangs up every call, closes every connection and waits for the fake's goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	calls := make([]*fsCall, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	for _, c := range calls {
		s.hangup(c, call.CauseNormal, "server")
	}
	s.stop()
	_ = s.ln.Close()
	s.DropConnections()
	s.wg.Wait()
	s.http.CloseIdleConnections()
	return nil
}

// DropConnections closes every event-socket connection (calls go on), as a FreeSWITCH restart of
// mod_event_socket or a network cut would.
func (s *Server) DropConnections() {
	s.mu.Lock()
	conns := make([]*eslConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.nc.Close()
	}
}

// AddCallee makes number answer with script on any gateway or loopback endpoint.
func (s *Server) AddCallee(number string, script callee.Script) {
	s.mu.Lock()
	s.callees[number] = script
	s.mu.Unlock()
}

// Calls returns the record of every call, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.calls[id].snapshot())
	}
	return out
}

// Call returns one call's record.
func (s *Server) Call(id string) (Call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.calls[id]
	if !ok {
		return Call{}, false
	}
	return c.snapshot(), true
}

// WaitEnded waits until call id has ended and returns its record.
func (s *Server) WaitEnded(ctx context.Context, id string) (Call, error) {
	for {
		s.mu.Lock()
		c, ok := s.calls[id]
		var done <-chan struct{}
		if ok {
			done = c.ended
		}
		s.mu.Unlock()
		if ok {
			select {
			case <-done:
				r, _ := s.Call(id)
				return r, nil
			case <-ctx.Done():
				return Call{}, ctx.Err()
			}
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return Call{}, ctx.Err()
		}
	}
}

// WaitCall waits until call id exists and its record satisfies cond, checking every 10 ms, and returns that
// record; on ctx's end it returns the last record seen and ctx.Err().
func (s *Server) WaitCall(ctx context.Context, id string, cond func(Call) bool) (Call, error) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		r, ok := s.Call(id)
		if ok && cond(r) {
			return r, nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return r, ctx.Err()
		}
	}
}

// Connections returns how many event-socket connections are open.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := &eslConn{s: s, nc: nc, names: map[string]bool{}}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			_ = nc.Close()
		}()
	}
}

// eslConn is one inbound event-socket connection.
type eslConn struct {
	s  *Server
	nc net.Conn

	wmu sync.Mutex

	out *fsCall // outbound mode (`&socket(...)`): the channel this socket belongs to; nil for inbound

	mu      sync.Mutex
	authed  bool
	format  string          // "" (none), plain, json, xml
	names   map[string]bool // subscribed Event-Names; "ALL" for every event
	filters [][2]string
}

func (c *eslConn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.nc.Write(b)
	return err
}

func (c *eslConn) send(m *esl.Message) error { return c.write(m.AppendTo(nil)) }

func (c *eslConn) reply(text string) error {
	return c.send(&esl.Message{Header: map[string]string{"Content-Type": esl.TypeCommandReply, "Reply-Text": text}})
}

func (c *eslConn) serve() {
	if c.out == nil && c.send(&esl.Message{Header: map[string]string{"Content-Type": esl.TypeAuthRequest}}) != nil {
		return
	}
	br := bufio.NewReader(c.nc)
	for {
		line, h, body, err := readCommand(br)
		if err != nil {
			return
		}
		if !c.handle(line, h, body) {
			return
		}
	}
}

// readCommand reads a command line, optional headers and a Content-Length body, up to the blank line.
func readCommand(br *bufio.Reader) (string, map[string]string, []byte, error) {
	var line string
	h := map[string]string{}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return "", nil, nil, err
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			if line == "" {
				continue
			}
			break
		}
		if line == "" {
			line = l
			continue
		}
		k, v, _ := strings.Cut(l, ":")
		h[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	var body []byte
	if cl := h["Content-Length"]; cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > 1<<20 {
			return "", nil, nil, fmt.Errorf("bad Content-Length %q", cl)
		}
		body = make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			return "", nil, nil, err
		}
	}
	return line, h, body, nil
}

// handle runs one command; false closes the connection.
func (c *eslConn) handle(line string, h map[string]string, body []byte) bool {
	verb, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimSpace(rest)
	c.mu.Lock()
	authed := c.authed
	c.mu.Unlock()
	if verb == "auth" {
		if rest != c.s.cfg.Password {
			_ = c.reply("-ERR invalid")
			_ = c.send(&esl.Message{Header: map[string]string{"Content-Type": esl.TypeDisconnectNotice},
				Body: []byte("Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n")})
			return false
		}
		c.mu.Lock()
		c.authed = true
		c.mu.Unlock()
		return c.reply("+OK accepted") == nil
	}
	if !authed {
		return c.reply("-ERR command not found") == nil
	}
	switch verb {
	case "connect", "myevents", "linger":
		if c.out == nil {
			return c.reply("-ERR command not found") == nil
		}
		switch verb {
		case "connect":
			h := chanEvent("CHANNEL_DATA", c.out, map[string]string{"Content-Type": esl.TypeCommandReply,
				"Reply-Text": "+OK", "Answer-State": "answered"}).Header
			for k, v := range h {
				h[k] = url.PathEscape(v)
			}
			h["Content-Type"] = esl.TypeCommandReply
			return c.send(&esl.Message{Header: h}) == nil
		case "myevents":
			c.mu.Lock()
			c.format, c.names["ALL"] = "plain", true
			c.filters = append(c.filters, [2]string{"Unique-ID", c.out.rec.ID})
			c.mu.Unlock()
			return c.reply("+OK Events Enabled") == nil
		default:
			return c.reply("+OK will linger") == nil
		}
	case "api":
		out := c.s.api(rest)
		return c.send(&esl.Message{Header: map[string]string{"Content-Type": esl.TypeAPIResponse}, Body: []byte(out)}) == nil
	case "bgapi":
		job := h["Job-UUID"]
		if job == "" {
			job = esl.NewUUID()
		}
		if err := c.send(&esl.Message{Header: map[string]string{"Content-Type": esl.TypeCommandReply,
			"Reply-Text": "+OK Job-UUID: " + job, "Job-UUID": job}}); err != nil {
			return false
		}
		c.s.wg.Add(1)
		go func() {
			defer c.s.wg.Done()
			out := c.s.api(rest)
			cmd, args, _ := strings.Cut(rest, " ")
			c.s.fire(&esl.Event{Header: map[string]string{"Event-Name": "BACKGROUND_JOB", "Job-UUID": job,
				"Job-Command": cmd, "Job-Command-Arg": args}, Body: out})
		}()
		return true
	case "event":
		f := strings.Fields(rest)
		if len(f) == 0 || (f[0] != "plain" && f[0] != "json" && f[0] != "xml") {
			return c.reply("-ERR invalid format") == nil
		}
		c.mu.Lock()
		c.format = f[0]
		for _, n := range f[1:] {
			c.names[n] = true
		}
		c.mu.Unlock()
		return c.reply("+OK event listener enabled "+f[0]) == nil
	case "nixevent":
		c.mu.Lock()
		for _, n := range strings.Fields(rest) {
			delete(c.names, n)
		}
		c.mu.Unlock()
		return c.reply("+OK events nixed") == nil
	case "noevents":
		c.mu.Lock()
		c.names, c.format = map[string]bool{}, ""
		c.mu.Unlock()
		return c.reply("+OK no longer listening for events") == nil
	case "filter":
		k, v, _ := strings.Cut(rest, " ")
		c.mu.Lock()
		c.filters = append(c.filters, [2]string{k, v})
		c.mu.Unlock()
		return c.reply(fmt.Sprintf("+OK filter added. [%s]=[%s]", k, v)) == nil
	case "sendmsg":
		if rest == "" && c.out != nil {
			rest = c.out.rec.ID
		}
		return c.reply(c.s.sendmsg(rest, h, body)) == nil
	case "exit":
		_ = c.reply("+OK bye")
		_ = c.send(&esl.Message{Header: map[string]string{"Content-Type": esl.TypeDisconnectNotice},
			Body: []byte("Disconnected, goodbye.\n")})
		return false
	case "log":
		return c.reply("+OK log level "+rest) == nil
	case "nolog":
		return c.reply("+OK no longer logging") == nil
	}
	return c.reply("-ERR command not found") == nil
}

// wants reports whether the connection subscribed to ev and its filters pass it.
func (c *eslConn) wants(ev *esl.Event) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.format == "" {
		return "", false
	}
	if !c.names["ALL"] && !c.names[ev.Name()] && !(ev.Name() == "CUSTOM" && c.names[ev.Subclass()]) {
		return "", false
	}
	if len(c.filters) > 0 {
		ok := false
		for _, f := range c.filters {
			if ev.Get(f[0]) == f[1] {
				ok = true
			}
		}
		if !ok {
			return "", false
		}
	}
	return c.format, true
}

// fire sends ev to every connection that wants it.
func (s *Server) fire(ev *esl.Event) {
	now := s.cfg.Now()
	ev.Header["Event-Date-Timestamp"] = strconv.FormatInt(now.UnixMicro(), 10)
	ev.Header["Core-UUID"] = "00000000-0000-4000-8000-00000000e51e"
	s.mu.Lock()
	conns := make([]*eslConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		format, ok := c.wants(ev)
		if !ok {
			continue
		}
		var m *esl.Message
		switch format {
		case "json":
			m = &esl.Message{Header: map[string]string{"Content-Type": esl.TypeEventJSON}, Body: esl.EncodeJSON(ev)}
		case "xml":
			m = &esl.Message{Header: map[string]string{"Content-Type": esl.TypeEventXML}, Body: encodeXML(ev)}
		default:
			m = &esl.Message{Header: map[string]string{"Content-Type": esl.TypeEventPlain}, Body: esl.EncodePlain(ev)}
		}
		if err := c.send(m); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Debug().Err(err).Msg("esltest: event write failed")
		}
	}
}

func encodeXML(ev *esl.Event) []byte {
	var b strings.Builder
	b.WriteString("<event>\n  <headers>\n")
	for k, v := range ev.Header {
		fmt.Fprintf(&b, "    <%s>%s</%s>\n", k, xmlEscape(v), k)
	}
	b.WriteString("  </headers>\n")
	if ev.Body != "" {
		fmt.Fprintf(&b, "  <body>%s</body>\n", xmlEscape(ev.Body))
	}
	b.WriteString("</event>")
	return []byte(b.String())
}

func xmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "%", "%25", "+", "%2B")
	return r.Replace(s)
}

// Hangup ends call id from the network side with cause, as a far-end hang-up would.
func (s *Server) Hangup(id string, cause call.Cause) error {
	c := s.live(id)
	if c == nil {
		return fmt.Errorf("esltest: no live call %q", id)
	}
	s.hangup(c, cause, "network")
	return nil
}

// API runs an api command as the event socket would (e.g. "show channels") and returns its reply body.
func (s *Server) API(cmd string) string { return s.api(cmd) }
