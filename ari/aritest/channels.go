package aritest

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// chanKind says what a simulated channel stands for.
type chanKind int

const (
	kindCallee      chanKind = iota + 1 // the outbound channel to a callee (Local ;1 or a trunk channel)
	kindLocal2                          // the dialplan half (;2) of a Local channel
	kindRTP                             // ExternalMedia rtp/udp (UnicastRTP)
	kindAudioSocket                     // ExternalMedia audiosocket/tcp
	kindSnoop                           // a snoop on another channel
	kindWebSocket                       // ExternalMedia none/websocket (chan_websocket, connection_type=server)
)

// channel is one simulated Asterisk channel. Guarded by Server.mu.
type channel struct {
	id, name, state string
	kind            chanKind
	caller          CallerID
	connected       CallerID
	dialplan        DialplanCEP
	created         time.Time
	vars            map[string]string
	app             string // Stasis application that receives the channel's events
	args            []string
	stasis          bool
	call            *simCall // kindCallee, kindLocal2
	bridge          *bridge
	leg             mediaLeg // kindRTP, kindAudioSocket
	spied           *channel // kindSnoop: the channel spied on
	spy             string
	gone            bool
	cur             []int16 // audio this channel puts into its bridge this tick, at Config.Rate
	talk            *talkDetect
}

func (ch *channel) json() Channel {
	c := Channel{
		ID: ch.id, Name: ch.name, State: ch.state, Caller: ch.caller, Connected: ch.connected,
		Dialplan: ch.dialplan, CreationTime: stamp(ch.created), Language: "en",
	}
	if len(ch.vars) > 0 {
		c.ChannelVars = maps.Clone(ch.vars)
	}
	return c
}

// newChannel registers a channel. Called with s.mu held.
func (s *Server) newChannel(id, name string, kind chanKind, app string) *channel {
	ch := &channel{id: id, name: name, state: "Down", kind: kind, created: time.Now(), app: app, vars: map[string]string{}}
	ch.dialplan = DialplanCEP{Context: "default", Exten: "s", Priority: 1}
	s.channels[id] = ch
	return ch
}

// chanEvent returns an event of typ for ch's application with ch attached.
func (s *Server) chanEvent(typ string, ch *channel) Event {
	ev := s.event(typ, ch.app)
	ev["channel"] = ch.json()
	return ev
}

func (s *Server) setState(ch *channel, state string) {
	if ch.state == state {
		return
	}
	ch.state = state
	s.emit(ch.app, s.chanEvent("ChannelStateChange", ch))
}

func (s *Server) varset(ch *channel, k, v string) {
	ch.vars[k] = v
	ev := s.chanEvent("ChannelVarset", ch)
	ev["variable"], ev["value"] = k, v
	s.emit(ch.app, ev)
}

func (s *Server) enterStasis(ch *channel) {
	ch.stasis = true
	ev := s.chanEvent("StasisStart", ch)
	args := ch.args
	if args == nil {
		args = []string{}
	}
	ev["args"] = args
	s.emit(ch.app, ev)
}

// afterResponse collects work a handler leaves for after its response is written, as Asterisk's originate
// thread runs after the REST answer.
type afterResponse struct{ fns []func() }

type afterResponseKey struct{}

// enterStasisLater puts ch, a channel the app has just made, into Stasis StasisDelay after r's response is
// written (with ChannelStateChange Up first when up is set), unless the channel is gone by then. A negative
// StasisDelay does it now, before the response. Called with s.mu held.
func (s *Server) enterStasisLater(r *http.Request, ch *channel, up bool) {
	enter := func() {
		if up {
			s.setState(ch, "Up")
		}
		s.enterStasis(ch)
	}
	after, _ := r.Context().Value(afterResponseKey{}).(*afterResponse)
	if s.cfg.StasisDelay < 0 || after == nil {
		enter()
		return
	}
	delay := s.cfg.StasisDelay
	after.fns = append(after.fns, func() {
		time.AfterFunc(delay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if !s.closed && !ch.gone && !ch.stasis {
				enter()
			}
		})
	})
}

// destroy tears ch down with the hang-up sequence Asterisk emits: ChannelHangupRequest (when requested),
// ChannelLeftBridge, StasisEnd, ChannelDestroyed. Called with s.mu held; returns work to do after unlocking.
func (s *Server) destroy(ch *channel, cause int, request, soft bool) {
	if ch.gone {
		return
	}
	ch.gone = true
	if request {
		ev := s.chanEvent("ChannelHangupRequest", ch)
		ev["cause"] = cause
		if soft {
			ev["soft"] = true
		}
		s.emit(ch.app, ev)
	}
	if ch.bridge != nil {
		s.leaveBridge(ch)
	}
	if ch.stasis {
		ch.stasis = false
		s.emit(ch.app, s.chanEvent("StasisEnd", ch))
		if ch.kind == kindCallee {
			s.varset(ch, "STASISSTATUS", "SUCCESS")
		}
	}
	ev := s.chanEvent("ChannelDestroyed", ch)
	ev["cause"] = cause
	ev["cause_txt"] = causeText(cause)
	s.emit(ch.app, ev)
	delete(s.channels, ch.id)
	if ch.leg != nil {
		s.legs = slices.DeleteFunc(s.legs, func(c *channel) bool { return c == ch })
		leg := ch.leg
		s.wg.Add(1)
		go func() { // closing sockets outside the lock
			defer s.wg.Done()
			leg.close()
		}()
	}
	if ch.kind == kindSnoop {
		s.snoops = slices.DeleteFunc(s.snoops, func(c *channel) bool { return c == ch })
	}
	for _, sn := range slices.Clone(s.snoops) {
		if sn.spied == ch {
			s.destroy(sn, cause, true, false)
		}
	}
}

// lookup returns the live channel id or a 404.
func (s *Server) lookup(id string) (*channel, *httpError) {
	ch := s.channels[id]
	if ch == nil {
		return nil, errf(http.StatusNotFound, "Channel not found")
	}
	return ch, nil
}

// inStasis returns the channel id if it is in Stasis: 404 when missing, 409 when not in Stasis.
func (s *Server) inStasis(id string) (*channel, *httpError) {
	ch, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	if !ch.stasis {
		return nil, errf(http.StatusConflict, "Channel not in Stasis application")
	}
	return ch, nil
}

func (s *Server) listChannels(http.ResponseWriter, *http.Request, params) (int, any, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Channel, 0, len(s.channels))
	for _, ch := range s.channels {
		out = append(out, ch.json())
	}
	slices.SortFunc(out, func(a, b Channel) int { return strings.Compare(a.CreationTime+a.ID, b.CreationTime+b.ID) })
	return http.StatusOK, out, nil
}

func (s *Server) getChannel(_ http.ResponseWriter, r *http.Request, _ params) (int, any, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.lookup(r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, ch.json(), nil
}

// hangupCauses maps DELETE /channels reasons to Q.850 causes.
var hangupCauses = map[string]int{
	"normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "timeout": 18, "rejected": 21,
	"unallocated": 1, "normal_unspecified": 31, "number_incomplete": 28, "codec_mismatch": 58,
	"interworking": 127, "failure": 38, "answered_elsewhere": 26,
}

func (s *Server) hangup(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	cause := 16
	if rc := p.get("reason_code"); rc != "" {
		n, err := strconv.Atoi(rc)
		if err != nil || n < 0 || n > 127 {
			return 0, nil, errf(http.StatusBadRequest, "Invalid reason_code %q", rc)
		}
		cause = n
	} else if reason := p.get("reason"); reason != "" {
		c, ok := hangupCauses[reason]
		if !ok {
			return 0, nil, errf(http.StatusBadRequest, "Invalid reason for hangup provided")
		}
		cause = c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.lookup(r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	if c := ch.call; c != nil && !c.ended() {
		s.endCall(c, cause, "app", ch)
	} else {
		s.destroy(ch, cause, true, true)
	}
	return http.StatusNoContent, nil, nil
}

func (s *Server) answer(_ http.ResponseWriter, r *http.Request, _ params) (int, any, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.inStasis(r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	if ch.kind == kindCallee && ch.call != nil && ch.call.phase != phaseUp {
		return 0, nil, errf(http.StatusPreconditionFailed, "Channel in invalid state")
	}
	s.setState(ch, "Up")
	return http.StatusNoContent, nil, nil
}

func (s *Server) ring(_ http.ResponseWriter, r *http.Request, _ params) (int, any, *httpError) {
	return s.indicate(r, "Ringing")
}

func (s *Server) ringStop(_ http.ResponseWriter, r *http.Request, _ params) (int, any, *httpError) {
	return s.indicate(r, "")
}

func (s *Server) progress(_ http.ResponseWriter, r *http.Request, _ params) (int, any, *httpError) {
	return s.indicate(r, "")
}

// indicate handles ring/progress: valid only before the channel is up.
func (s *Server) indicate(r *http.Request, state string) (int, any, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.inStasis(r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	if ch.state == "Up" && state != "" {
		return 0, nil, errf(http.StatusPreconditionFailed, "Channel in invalid state")
	}
	if state != "" {
		s.setState(ch, state)
	}
	return http.StatusNoContent, nil, nil
}

func (s *Server) continueDialplan(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.inStasis(r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	if ch.gone {
		return 0, nil, errf(http.StatusPreconditionFailed, "Channel in invalid state")
	}
	prio, herr := p.intParam("priority", 1)
	if herr != nil {
		return 0, nil, herr
	}
	ctx, ext := p.get("context"), p.get("extension")
	if ctx == "" {
		ctx = ch.dialplan.Context
	}
	if ext == "" {
		ext = ch.dialplan.Exten
	}
	if ch.bridge != nil {
		s.leaveBridge(ch)
	}
	ch.stasis = false
	ch.dialplan = DialplanCEP{Context: ctx, Exten: ext, Priority: prio}
	s.emit(ch.app, s.chanEvent("StasisEnd", ch))
	if c := ch.call; c != nil && c.rec.Transfer == "" {
		c.rec.Transfer = ctx + "," + ext + "," + strconv.Itoa(prio)
	}
	return http.StatusNoContent, nil, nil
}

func (s *Server) getVar(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	name := p.get("variable")
	if name == "" {
		return 0, nil, errf(http.StatusBadRequest, "Variable name is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.lookup(r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	v, ok := ch.vars[name]
	if !ok {
		return 0, nil, errf(http.StatusNotFound, "Provided variable was not found")
	}
	return http.StatusOK, map[string]string{"value": v}, nil
}

func (s *Server) setVar(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	name := p.get("variable")
	if name == "" {
		return 0, nil, errf(http.StatusBadRequest, "Variable name is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.lookup(r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	switch name {
	case "TALK_DETECT(set)":
		td, herr := parseTalkDetect(p.get("value"))
		if herr != nil {
			return 0, nil, herr
		}
		ch.talk = td
		return http.StatusNoContent, nil, nil
	case "TALK_DETECT(remove)":
		ch.talk = nil
		return http.StatusNoContent, nil, nil
	}
	s.varset(ch, name, p.get("value"))
	return http.StatusNoContent, nil, nil
}

// talkDetect is the state of the TALK_DETECT function on a channel: ChannelTalkingStarted when the callee's
// audio rises above the talking threshold, ChannelTalkingFinished after the silence threshold.
type talkDetect struct {
	silence   int64 // ticks of quiet that end talking; default 2500 ms, as Asterisk's
	threshold int   // mean absolute level that counts as talking; default 160, as Asterisk's energy threshold
	talking   bool
	start     int64 // tick talking started
	lastVoice int64 // tick of the last voiced frame
}

// parseTalkDetect parses TALK_DETECT(set)'s value: "[silence_ms][,talking_threshold]".
func parseTalkDetect(v string) (*talkDetect, *httpError) {
	td := &talkDetect{silence: 2500 / 20, threshold: 160}
	if v == "" {
		return td, nil
	}
	sil, thr, _ := strings.Cut(v, ",")
	if sil != "" {
		n, err := strconv.Atoi(sil)
		if err != nil || n <= 0 {
			return nil, errf(http.StatusBadRequest, "Invalid TALK_DETECT silence threshold %q", sil)
		}
		td.silence = max(int64(n)/20, 1)
	}
	if thr != "" {
		n, err := strconv.Atoi(thr)
		if err != nil || n <= 0 {
			return nil, errf(http.StatusBadRequest, "Invalid TALK_DETECT talking threshold %q", thr)
		}
		td.threshold = n
	}
	return td, nil
}

// detectTalk updates ch's talk detector with the frame the callee sent at tick now (nil: nothing).
func (s *Server) detectTalk(ch *channel, frame []int16, now int64) {
	td := ch.talk
	if td == nil || !ch.stasis {
		return
	}
	if frame != nil && meanAbs(frame) > td.threshold {
		td.lastVoice = now
		if !td.talking {
			td.talking, td.start = true, now
			s.emit(ch.app, s.chanEvent("ChannelTalkingStarted", ch))
		}
		return
	}
	if td.talking && now-td.lastVoice >= td.silence {
		td.talking = false
		ev := s.chanEvent("ChannelTalkingFinished", ch)
		ev["duration"] = (td.lastVoice + 1 - td.start) * 20
		s.emit(ch.app, ev)
	}
}

func meanAbs(s []int16) int {
	if len(s) == 0 {
		return 0
	}
	var sum int64
	for _, v := range s {
		x := int64(v)
		sum += max(x, -x)
	}
	return int(sum / int64(len(s)))
}

func (s *Server) sendDTMF(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	digits := p.get("dtmf")
	if digits == "" {
		return 0, nil, errf(http.StatusBadRequest, "DTMF is required")
	}
	for _, d := range digits {
		if !strings.ContainsRune("0123456789*#ABCDabcdwW", d) {
			return 0, nil, errf(http.StatusBadRequest, "Invalid DTMF digit %q", d)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.inStasis(r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	if ch.state != "Up" {
		return 0, nil, errf(http.StatusPreconditionFailed, "Channel in invalid state")
	}
	if c := ch.call; c != nil {
		c.rec.DTMFReceived += strings.ToUpper(strings.NewReplacer("w", "", "W", "").Replace(digits))
	}
	return http.StatusNoContent, nil, nil
}

func (s *Server) snoop(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	spy, whisper := p.get("spy"), p.get("whisper")
	if spy == "" {
		spy = "none"
	}
	if whisper == "" {
		whisper = "none"
	}
	for _, v := range []string{spy, whisper} {
		switch v {
		case "none", "both", "out", "in":
		default:
			return 0, nil, errf(http.StatusBadRequest, "Invalid direction specified for spy/whisper: %s", v)
		}
	}
	if spy == "none" && whisper == "none" {
		return 0, nil, errf(http.StatusBadRequest, "Sanity check failed: spy and whisper are both none")
	}
	app := p.get("app")
	if app == "" {
		return 0, nil, errf(http.StatusBadRequest, "Application name is required")
	}
	id := r.PathValue("snoopId")
	if id == "" {
		id = p.get("snoopId")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	target, err := s.lookup(r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	if id == "" {
		id = s.nextID()
	} else if !validID(id) {
		return 0, nil, errf(http.StatusBadRequest, "Invalid snoop id %q", id)
	} else if s.channels[id] != nil {
		return 0, nil, errf(http.StatusConflict, "Channel with given unique ID already exists")
	}
	s.seq++
	ch := s.newChannel(id, fmt.Sprintf("Snoop/%s-%08x", target.id, s.seq), kindSnoop, app)
	ch.spied, ch.spy = target, spy
	if a := p.get("appArgs"); a != "" {
		ch.args = strings.Split(a, ",")
	}
	s.snoops = append(s.snoops, ch)
	s.enterStasisLater(r, ch, true)
	return http.StatusOK, ch.json(), nil
}

// externalMediaOrStall is POST /channels/externalMedia; with Config.StallExternalMedia set to the request's
// transport it makes the channel and holds the response until the client leaves (or the server closes).
func (s *Server) externalMediaOrStall(w http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	status, v, herr := s.externalMedia(w, r, p)
	if herr != nil || s.cfg.StallExternalMedia == "" || p.get("transport") != s.cfg.StallExternalMedia {
		return status, v, herr
	}
	select {
	case <-r.Context().Done():
	case <-s.ctx.Done():
	}
	return 0, nil, errf(http.StatusInternalServerError, "externalMedia request stalled")
}

// externalMedia is POST /channels/externalMedia.
func (s *Server) externalMedia(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	app, format, host := p.get("app"), p.get("format"), p.get("external_host")
	enc, transport := p.get("encapsulation"), p.get("transport")
	if enc == "" {
		enc = "rtp"
	}
	if transport == "" {
		transport = "udp"
	}
	if app == "" {
		return 0, nil, errf(http.StatusBadRequest, "app cannot be empty")
	}
	if format == "" {
		return 0, nil, errf(http.StatusBadRequest, "format cannot be empty")
	}
	if d := p.get("direction"); d != "" && d != "both" {
		return 0, nil, errf(http.StatusBadRequest, "Unsupported direction %q", d)
	}
	var kind chanKind
	switch enc + "/" + transport {
	case "rtp/udp":
		kind = kindRTP
	case "audiosocket/tcp":
		kind = kindAudioSocket
	case "none/websocket":
		kind = kindWebSocket
	default:
		return 0, nil, errf(http.StatusBadRequest, "Unsupported encapsulation/transport pair %s/%s", enc, transport)
	}
	var addr *net.UDPAddr
	if kind != kindWebSocket {
		if host == "" {
			return 0, nil, errf(http.StatusBadRequest, "external_host cannot be empty")
		}
		a, err := net.ResolveUDPAddr("udp", host)
		if err != nil || a.Port == 0 {
			return 0, nil, errf(http.StatusBadRequest, "external_host must be host:port, got %q", host)
		}
		addr = a
	}
	var leg mediaLeg
	var name string
	var lerr *httpError
	switch kind {
	case kindRTP:
		leg, lerr = s.newRTPLeg(format, addr)
		if lerr == nil {
			name = "UnicastRTP/" + host
		}
	case kindAudioSocket:
		uuid := p.get("data")
		leg, lerr = s.newAudioSocketLeg(format, host, uuid)
		if lerr == nil {
			name = "AudioSocket/" + host + "/" + uuid
		}
	case kindWebSocket:
		leg, lerr = s.newWebSocketLeg(format, p.get("connection_type"), host)
		name = "WebSocket/INCOMING"
	}
	if lerr != nil {
		return 0, nil, lerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := p.get("channelId")
	if s.closed {
		leg.close()
		return 0, nil, errf(http.StatusServiceUnavailable, "Server shutting down")
	}
	if id == "" {
		id = s.nextID()
	} else if !validID(id) {
		leg.close()
		return 0, nil, errf(http.StatusBadRequest, "Invalid channel id %q", id)
	} else if s.channels[id] != nil {
		leg.close()
		return 0, nil, errf(http.StatusConflict, "Channel with given unique ID already exists")
	}
	s.seq++
	ch := s.newChannel(id, fmt.Sprintf("%s-%08x", name, s.seq), kind, app)
	ch.leg = leg
	if kind == kindWebSocket {
		ch.state = "Up"
	}
	for k, v := range p.vars {
		ch.vars[k] = v
	}
	if a := leg.localAddr(); a != nil {
		ch.vars["UNICASTRTP_LOCAL_ADDRESS"] = a.IP.String()
		ch.vars["UNICASTRTP_LOCAL_PORT"] = strconv.Itoa(a.Port)
	}
	s.legs = append(s.legs, ch)
	leg.start(s, ch)
	if kind != kindWebSocket { // chan_websocket: StasisStart once the app has connected (serveMedia)
		s.enterStasisLater(r, ch, true) // as on Asterisk: the response (state Down) first, StasisStart a moment later
	}
	return http.StatusOK, ch.json(), nil
}

// causeText is Asterisk's text for a Q.850 cause.
func causeText(c int) string {
	switch c {
	case 0:
		return "Unknown"
	case 1:
		return "Unallocated (unassigned) number"
	case 16:
		return "Normal Clearing"
	case 17:
		return "User busy"
	case 18:
		return "No user responding"
	case 19:
		return "User alerting, no answer"
	case 21:
		return "Call Rejected"
	case 26:
		return "Answered elsewhere"
	case 28:
		return "Invalid number format (addr incomplete)"
	case 31:
		return "Normal, unspecified"
	case 34:
		return "Circuit/channel congestion"
	case 38:
		return "Network out of order"
	case 58:
		return "Bearer capability not available"
	case 127:
		return "Interworking, unspecified"
	}
	return "Cause " + strconv.Itoa(c)
}
