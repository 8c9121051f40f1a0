package aritest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
)

// TestContext is the dialplan context of the shared test dialplan: echo, busy, noanswer, congestion, dtmf, hangup
// and agent, as docs/real-pbx.md configures it on a real Asterisk.
const TestContext = "outcall-test"

// Call is the simulator's record of one outbound call.
type Call struct {
	ID       string // id of the originated (or created) channel
	Endpoint string // the dial string, e.g. Local/echo@outcall-test
	Number   string // the test extension or callee number dialed
	Start    time.Time
	Answer   time.Time // zero when never answered
	End      time.Time // zero while the call lasts
	// Outcome is how the call ended: Answered for a call that was answered, whoever hung up; 0 while it lasts.
	Outcome call.Outcome
	Cause   call.Cause // Q.850 cause of the end
	// HungUpBy is who ended the call: "callee", "app", "timeout" (ring timeout), "network" (busy, congestion,
	// unallocated, rejected) or "server" (Close); empty while it lasts.
	HungUpBy     string
	Transfer     string // agent endpoint bridged with the callee, or "context,exten,priority" after continue
	DTMFPressed  string // keys the callee pressed
	DTMFReceived string // keys the app sent to the callee
	// Person is the callee playing its script; nil until answered.
	Person *callee.Person
}

type phase int

const (
	phaseIdle    phase = iota + 1 // created, waiting for /dial
	phaseNew                      // dial starts on the next tick
	phaseRinging                  // dialed, not yet answered
	phaseUp                       // answered
	phaseEnded
)

// simCall is a call in progress. Guarded by Server.mu.
type simCall struct {
	rec            Call
	script         callee.Script
	local          bool
	dialstring     string
	ch1, ch2       *channel // the app's channel, and the Local ;2 half (nil for trunk endpoints)
	phase          phase
	stasisOnAnswer bool
	timeout        int   // seconds; <= 0: none
	answerTick     int64 // tick of answer (Up) or when to answer (Ringing); -1: never
	timeoutTick    int64 // 0: none
	digits         []pendingDigit
}

// pendingDigit is a key the callee is holding: Asterisk reports it when the key is released.
type pendingDigit struct {
	due   int64
	digit rune
}

// dtmfLength is how long a simulated callee holds a key.
const dtmfLength = 100 * time.Millisecond

// dtmfMinGap is Asterisk's AST_MIN_DTMF_GAP: a DTMF frame read sooner than this after the previous one waits on
// the channel's queue for the channel's next read.
const dtmfMinGap = 45 * time.Millisecond

// releaseDigits emits ChannelDtmfReceived for the keys released by tick now (all keys when all is set). A key
// whose END Asterisk would hold (Config.DTMFBeginLate) waits until the callee's line carried a frame in the last
// tick. Called with s.mu held.
func (s *Server) releaseDigits(c *simCall, now int64, all bool) {
	held := dtmfLength-s.cfg.DTMFBeginLate < dtmfMinGap && c.ch1.cur == nil
	n := 0
	for _, d := range c.digits {
		if !all && (d.due > now || held) {
			break
		}
		n++
		if c.ch1.stasis {
			ev := s.chanEvent("ChannelDtmfReceived", c.ch1)
			ev["digit"], ev["duration_ms"] = string(d.digit), dtmfLength.Milliseconds()
			s.emit(c.ch1.app, ev)
		}
		s.wsDTMF(c.ch1, d.digit)
	}
	c.digits = c.digits[n:]
}

func (c *simCall) ended() bool { return c.phase == phaseEnded }

// builtin returns the script of an extension of the shared outcall-test dialplan (callee.TestDialplan).
// The dtmf line carries silence, as docs/real-pbx.md's Playtones(0) makes it do on Asterisk: the digit's
// end then never waits for the hang-up (Config.DTMFBeginLate).
func builtin(exten string) (callee.Script, bool) {
	sc, ok := callee.TestDialplan(exten)
	if exten == "dtmf" {
		sc.CarrySilence = true
	}
	return sc, ok
}

// endpoint is a parsed dial string.
type endpoint struct {
	tech, resource string
	number         string // the callee number or test extension
	context        string // Local only
}

var techs = []string{"Local", "PJSIP", "SIP", "IAX2", "DAHDI"}

func parseEndpoint(e string) (endpoint, *httpError) {
	tech, res, ok := strings.Cut(e, "/")
	if !ok || tech == "" || res == "" {
		return endpoint{}, errf(http.StatusBadRequest, "Endpoint parameter must be in the form tech/resource, got %q", e)
	}
	if !slices.Contains(techs, tech) {
		return endpoint{}, errf(http.StatusBadRequest, "Endpoint technology %q is not simulated", tech)
	}
	ep := endpoint{tech: tech, resource: res}
	if tech == "Local" {
		exten, ctx, ok := strings.Cut(res, "@")
		if !ok || exten == "" || ctx == "" {
			return endpoint{}, errf(http.StatusBadRequest, "Local endpoint must be exten@context, got %q", res)
		}
		ep.number, ep.context = exten, ctx
		return ep, nil
	}
	num, _, _ := strings.Cut(res, "@")
	if i := strings.LastIndexByte(num, '/'); i >= 0 {
		num = num[i+1:]
	}
	num = strings.TrimPrefix(num, "sip:")
	if num == "" {
		return endpoint{}, errf(http.StatusBadRequest, "Endpoint %q has no number", e)
	}
	ep.number = num
	return ep, nil
}

// parseCallerID parses `"Name" <number>` or a bare number.
func parseCallerID(s string) CallerID {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			return CallerID{Name: strings.Trim(strings.TrimSpace(s[:i]), `"`), Number: s[i+1 : i+j]}
		}
	}
	return CallerID{Number: s}
}

// newCall creates the channels of a call to ep. Called with s.mu held.
func (s *Server) newCall(p params, id, app string, ep endpoint) (*simCall, *httpError) {
	if id == "" {
		id = s.nextID()
	} else if !validID(id) {
		return nil, errf(http.StatusBadRequest, "Invalid channel id %q", id)
	}
	otherID := p.get("otherChannelId")
	if otherID != "" && !validID(otherID) {
		return nil, errf(http.StatusBadRequest, "Invalid channel id %q", otherID)
	}
	if s.channels[id] != nil || (otherID != "" && s.channels[otherID] != nil) || otherID == id {
		return nil, errf(http.StatusConflict, "Channel with given unique ID already exists")
	}
	script, ok := callee.Script{}, false
	if ep.tech == "Local" && ep.context == TestContext {
		script, ok = builtin(ep.number)
	}
	if !ok {
		script, ok = s.callees[ep.number]
	}
	if !ok {
		script = callee.Script{Name: "unallocated", Answer: callee.Unallocated}
	}
	s.seq++
	c := &simCall{script: script, local: ep.tech == "Local", dialstring: ep.resource, answerTick: -1}
	if c.local {
		base := fmt.Sprintf("Local/%s-%08x", ep.resource, s.seq)
		c.ch1 = s.newChannel(id, base+";1", kindCallee, app)
		if otherID == "" {
			otherID = s.nextID()
		}
		c.ch2 = s.newChannel(otherID, base+";2", kindLocal2, app)
		c.ch2.call = c
		c.ch2.dialplan = DialplanCEP{Context: ep.context, Exten: ep.number, Priority: 1}
	} else {
		trunk := ep.resource
		if _, after, ok := strings.Cut(trunk, "@"); ok {
			trunk = after
		}
		c.ch1 = s.newChannel(id, fmt.Sprintf("%s/%s-%08x", ep.tech, trunk, s.seq), kindCallee, app)
	}
	c.ch1.call = c
	c.ch1.caller = parseCallerID(p.get("callerId"))
	c.ch1.connected = CallerID{Number: ep.number}
	for k, v := range p.vars {
		c.ch1.vars[k] = v
	}
	if a := p.get("appArgs"); a != "" {
		c.ch1.args = strings.Split(a, ",")
	}
	c.rec = Call{ID: id, Endpoint: ep.tech + "/" + ep.resource, Number: ep.number, Start: time.Now()}
	s.calls[id] = c
	s.order = append(s.order, c)
	s.active = append(s.active, c)
	s.maxActive = max(s.maxActive, len(s.active))
	s.conc[ep.number]++
	s.maxConc[ep.number] = max(s.maxConc[ep.number], s.conc[ep.number])
	s.log.Debug().Str("channel", id).Str("number", redact(ep.number)).Msg("call created")
	return c, nil
}

// originate is POST /channels and POST /channels/{id}.
func (s *Server) originate(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	e := p.get("endpoint")
	if e == "" {
		return 0, nil, errf(http.StatusBadRequest, "Endpoint must be specified")
	}
	app := p.get("app")
	hasExt := p.get("extension") != "" || p.get("context") != "" || p.get("label") != "" || p.get("priority") != ""
	switch {
	case app != "" && hasExt:
		return 0, nil, errf(http.StatusBadRequest, "Application and dialplan location are mutually exclusive")
	case app == "" && hasExt:
		return 0, nil, errf(http.StatusBadRequest, "aritest: originate to a dialplan location is not simulated; use app")
	case app == "":
		return 0, nil, errf(http.StatusBadRequest, "Application or extension must be specified")
	}
	timeout, herr := p.intParam("timeout", 30)
	if herr != nil {
		return 0, nil, herr
	}
	ep, herr := parseEndpoint(e)
	if herr != nil {
		return 0, nil, herr
	}
	id := r.PathValue("id")
	if id == "" {
		id = p.get("channelId")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, nil, errf(http.StatusServiceUnavailable, "Server shutting down")
	}
	c, herr := s.newCall(p, id, app, ep)
	if herr != nil {
		return 0, nil, herr
	}
	c.phase, c.stasisOnAnswer, c.timeout = phaseNew, true, timeout
	return http.StatusOK, c.ch1.json(), nil
}

// createChannel is POST /channels/create: the channel enters Stasis at once, state Down, and waits for /dial.
func (s *Server) createChannel(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	e, app := p.get("endpoint"), p.get("app")
	if e == "" {
		return 0, nil, errf(http.StatusBadRequest, "Endpoint must be specified")
	}
	if app == "" {
		return 0, nil, errf(http.StatusBadRequest, "Application must be specified")
	}
	ep, herr := parseEndpoint(e)
	if herr != nil {
		return 0, nil, herr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, nil, errf(http.StatusServiceUnavailable, "Server shutting down")
	}
	c, herr := s.newCall(p, p.get("channelId"), app, ep)
	if herr != nil {
		return 0, nil, herr
	}
	c.phase = phaseIdle
	resp := c.ch1.json()
	s.enterStasisLater(r, c.ch1, false) // Asterisk enters Stasis on ari_channel_thread, after the response
	return http.StatusOK, resp, nil
}

// dial is POST /channels/{id}/dial for a channel made by /channels/create.
func (s *Server) dial(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	timeout, herr := p.intParam("timeout", 0)
	if herr != nil {
		return 0, nil, herr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, herr := s.inStasis(r.PathValue("id"))
	if herr != nil {
		return 0, nil, herr
	}
	if ch.call == nil || ch.kind != kindCallee || ch.call.phase != phaseIdle {
		return 0, nil, errf(http.StatusConflict, "Channel is not dialable or already dialed")
	}
	ch.call.phase, ch.call.timeout = phaseNew, timeout
	return http.StatusNoContent, nil, nil
}

// ticks converts d to 20 ms ticks, rounding up.
func ticks(d time.Duration) int64 {
	return int64((d + audio.FrameDuration - 1) / audio.FrameDuration)
}

func (s *Server) dialEvent(c *simCall, status string) {
	ev := s.event("Dial", c.ch1.app)
	ev["peer"] = c.ch1.json()
	ev["dialstring"] = c.dialstring
	ev["dialstatus"] = status
	s.emit(c.ch1.app, ev)
}

// advance moves a call's signalling forward at tick now. Called with s.mu held.
func (s *Server) advance(c *simCall, now int64) {
	switch c.phase {
	case phaseNew:
		c.phase = phaseRinging
		if c.timeout > 0 {
			c.timeoutTick = now + int64(c.timeout)*50
		}
		s.dialEvent(c, "")
		if c.ch2 != nil {
			ev := s.chanEvent("ChannelDialplan", c.ch2)
			ev["dialplan_app"], ev["dialplan_app_data"] = dialplanApp(c.script.Answer), ""
			s.emit(c.ch2.app, ev)
		}
		switch c.script.Answer {
		case callee.Pickup:
			if c.script.AnswerAfter <= 0 {
				s.answerCall(c, now)
				return
			}
			c.answerTick = now + ticks(c.script.AnswerAfter)
			s.ringing(c)
		case callee.NoAnswer:
			s.ringing(c)
		default:
			s.failCall(c)
		}
	case phaseUp:
		if len(c.digits) > 0 {
			s.releaseDigits(c, now, false)
		}
	case phaseRinging:
		if c.answerTick >= 0 && now >= c.answerTick {
			s.answerCall(c, now)
			return
		}
		if c.timeoutTick > 0 && now >= c.timeoutTick {
			s.endCall(c, 19, "timeout", nil)
		}
	}
}

func dialplanApp(a callee.Answer) string {
	switch a {
	case callee.Busy:
		return "Busy"
	case callee.Congestion:
		return "Congestion"
	case callee.NoAnswer:
		return "Ringing"
	}
	return "Answer"
}

func (s *Server) ringing(c *simCall) {
	if c.ch2 != nil {
		s.setState(c.ch2, "Ringing")
	}
	s.setState(c.ch1, "Ringing")
	s.dialEvent(c, "RINGING")
}

// failCall ends an unanswered call the network refused: busy, congestion, rejected, unallocated.
func (s *Server) failCall(c *simCall) {
	var status string
	var cause int
	var out call.Outcome
	switch c.script.Answer {
	case callee.Busy:
		status, cause, out = "BUSY", 17, call.Busy
	case callee.Congestion:
		status, cause, out = "CONGESTION", 34, call.Congestion
	case callee.Reject:
		status, cause, out = "CHANUNAVAIL", 21, call.Rejected
	default:
		status, cause, out = "CHANUNAVAIL", 1, call.Unallocated
	}
	s.dialEvent(c, status)
	c1cause := cause
	if c.ch2 != nil {
		s.destroy(c.ch2, cause, false, false)
		c1cause = 0 // a Local ;1 is destroyed with cause 0: read the outcome from Dial.dialstatus
	}
	s.destroy(c.ch1, c1cause, false, false)
	s.finish(c, out, cause, "network")
}

// answerCall answers a ringing call at tick now and starts its Person.
func (s *Server) answerCall(c *simCall, now int64) {
	cfg := s.cfg.Callee
	cfg.Rate, cfg.TTS, cfg.Logger = s.cfg.Rate, s.cfg.TTS, s.log
	p, err := callee.NewPerson(s.ctx, c.script, cfg)
	if err != nil {
		// Scripts are validated and rendered by AddCallee; this is a server fault.
		s.log.Error().Err(err).Str("channel", c.ch1.id).Msg("starting callee")
		s.endCall(c, 38, "server", nil)
		return
	}
	c.phase, c.answerTick = phaseUp, now
	c.rec.Answer, c.rec.Person = time.Now(), p
	if c.ch2 != nil {
		s.setState(c.ch2, "Up")
	}
	s.setState(c.ch1, "Up")
	s.dialEvent(c, "ANSWER")
	if c.stasisOnAnswer {
		s.varset(c.ch1, "STASISSTATUS", "")
		s.enterStasis(c.ch1)
	}
}

// endCall ends c with cause; by is "callee", "app", "timeout" or "server"; from is the channel the app hung up.
// Called with s.mu held.
func (s *Server) endCall(c *simCall, cause int, by string, from *channel) {
	if c.ended() {
		return
	}
	s.releaseDigits(c, 0, true) // a key still held is released by the hang-up
	switch {
	case c.phase == phaseUp && by == "callee" || from != nil && from == c.ch2:
		// The far end hangs up: the request travels ;2 → ;1, ;2 goes first.
		if c.ch2 != nil {
			ev := s.chanEvent("ChannelHangupRequest", c.ch2)
			ev["cause"] = cause
			s.emit(c.ch2.app, ev)
		}
		ev := s.chanEvent("ChannelHangupRequest", c.ch1)
		ev["cause"] = cause
		s.emit(c.ch1.app, ev)
		if c.ch2 != nil {
			s.destroy(c.ch2, cause, false, false)
		}
		s.destroy(c.ch1, cause, false, false)
	case by == "timeout":
		if c.ch2 != nil {
			s.destroy(c.ch2, cause, false, false)
		}
		s.destroy(c.ch1, cause, false, false)
	default: // the app (or Close) hangs up ;1
		if c.phase == phaseRinging {
			s.dialEvent(c, "CANCEL")
		}
		s.destroy(c.ch1, cause, true, by == "app")
		if c.ch2 != nil {
			s.destroy(c.ch2, cause, true, false)
		}
	}
	out := call.Answered
	switch {
	case c.phase == phaseUp:
	case by == "timeout":
		out = call.NoAnswer
	case by == "app" || by == "server":
		out = call.Cancelled
	default:
		out = call.Failed
	}
	s.finish(c, out, cause, by)
}

func (s *Server) finish(c *simCall, out call.Outcome, cause int, by string) {
	c.phase = phaseEnded
	c.rec.End, c.rec.Outcome, c.rec.Cause, c.rec.HungUpBy = time.Now(), out, call.Cause(cause), by
	s.active = slices.DeleteFunc(s.active, func(x *simCall) bool { return x == c })
	s.conc[c.rec.Number]--
	if s.conc[c.rec.Number] <= 0 {
		delete(s.conc, c.rec.Number)
	}
	s.log.Debug().Str("channel", c.rec.ID).Stringer("outcome", out).Int("cause", cause).Str("by", by).Msg("call ended")
}

// Calls returns the call log, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.order))
	for i, c := range s.order {
		out[i] = c.rec
	}
	return out
}

// Call returns the record of the call whose originated channel is id.
func (s *Server) Call(id string) (Call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.calls[id]
	if !ok {
		return Call{}, false
	}
	return c.rec, true
}

// MaxConcurrent returns the most calls to number that were up or ringing at the same time.
func (s *Server) MaxConcurrent(number string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxConc[number]
}

// MaxActive returns the most calls that were ringing or up at the same time.
func (s *Server) MaxActive() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxActive
}

// WaitIdle waits until no call is ringing or up, or ctx ends.
func (s *Server) WaitIdle(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.Active() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("aritest: %d calls still active: %w", s.Active(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Active returns how many calls are ringing or up.
func (s *Server) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.active)
}

// maxCatchUp bounds how many ticks the clock runs back to back after the process was starved of CPU; older
// ticks are skipped (Stats.SkippedTicks) and simulated time falls behind the wall clock by as much.
const maxCatchUp = 5

// loop is the one shared 20 ms clock of every simulated call. It follows the wall clock: a late wake-up runs the
// missed ticks back to back, as a loaded PBX sends a burst of packets.
func (s *Server) loop() {
	t := time.NewTicker(audio.FrameDuration)
	defer t.Stop()
	base := time.Now()
	var done int64
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			n := int64(time.Since(base)/audio.FrameDuration) - done
			if n > maxCatchUp {
				s.stats.skipped.Add(n - maxCatchUp)
				done += n - maxCatchUp
				n = maxCatchUp
			}
			for ; n > 0; n-- {
				s.tick()
				done++
			}
		}
	}
}

// tick advances signalling, playbacks and media by one frame; network writes happen after the lock is released.
func (s *Server) tick() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.ticks++
	now := s.ticks
	for _, c := range slices.Clone(s.active) {
		s.advance(c, now)
	}
	s.advancePlaybacks(now)
	s.flush = s.mix(now, s.flush[:0])
	s.mu.Unlock()
	for i, l := range s.flush {
		l.flush()
		s.flush[i] = nil
	}
}

// mix moves one frame of audio through every bridge: what apps sent in, what callees say and hear, what goes
// out to apps. Called with s.mu held; appends the legs with a packet to write to flush.
func (s *Server) mix(now int64, flush []mediaLeg) []mediaLeg {
	for _, ch := range s.legs {
		ch.cur = ch.leg.pop()
	}
	type signal struct {
		c   *simCall
		sig callee.Signal
	}
	var sigs []signal
	for _, c := range s.active {
		if c.phase != phaseUp || c.rec.Person == nil {
			continue
		}
		ch := c.ch1
		var heard *audio.Frame
		if in := s.hear(ch); in != nil {
			heard = &audio.Frame{Rate: s.cfg.Rate, Samples: in}
		}
		out, ss := c.rec.Person.Tick(time.Duration(now-c.answerTick)*audio.FrameDuration, heard)
		ch.cur = nil
		if out != nil {
			ch.cur = out.Samples
		}
		s.detectTalk(ch, ch.cur, now)
		for _, sg := range ss {
			sigs = append(sigs, signal{c, sg})
		}
	}
	for _, sn := range s.snoops {
		sn.cur = nil
		switch sn.spy {
		case "in":
			sn.cur = sn.spied.cur
		case "out":
			sn.cur = s.hear(sn.spied)
		case "both":
			sn.cur = mixInto(slices.Clone(sn.spied.cur), s.hear(sn.spied))
		}
	}
	for _, ch := range s.legs {
		if in := s.hear(ch); in != nil {
			ch.leg.send(in)
			flush = append(flush, ch.leg)
		} else {
			ch.leg.silent()
		}
	}
	for _, sg := range sigs {
		c := sg.c
		switch sg.sig.Kind {
		case callee.SignalDTMF:
			c.rec.DTMFPressed += string(sg.sig.Digit)
			c.digits = append(c.digits, pendingDigit{due: now + ticks(dtmfLength), digit: sg.sig.Digit})
		case callee.SignalHangup:
			s.endCall(c, 16, "callee", nil)
		}
	}
	return flush
}

// hear returns the mix of what every other member of ch's bridge put in this tick (nil: silence, no packets).
// The slice may alias a member's frame; callers must not modify it.
func (s *Server) hear(ch *channel) []int16 {
	if ch.bridge == nil {
		return nil
	}
	var out []int16
	n := 0
	for _, m := range ch.bridge.members {
		if m == ch || m.cur == nil {
			continue
		}
		if n == 0 {
			out = m.cur
		} else {
			if n == 1 {
				out = slices.Clone(out)
			}
			out = mixInto(out, m.cur)
		}
		n++
	}
	return out
}

// mixInto adds b to a with clipping and returns a (or b when a is empty).
func mixInto(a, b []int16) []int16 {
	if len(a) == 0 {
		return b
	}
	for i := range min(len(a), len(b)) {
		v := int32(a[i]) + int32(b[i])
		a[i] = int16(max(min(v, 32767), -32768))
	}
	return a
}
