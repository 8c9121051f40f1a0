package esltest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/esl"
)

// fsCall is a channel in progress. rec is guarded by Server.mu.
type fsCall struct {
	rec    Call
	script callee.Script
	ended  chan struct{} // closed at hangup
	kill   chan call.Cause
	ctx    context.Context
	cancel context.CancelFunc

	amu     sync.Mutex // audio stream state
	ws      *websocket.Conn
	wsRate  int
	rx      []int16 // bot audio received, not yet played
	toRate  *audio.Resampler
	stopped bool
	sock    *eslConn // the outbound socket of `&socket(...)`, if any
	plays   []*play  // uuid_broadcast playbacks: the head plays, the rest wait
	ignored bool     // an ignored WebSocket frame was logged (Config.NoBidirectional)
	bridged *fsCall  // the other leg after uuid_bridge (guarded by Server.mu)
	parked  bool     // parked by a sendmsg execute park (guarded by Server.mu)
	acked   bool     // a mod_audio_stream::play was fired (amu)

	uc     *unicast         // the park loop's unicast connection, if any (amu)
	urx    []int16          // unicast bot audio at CodecRate, not yet played (amu)
	uplay  bool             // a run of urx is playing (amu)
	uin    chan struct{}    // signalled (cap 1) when unicast bot audio arrives in urx
	ucRate *audio.Resampler // the callee's rate to CodecRate, for unicast; talk's goroutine only
	// loopback: the call was dialled on a loopback/ endpoint, whose leg queues at most loopbackQueue frames
	loopback bool
}

func (c *fsCall) snapshot() Call {
	r := c.rec
	r.Vars = make(map[string]string, len(c.rec.Vars))
	for k, v := range c.rec.Vars {
		r.Vars[k] = v
	}
	r.Broadcasts = append([]string(nil), c.rec.Broadcasts...)
	r.Playbacks = append([]Playback(nil), c.rec.Playbacks...)
	r.Apps = append([]string(nil), c.rec.Apps...)
	return r
}

// bridgeDelay is how long after uuid_bridge's +OK the fake makes the bridge.
const bridgeDelay = 20 * time.Millisecond

// builtin returns the script of an extension of the shared outcall-test dialplan (callee.TestDialplan).
func builtin(exten string) (callee.Script, bool) { return callee.TestDialplan(exten) }

// api runs an api command and returns its response body.
func (s *Server) api(cmdline string) string {
	cmd, args, _ := strings.Cut(strings.TrimSpace(cmdline), " ")
	args = strings.TrimSpace(args)
	f := strings.Fields(args)
	switch cmd {
	case "show":
		if len(f) == 0 || f[0] != "channels" {
			return "-USAGE: show channels\n"
		}
		// As FreeSWITCH's plain `show channels`: a CSV header, a row per live channel, a blank line, the count.
		s.mu.Lock()
		var b strings.Builder
		n := 0
		for _, id := range s.order {
			c := s.calls[id]
			if c.rec.End.IsZero() {
				if n == 0 {
					b.WriteString("\nuuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application\n")
				}
				n++
				fmt.Fprintf(&b, "%s,outbound,%s,%d,%s,CS_EXECUTE,,,,%s,park\n", id, c.rec.Start.Format("2006-01-02 15:04:05"),
					c.rec.Start.Unix(), c.rec.Endpoint, c.rec.Number)
			}
		}
		s.mu.Unlock()
		fmt.Fprintf(&b, "\n%d total.\n", n)
		return b.String()
	case "status":
		return "UP 0 years, 0 days, 0 hours, 0 minutes, 1 second\nFreeSWITCH (esltest) is ready\n"
	case "originate":
		return s.originate(args)
	case "uuid_getvar":
		if len(f) < 2 {
			return "-USAGE: <uuid> <var>\n"
		}
		c := s.live(f[0])
		if c == nil {
			return "-ERR No such channel!\n"
		}
		if f[1] == "read_rate" {
			if r := s.readRate(c); r != "" {
				return r
			}
			return "_undef_"
		}
		s.mu.Lock()
		v, ok := c.rec.Vars[f[1]]
		s.mu.Unlock()
		if !ok {
			return "_undef_"
		}
		return v
	case "uuid_exists":
		if len(f) > 0 {
			if c := s.live(f[0]); c != nil {
				return "true"
			}
		}
		return "false"
	case "uuid_kill":
		if len(f) == 0 {
			return "-USAGE: <uuid> [cause]\n"
		}
		c := s.live(f[0])
		if c == nil {
			return "-ERR No such channel!\n"
		}
		cause := call.CauseNormal
		if len(f) > 1 {
			if cc, ok := esl.CauseFromName(f[1]); ok {
				cause = cc
			}
		}
		select {
		case c.kill <- cause:
		default:
		}
		s.hangup(c, cause, "app")
		return "+OK\n"
	case "uuid_transfer":
		if len(f) < 2 {
			return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
		}
		c := s.live(f[0])
		if c == nil {
			return "-ERR No such channel!\n"
		}
		rest := f[1:]
		if rest[0] == "-bleg" || rest[0] == "-both" {
			rest = rest[1:]
		}
		s.mu.Lock()
		c.rec.Transfer = strings.Join(rest, " ")
		c.parked = false
		s.mu.Unlock()
		c.stopStream()
		c.stopUnicast() // the park loop ends
		s.fire(chanEvent("CHANNEL_EXECUTE", c, map[string]string{"Application": "transfer", "Application-Data": strings.Join(rest, " ")}))
		return "+OK\n"
	case "uuid_bridge":
		if len(f) < 2 {
			return "-USAGE: <uuid> <other_uuid>\n"
		}
		a, b := s.live(f[0]), s.live(f[1])
		if a == nil || b == nil {
			return "-ERR no such channel\n"
		}
		s.mu.Lock()
		a.rec.Transfer = b.rec.Endpoint
		b.rec.Transfer = a.rec.Endpoint
		a.parked, b.parked = false, false
		s.mu.Unlock()
		a.stopStream()
		a.stopUnicast()
		b.stopUnicast()
		// As FreeSWITCH: +OK at once, the bridge a moment later in the channels' state machines (CHANNEL_BRIDGE).
		// A leg that hangs up before then leaves the other one up, parked, for good.
		s.wg.Add(1)
		time.AfterFunc(bridgeDelay, func() {
			defer s.wg.Done()
			s.mu.Lock()
			ok := a.rec.End.IsZero() && b.rec.End.IsZero() && s.ctx.Err() == nil
			if ok {
				a.bridged, b.bridged = b, a
			}
			s.mu.Unlock()
			if ok {
				s.fire(chanEvent("CHANNEL_BRIDGE", a, map[string]string{"Other-Leg-Unique-ID": b.rec.ID}))
			}
		})
		return "+OK " + b.rec.ID + "\n"
	case "uuid_break":
		c := s.liveArg(f)
		if c == nil {
			return "-ERR No such channel!\n"
		}
		all := len(f) > 1 && f[1] == "all"
		s.mu.Lock()
		c.rec.Breaks++
		if all {
			c.rec.BreaksAll++
		}
		s.mu.Unlock()
		s.breakPlayback(c, all)
		return "+OK\n"
	case "uuid_broadcast":
		c := s.liveArg(f)
		if c == nil || len(f) < 2 {
			return "-ERR No such channel!\n"
		}
		s.mu.Lock()
		c.rec.Broadcasts = append(c.rec.Broadcasts, strings.Join(f[1:], " "))
		s.mu.Unlock()
		leg := "aleg"
		if len(f) > 2 {
			leg = f[2]
		}
		s.broadcast(c, f[1], leg)
		return "+OK Message queued\n"
	case "uuid_send_dtmf":
		c := s.liveArg(f)
		if c == nil || len(f) < 2 {
			return "-ERR No such channel!\n"
		}
		s.mu.Lock()
		c.rec.DTMFReceived += strings.Split(f[1], "@")[0]
		s.mu.Unlock()
		return "+OK Success\n"
	case "uuid_audio_stream":
		c := s.liveArg(f)
		if c == nil || len(f) < 2 {
			return "-ERR no such channel\n"
		}
		switch f[1] {
		case "start":
			if len(f) < 5 {
				return "-USAGE: <uuid> start <wss-url> <mono|mixed|stereo> <8k|16k> [metadata]\n"
			}
			rate := 8000
			if f[4] == "16k" {
				rate = 16000
			} else if f[4] != "8k" {
				return "-ERR invalid sample rate\n"
			}
			if err := s.startStream(c, f[2], rate); err != nil {
				return "-ERR " + err.Error() + "\n"
			}
			return "+OK Success\n"
		case "stop":
			c.stopStream()
			return "+OK Success\n"
		}
		return "-ERR unsupported command\n"
	}
	return "-ERR " + cmd + " Command not found!\n"
}

func (s *Server) liveArg(f []string) *fsCall {
	if len(f) == 0 {
		return nil
	}
	return s.live(f[0])
}

// live returns a call that has not ended.
func (s *Server) live(id string) *fsCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls[id]
	if c == nil || !c.rec.End.IsZero() {
		return nil
	}
	return c
}

func (s *Server) sendmsg(uuid string, h map[string]string, body []byte) string {
	c := s.live(strings.TrimSpace(uuid))
	if c == nil {
		return "-ERR invalid session id [" + uuid + "]"
	}
	switch h["call-command"] {
	case "unicast":
		s.startUnicast(c, h)
	case "execute":
		arg := h["execute-app-arg"]
		if arg == "" && len(body) > 0 {
			arg = string(body)
		}
		s.mu.Lock()
		c.rec.Apps = append(c.rec.Apps, strings.TrimSpace(h["execute-app-name"]+" "+arg))
		if h["execute-app-name"] == "park" {
			c.parked = true
		}
		s.mu.Unlock()
		s.fire(chanEvent("CHANNEL_EXECUTE_COMPLETE", c, map[string]string{"Application": h["execute-app-name"],
			"Application-Data": arg, "Application-Response": "_none_", "Application-UUID": h["event-uuid"]}))
	case "hangup":
		cause := call.CauseNormal
		if cc, ok := esl.CauseFromName(h["hangup-cause"]); ok {
			cause = cc
		}
		s.hangup(c, cause, "app")
	}
	return "+OK"
}

// parseOriginate splits `{vars}endpoint app` into its parts, honouring `\,` escapes and quotes in the vars.
func parseOriginate(args string) (vars map[string]string, endpoint, app string, err error) {
	vars = map[string]string{}
	args = strings.TrimSpace(args)
	if strings.HasPrefix(args, "{") {
		end := -1
		quote := false
		for i := 1; i < len(args); i++ {
			switch args[i] {
			case '\\':
				i++
			case '\'':
				quote = !quote
			case '}':
				if !quote {
					end = i
				}
			}
			if end >= 0 {
				break
			}
		}
		if end < 0 {
			return nil, "", "", fmt.Errorf("unterminated {")
		}
		for _, kv := range splitVars(args[1:end]) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, "", "", fmt.Errorf("bad variable %q", kv)
			}
			if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
				v = v[1 : len(v)-1]
			}
			v = unescapeVar(v)
			vars[strings.TrimSpace(k)] = v
		}
		args = args[end+1:]
	}
	endpoint, app, _ = strings.Cut(args, " ")
	return vars, endpoint, strings.TrimSpace(app), nil
}

func splitVars(s string) []string {
	var out []string
	start, quote := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '\'':
			quote = !quote
		case ',':
			if !quote {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// numberOf returns the callee number of a supported endpoint.
func numberOf(ep string) (string, bool) {
	parts := strings.Split(ep, "/")
	switch {
	case len(parts) == 4 && parts[0] == "sofia" && parts[1] == "gateway":
		return parts[3], parts[3] != ""
	case len(parts) >= 2 && parts[0] == "loopback":
		return parts[1], parts[1] != ""
	case len(parts) == 3 && parts[0] == "sofia":
		n, _, _ := strings.Cut(parts[2], "@")
		return strings.TrimPrefix(n, "sip:"), n != ""
	case len(parts) == 2 && parts[0] == "user":
		n, _, _ := strings.Cut(parts[1], "@")
		return n, n != ""
	}
	return "", false
}

// originate places a call and blocks until it is answered or fails, like FreeSWITCH's originate.
func (s *Server) originate(args string) string {
	vars, ep, app, err := parseOriginate(args)
	if err != nil {
		return "-ERR " + err.Error() + "\n"
	}
	number, ok := numberOf(ep)
	if !ok {
		return "-ERR CHAN_NOT_IMPLEMENTED\n"
	}
	if !s.admitSessions(ep) {
		s.log.Error().Msg("esltest: Throttle Error! (sessions-per-second)")
		return "-ERR DESTINATION_OUT_OF_ORDER\n"
	}
	s.mu.Lock()
	script, ok := s.callees[number]
	s.mu.Unlock()
	if !ok {
		script, ok = builtin(number)
	}
	id := vars["origination_uuid"]
	if id == "" {
		id = esl.NewUUID()
	}
	timeout := 60 * time.Second
	if t, err := strconv.Atoi(vars["originate_timeout"]); err == nil && t > 0 {
		timeout = time.Duration(t) * time.Second
	}
	ctx, cancel := context.WithCancel(s.ctx)
	c := &fsCall{rec: Call{ID: id, Endpoint: ep, Number: number, Vars: vars, App: app, Start: time.Now()},
		script: script, ended: make(chan struct{}), kill: make(chan call.Cause, 1), ctx: ctx, cancel: cancel,
		uin: make(chan struct{}, 1), loopback: strings.HasPrefix(ep, "loopback/")}
	s.mu.Lock()
	if _, dup := s.calls[id]; dup {
		s.mu.Unlock()
		cancel()
		return "-ERR DUPLICATE_UUID\n"
	}
	s.calls[id] = c
	s.order = append(s.order, id)
	s.mu.Unlock()
	s.fire(chanEvent("CHANNEL_CREATE", c, nil))
	if !ok {
		s.hangup(c, call.CauseUnallocated, "network")
		return "-ERR UNALLOCATED_NUMBER\n"
	}
	fail := func(cause call.Cause, by string) string {
		s.hangup(c, cause, by)
		return "-ERR " + esl.CauseName(cause) + "\n"
	}
	switch script.Answer {
	case callee.Busy:
		return fail(call.CauseUserBusy, "network")
	case callee.Congestion:
		return fail(call.CauseCongestion, "network")
	case callee.Reject:
		return fail(call.CauseCallRejected, "network")
	case callee.Unallocated:
		return fail(call.CauseUnallocated, "network")
	}
	s.fire(chanEvent("CHANNEL_PROGRESS", c, nil))
	ring := timeout
	if script.Answer == callee.Pickup && script.AnswerAfter < timeout {
		ring = script.AnswerAfter
	}
	t := time.NewTimer(ring)
	defer t.Stop()
	select {
	case <-t.C:
	case cause := <-c.kill:
		_ = cause
		return "-ERR ORIGINATOR_CANCEL\n"
	case <-c.ended:
		return "-ERR ORIGINATOR_CANCEL\n"
	case <-s.ctx.Done():
		return fail(call.CauseNormal, "server")
	}
	if script.Answer != callee.Pickup || script.AnswerAfter >= timeout {
		return fail(call.CauseNoAnswer, "timeout")
	}
	pcfg := s.cfg.Callee
	pcfg.Rate, pcfg.TTS = s.cfg.Rate, s.cfg.TTS
	p, err := callee.NewPerson(ctx, script, pcfg)
	if err != nil {
		return fail(call.CauseNormalUnspec, "server")
	}
	s.mu.Lock()
	if !c.rec.End.IsZero() {
		s.mu.Unlock()
		return "-ERR ORIGINATOR_CANCEL\n"
	}
	c.rec.Answer = time.Now()
	c.rec.Outcome = call.Answered
	c.rec.Person = p
	s.mu.Unlock()
	answer := map[string]string{"Answer-State": "answered"}
	if vars["bypass_media"] != "true" {
		answer["Channel-Read-Codec-Name"], answer["Channel-Read-Codec-Rate"] = s.codecName(), strconv.Itoa(s.cfg.CodecRate)
		answer["Channel-Write-Codec-Name"], answer["Channel-Write-Codec-Rate"] = s.codecName(), strconv.Itoa(s.cfg.CodecRate)
	}
	s.fire(chanEvent("CHANNEL_ANSWER", c, answer))
	s.wg.Add(1)
	go s.talk(c, p)
	if addr, ok := socketApp(app); ok {
		if err := s.dialSocket(c, addr); err != nil {
			s.hangup(c, call.CauseNormalUnspec, "server")
			return "-ERR SOCKET_FAILED " + err.Error() + "\n"
		}
	}
	return "+OK " + id + "\n"
}

// admitSessions counts the sessions an originate of ep creates (two for loopback) against SessionsPerSecond.
func (s *Server) admitSessions(ep string) bool {
	if s.cfg.SessionsPerSecond < 0 {
		return true
	}
	n := 1
	if strings.HasPrefix(ep, "loopback/") {
		n = 2
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := s.sessions[:0]
	for _, t := range s.sessions {
		if now.Sub(t) < time.Second {
			keep = append(keep, t)
		}
	}
	s.sessions = keep
	if len(s.sessions)+n > s.cfg.SessionsPerSecond {
		return false
	}
	for range n {
		s.sessions = append(s.sessions, now)
	}
	return true
}

// hangup ends c once with cause.
func (s *Server) hangup(c *fsCall, cause call.Cause, by string) {
	s.mu.Lock()
	if !c.rec.End.IsZero() {
		s.mu.Unlock()
		return
	}
	c.rec.End = time.Now()
	c.rec.Cause, c.rec.HungUpBy = cause, by
	if c.rec.Outcome == 0 {
		c.rec.Outcome = esl.OutcomeOfCause(cause)
	}
	other := c.bridged
	s.mu.Unlock()
	if other != nil {
		// As FreeSWITCH does once a uuid_bridge is made (no park_after_bridge): the other leg is cleared with it.
		defer s.hangup(other, call.CauseNormal, "bridge")
	}
	c.cancel()
	c.stopStream()
	c.stopUnicast()
	close(c.ended)
	name := esl.CauseName(cause)
	extra := map[string]string{"Hangup-Cause": name, "variable_hangup_cause": name,
		"variable_hangup_cause_q850": strconv.Itoa(int(cause)), "Answer-State": "hangup"}
	s.fire(chanEvent("CHANNEL_HANGUP", c, extra))
	s.fire(chanEvent("CHANNEL_HANGUP_COMPLETE", c, extra))
	c.amu.Lock()
	sock := c.sock
	c.amu.Unlock()
	if sock != nil { // outbound socket: the notice, then close after a short linger
		_ = sock.send(&esl.Message{Header: map[string]string{"Content-Type": esl.TypeDisconnectNotice},
			Body: []byte("Disconnected, goodbye.\n")})
		time.AfterFunc(100*time.Millisecond, func() { _ = sock.nc.Close() }) // linger briefly, as `linger` asks
	}
}

func chanEvent(name string, c *fsCall, extra map[string]string) *esl.Event {
	h := map[string]string{"Event-Name": name, "Unique-ID": c.rec.ID, "Channel-Call-UUID": c.rec.ID,
		"Caller-Destination-Number": c.rec.Number, "Channel-Name": c.rec.Endpoint}
	for k, v := range extra {
		h[k] = v
	}
	return &esl.Event{Header: h}
}

// talk runs the callee: every 20 ms of the call's timeline the Person hears what the bot streamed and answers on
// the stream. The timeline is a schedule (tick n is due n×20 ms after answer, on the monotonic clock), not a
// ticker: a talk goroutine that runs late catches up on the ticks it missed instead of losing them (a
// time.Ticker drops them: the callee fell 6-16 s behind over 30-45 s calls on a loaded machine, its scripted
// words came late and the bot's unicast audio overflowed its queue).
func (s *Server) talk(c *fsCall, p *callee.Person) {
	defer s.wg.Done()
	sch := schedule{start: time.Now().Add(audio.FrameDuration)} // the first tick a frame after answer
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		due := sch.due()
		if !s.waitTick(c, timer, due) {
			return
		}
		if !s.tick(c, p, sch.take(time.Now())) {
			return
		}
	}
}

// waitTick waits until the tick due at due may run; false once the call ends. While the bot's unicast audio is
// playing, a tick whose bot frame has not been taken in yet waits up to catchUpSlack past due for it (the channel's
// write path absorbing arrival jitter): after a stall the frame usually sits in the socket, its receiver stalled
// too, and catching up without it would put silence into the middle of the bot's words (into an echo's answer:
// the fake speech came back unrecognisable with no frame lost).
func (s *Server) waitTick(c *fsCall, timer *time.Timer, due time.Time) bool {
	for {
		now := time.Now()
		wait := due.Sub(now)
		if wait <= 0 {
			if !c.unicastShort(s.cfg.CodecRate) {
				return true
			}
			if wait = due.Add(catchUpSlack).Sub(now); wait <= 0 {
				return true // underrun: the bot's frame is lost, as on a stalled FreeSWITCH
			}
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-c.uin:
		case <-c.ctx.Done():
			return false
		}
	}
}

// catchUpSlack is how long past its due time a tick waits for the bot's next unicast frame: less than the
// drivers' ReadSlack (60 ms), so the callee's frame sent then is not concealed on the other side.
const catchUpSlack = 2 * audio.FrameDuration

// maxLag is how far the callee's timeline may fall behind the wall clock before it skips ahead: a stall this long
// loses the audio of its length, as on FreeSWITCH, instead of bursting it all out late.
const maxLag = time.Second

// schedule is the callee's timeline: tick n is due n frames after start.
type schedule struct {
	start time.Time
	n     int
}

func (sc *schedule) due() time.Time { return sc.start.Add(time.Duration(sc.n) * audio.FrameDuration) }

// take returns the timeline position of the tick to run at now and moves on to the next; after a stall over
// maxLag it skips to the tick due now.
func (sc *schedule) take(now time.Time) time.Duration {
	if now.Sub(sc.due()) > maxLag {
		sc.n = int(now.Sub(sc.start) / audio.FrameDuration)
	}
	at := time.Duration(sc.n) * audio.FrameDuration
	sc.n++
	return at
}

// tick runs one 20 ms step of the callee at now on its timeline; false once the callee hung up.
func (s *Server) tick(c *fsCall, p *callee.Person, now time.Duration) bool {
	f, played := s.heard(c)
	if uf := c.unicastHeard(s.cfg.CodecRate); uf != nil && f == nil {
		f = uf
	}
	out, sigs := p.Tick(now, f)
	played() // PLAYBACK_STOP once the person has the last frame
	for _, sg := range sigs {
		switch sg.Kind {
		case callee.SignalDTMF:
			s.mu.Lock()
			c.rec.DTMFPressed += string(sg.Digit)
			s.mu.Unlock()
			s.fire(chanEvent("DTMF", c, map[string]string{"DTMF-Digit": string(sg.Digit),
				"DTMF-Duration": "2000", "DTMF-Source": "RTP"}))
		case callee.SignalHangup:
			s.hangup(c, call.CauseNormal, "callee")
			return false
		}
	}
	c.sendFrame(out, p.Rate())
	c.sendUnicast(s, out, p.Rate())
	return true
}

// heard takes one frame of bot audio: of the broadcast playing, else of what the bot streamed; nil when none.
// played records and announces what the frame completed (PLAYBACK_START/STOP); call it once the person has the
// frame.
func (s *Server) heard(c *fsCall) (f *audio.Frame, played func()) {
	if f, played, ok := s.playFrame(c); ok {
		return f, played
	}
	c.amu.Lock()
	defer c.amu.Unlock()
	if c.ws == nil || len(c.rx) == 0 {
		return nil, func() {}
	}
	n := min(len(c.rx), c.wsRate/50)
	f = &audio.Frame{Rate: c.wsRate, Samples: append([]int16(nil), c.rx[:n]...)}
	c.rx = append(c.rx[:0], c.rx[n:]...)
	return f, func() {}
}

// sendFrame streams the callee's frame (silence when nil, as the media bug reads every frame) to the app.
func (c *fsCall) sendFrame(f *audio.Frame, rate int) {
	c.amu.Lock()
	ws, wsRate, rs := c.ws, c.wsRate, c.toRate
	c.amu.Unlock()
	if ws == nil {
		return
	}
	var samples []int16
	if f != nil {
		samples = f.Samples
		if rate != wsRate && rs != nil {
			samples = rs.Process(nil, samples)
		}
	} else {
		samples = make([]int16, wsRate/50)
	}
	ctx, cancel := context.WithTimeout(c.ctx, time.Second)
	defer cancel()
	_ = ws.Write(ctx, websocket.MessageBinary, audio.AppendPCM16LE(nil, samples))
}

// startStream dials the app's WebSocket as mod_audio_stream does and reads what it plays back.
func (s *Server) startStream(c *fsCall, url string, rate int) error {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return fmt.Errorf("connect %s: %w", url, err)
	}
	ws.SetReadLimit(1 << 20)
	var rs *audio.Resampler
	if rate != s.cfg.Rate {
		rs, _ = audio.NewResampler(s.cfg.Rate, rate)
	}
	c.amu.Lock()
	if c.ws != nil || c.stopped && c.ctx.Err() != nil {
		c.amu.Unlock()
		_ = ws.CloseNow()
		return fmt.Errorf("stream already running or call ended")
	}
	c.ws, c.wsRate, c.toRate, c.stopped = ws, rate, rs, false
	c.amu.Unlock()
	s.mu.Lock()
	c.rec.StreamURL = url
	s.mu.Unlock()
	s.fire(chanEvent("CUSTOM", c, map[string]string{"Event-Subclass": "mod_audio_stream::connect"}))
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			typ, b, err := ws.Read(c.ctx)
			if err != nil {
				c.amu.Lock()
				if c.ws == ws {
					c.ws = nil
				}
				c.amu.Unlock()
				_ = ws.CloseNow()
				if c.ctx.Err() == nil {
					s.fire(chanEvent("CUSTOM", c, map[string]string{"Event-Subclass": "mod_audio_stream::disconnect"}))
				}
				return
			}
			if typ != websocket.MessageBinary {
				continue
			}
			if s.cfg.NoBidirectional { // a module without the mode has no use for them
				s.mu.Lock()
				c.rec.IgnoredFrames++
				s.mu.Unlock()
				c.amu.Lock()
				first := !c.ignored
				c.ignored = true
				c.amu.Unlock()
				if first {
					s.log.Error().Str("call", c.rec.ID).Int("bytes", len(b)).
						Msg("esltest: audio stream: binary frame from the server ignored (no bidirectional mode)")
				}
				continue
			}
			c.amu.Lock()
			if len(c.rx) < rate*10 { // at most 10 s queued, as a playback buffer would
				c.rx = append(c.rx, audio.PCM16LE(nil, b)...)
			}
			first := !c.acked
			c.acked = true
			c.amu.Unlock()
			if first { // a bidirectional module announces that it plays what it is sent
				s.fire(chanEvent("CUSTOM", c, map[string]string{"Event-Subclass": "mod_audio_stream::play"}))
			}
		}
	}()
	return nil
}

func (c *fsCall) stopStream() {
	c.amu.Lock()
	ws := c.ws
	c.ws, c.stopped, c.rx = nil, true, nil
	c.amu.Unlock()
	if ws != nil {
		_ = ws.Close(websocket.StatusNormalClosure, "stream stopped")
	}
}

// unescapeVar undoes backslash escapes (\, \' \\) in a channel variable value.
func unescapeVar(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// socketApp parses `&socket(host:port async full)`.
func socketApp(app string) (string, bool) {
	inner, ok := strings.CutPrefix(app, "&socket(")
	if !ok || !strings.HasSuffix(inner, ")") {
		return "", false
	}
	f := strings.Fields(strings.TrimSuffix(inner, ")"))
	if len(f) == 0 {
		return "", false
	}
	return f[0], true
}

// dialSocket connects the answered channel to the application's outbound-mode server, as mod_event_socket's
// socket application does, and serves the commands the application sends on it.
func (s *Server) dialSocket(c *fsCall, addr string) error {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	ec := &eslConn{s: s, nc: nc, names: map[string]bool{}, out: c, authed: true}
	c.amu.Lock()
	c.sock = ec
	c.amu.Unlock()
	s.mu.Lock()
	s.conns[ec] = struct{}{}
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ec.serve()
		s.mu.Lock()
		delete(s.conns, ec)
		s.mu.Unlock()
		_ = nc.Close()
	}()
	return nil
}
