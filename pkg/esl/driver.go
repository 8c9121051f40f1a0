package esl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
)

// DriverConfig configures a Driver. Zero fields take the defaults noted beside them.
type DriverConfig struct {
	MediaListen  string         // where the media server (audio-stream WebSocket, broadcast segments) listens; default: "127.0.0.1:0"
	MediaURL     string         // ws:// base URL FreeSWITCH dials (as it reaches this process); default: ws://<MediaListen's address>
	Format       audio.Format   // media format: audio.Narrowband (8k) or audio.Wideband (16k); default: Wideband
	Clock        *audio.Clock   // shared playout clock, already running; default: the driver runs its own, with MaxCatchUp 1 (see NewDriver)
	MediaTimeout time.Duration  // wait for mod_audio_stream to connect after answer (MediaStream, MediaBroadcast); default: 5 s
	ReadSlack    time.Duration  // how long a due callee frame waits for a late packet before it is concealed; default: 60 ms
	JitterDepth  int            // callee frames buffered before they play out to Read (its delay); default: 3 (60 ms)
	App          string         // what the answered channel runs while the bot talks; default: "&park()"
	Logger       zerolog.Logger // default: zerolog.Nop(); numbers are never logged in clear

	// Media chooses how a call's audio travels: MediaUnicast (FreeSWITCH's built-in UDP unicast both ways, no
	// module needed), MediaStream (an audio-stream module's WebSocket both ways: only modules with a bidirectional
	// mode play what is sent back) or MediaBroadcast (the callee's over the WebSocket, the bot's as HTTP-served WAV
	// segments played with uuid_broadcast). default: MediaUnicast
	Media MediaMode

	// UnicastListen is the UDP address of this process's one unicast socket, shared by every call (MediaUnicast).
	// default: MediaListen's host, port 0
	UnicastListen string
	// UnicastAddr is the remote-ip of the unicast sendmsg: the address FreeSWITCH sends the calls' audio to, i.e.
	// this process as FreeSWITCH reaches it (MEDIA_HOST). default: UnicastListen's IP, which must then be a
	// specific address (not 0.0.0.0)
	UnicastAddr string
	// FreeSWITCHIP is the local-ip of the unicast sendmsg: an address of the FreeSWITCH host, which its unicast
	// sockets bind and send from. default: the event socket's host (Config.Addr) when it is an IP address or a
	// name that resolves to one
	FreeSWITCHIP string
	// UnicastPorts is the range of FreeSWITCH-side ports, one per live call, chosen by the driver. Keep it clear of
	// FreeSWITCH's RTP range (switch.conf rtp-start-port..rtp-end-port, 16384-32768 by default). A port already
	// taken on the FreeSWITCH host is detected (no audio within UnicastTimeout) and another one tried.
	// default: {40000, 40999}
	UnicastPorts [2]int
	// UnicastTimeout is how long the first datagram may take after the unicast sendmsg before another port is
	// tried. FreeSWITCH sends a datagram for every frame it reads, comfort noise included, so the first comes
	// within a packet time. default: 1 s
	UnicastTimeout time.Duration
	// UnicastAttempts is how many ports a call tries before it fails with ErrUnicastSilent. default: 3
	UnicastAttempts int
	// StreamAckAfter is how much bot audio a MediaStream call sends over the WebSocket with no sign from the
	// module that it plays it (a mod_audio_stream::play event) before the driver logs a warning, once per call:
	// the open-source mod_audio_stream ignores binary frames, and the callee then hears nothing. default: 5 s
	StreamAckAfter time.Duration
	// PlaybackURL is the http:// base URL FreeSWITCH fetches broadcast segments from, as it reaches this process;
	// segments are served on the media listener under /play/. MediaBroadcast only.
	// default: http://<MediaListen's address>
	PlaybackURL string
	// FirstSegment is the length of the first segment of a prompt (published when nothing is playing), kept
	// short so playback starts fast. MediaBroadcast only. default: 300 ms
	FirstSegment time.Duration
	// Segment is the length of the later segments of a prompt; Write runs at most Segment + 200 ms ahead of the
	// estimated playback. MediaBroadcast only. default: 1 s
	Segment time.Duration
}

// Driver places calls through a Client and carries their audio over mod_audio_stream's WebSocket: the callee's
// always, the bot's too in MediaStream mode, or as uuid_broadcast of HTTP-served segments in MediaBroadcast
// mode. It implements call.Dialer.
type Driver struct {
	c   *Client
	cfg DriverConfig
	log zerolog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ln     net.Listener
	srv    *http.Server
	group  *audio.Group
	pacer  *audio.Pacer // paces every call's received frames

	uc          *unicastTransport // MediaUnicast: the one UDP socket; nil otherwise
	ucBatch     []unicastOut      // SendBatch's, reused: the clock calls it from one goroutine
	ports       *portPool
	fsIP        netip.Addr // local-ip
	ucAdvertise netip.Addr // remote-ip

	subMu      sync.Mutex
	subscribed bool

	mu       sync.Mutex
	sessions map[string]*media
	calls    map[string]*eslCall
}

var _ call.Dialer = (*Driver)(nil)

// NewDriver starts the media WebSocket server (and a playout clock unless cfg.Clock is set).
func NewDriver(c *Client, cfg DriverConfig) (*Driver, error) {
	if cfg.MediaListen == "" {
		cfg.MediaListen = "127.0.0.1:0"
	}
	if cfg.Format.Rate == 0 {
		cfg.Format = audio.Wideband
	}
	if cfg.Format.Rate != 8000 && cfg.Format.Rate != 16000 {
		return nil, fmt.Errorf("%w: Format %d Hz (mod_audio_stream streams 8k or 16k)", ErrConfig, cfg.Format.Rate)
	}
	if cfg.MediaTimeout <= 0 {
		cfg.MediaTimeout = 5 * time.Second
	}
	if cfg.ReadSlack <= 0 {
		cfg.ReadSlack = 60 * time.Millisecond
	}
	if cfg.App == "" {
		cfg.App = "&park()"
	}
	if cfg.JitterDepth <= 0 {
		cfg.JitterDepth = 3
	}
	if cfg.StreamAckAfter <= 0 {
		cfg.StreamAckAfter = 5 * time.Second
	}
	if err := cfg.fillPlayback(); err != nil {
		return nil, err
	}
	var fsIP, advertise netip.Addr
	if cfg.Media == MediaUnicast {
		var err error
		if fsIP, advertise, err = cfg.fillUnicast(c.cfg.Addr); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.MediaListen)
	if err != nil {
		return nil, fmt.Errorf("esl: media listen: %w", err)
	}
	if cfg.MediaURL == "" {
		cfg.MediaURL = "ws://" + ln.Addr().String()
	}
	cfg.MediaURL = strings.TrimRight(cfg.MediaURL, "/")
	if cfg.PlaybackURL == "" {
		cfg.PlaybackURL = "http://" + ln.Addr().String()
	}
	cfg.PlaybackURL = strings.TrimRight(cfg.PlaybackURL, "/")
	ctx, cancel := context.WithCancel(context.Background())
	d := &Driver{c: c, cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel, ln: ln, sessions: map[string]*media{}, calls: map[string]*eslCall{}}
	clock := cfg.Clock
	if clock == nil {
		// After a stall, send at most one overdue frame back to back with the current one and skip the older
		// ticks (the stream is delayed, no frame is dropped here): the frames FreeSWITCH's unicast receives are
		// written into the session as they arrive, and a loopback leg queues only 3 of them, throwing the queue
		// away on a 4th (mod_loopback's FRAME_QUEUE_LEN), so a longer burst loses audio there.
		clock = audio.NewClock(audio.ClockConfig{Logger: cfg.Logger, MaxCatchUp: 1})
		d.wg.Add(1)
		go func() { defer d.wg.Done(); _ = clock.Run(ctx) }()
	}
	d.group = clock.NewGroup(d)
	d.pacer = audio.NewPacer(clock)
	if cfg.Media == MediaUnicast {
		uc, err := listenUnicast(cfg.UnicastListen, cfg.Logger)
		if err != nil {
			cancel()
			_ = ln.Close()
			d.group.Close()
			d.pacer.Close()
			d.wg.Wait()
			return nil, err
		}
		if !advertise.IsValid() {
			advertise = uc.local.Addr()
		}
		d.uc, d.ports, d.fsIP, d.ucAdvertise = uc, newPortPool(cfg.UnicastPorts[0], cfg.UnicastPorts[1]), fsIP, advertise
	}
	c.onReconnect(d.resync)
	mux := http.NewServeMux()
	mux.HandleFunc("/stream/{id}", d.serveStream)
	mux.HandleFunc("GET /play/{id}/{token}/{file}", d.servePlay)
	d.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	d.wg.Add(1)
	go func() { defer d.wg.Done(); _ = d.srv.Serve(ln) }()
	return d, nil
}

// MediaAddr returns the address of the media server: the audio-stream WebSocket and the broadcast segments.
func (d *Driver) MediaAddr() string { return d.ln.Addr().String() }

// Close stops the media server and the driver's clock; calls in progress lose their media.
func (d *Driver) Close() error {
	d.cancel()
	_ = d.srv.Close()
	d.group.Close()
	d.mu.Lock()
	ms := make([]*media, 0, len(d.sessions))
	for _, m := range d.sessions {
		ms = append(ms, m)
	}
	d.mu.Unlock()
	for _, m := range ms {
		m.close()
	}
	d.wg.Wait()
	d.pacer.Close()
	if d.uc != nil {
		return d.uc.close()
	}
	return nil
}

// fillUnicast sets the unicast defaults and returns local-ip (FreeSWITCH's address) and remote-ip (this
// process's; invalid when it is to be the bound address).
func (cfg *DriverConfig) fillUnicast(eslAddr string) (fsIP, advertise netip.Addr, err error) {
	if cfg.UnicastListen == "" {
		host, _, err := net.SplitHostPort(cfg.MediaListen)
		if err != nil {
			return fsIP, advertise, fmt.Errorf("%w: MediaListen %q: %v", ErrConfig, cfg.MediaListen, err)
		}
		cfg.UnicastListen = net.JoinHostPort(host, "0")
	}
	if cfg.UnicastPorts == [2]int{} {
		cfg.UnicastPorts = [2]int{40000, 40999}
	}
	if p := cfg.UnicastPorts; p[0] < 1024 || p[1] > 65535 || p[0] > p[1] {
		return fsIP, advertise, fmt.Errorf("%w: UnicastPorts %d-%d (want 1024 <= from <= to <= 65535)", ErrConfig, p[0], p[1])
	}
	if cfg.UnicastTimeout <= 0 {
		cfg.UnicastTimeout = time.Second
	}
	if cfg.UnicastAttempts <= 0 {
		cfg.UnicastAttempts = 3
	}
	if cfg.UnicastAddr != "" {
		if advertise, err = netip.ParseAddr(cfg.UnicastAddr); err != nil || advertise.IsUnspecified() || !advertise.Is4() {
			return fsIP, advertise, fmt.Errorf("%w: UnicastAddr %q is not a specific IPv4 address", ErrConfig, cfg.UnicastAddr)
		}
	} else {
		host, _, _ := net.SplitHostPort(cfg.UnicastListen)
		a, err := netip.ParseAddr(host)
		if err != nil || a.IsUnspecified() {
			return fsIP, advertise, fmt.Errorf("%w: UnicastListen %q does not say where FreeSWITCH should send audio: set UnicastAddr (MEDIA_HOST)", ErrConfig, cfg.UnicastListen)
		}
	}
	ip := cfg.FreeSWITCHIP
	if ip == "" {
		host, _, err := net.SplitHostPort(eslAddr)
		if err != nil {
			return fsIP, advertise, fmt.Errorf("%w: event socket address %q: %v", ErrConfig, eslAddr, err)
		}
		ip = host
		if _, perr := netip.ParseAddr(host); perr != nil {
			addrs, lerr := net.LookupHost(host)
			if lerr != nil || len(addrs) == 0 {
				return fsIP, advertise, fmt.Errorf("%w: FreeSWITCHIP: cannot resolve the event socket host %q; set FreeSWITCHIP", ErrConfig, host)
			}
			ip = addrs[0]
			for _, a := range addrs {
				if pa, err := netip.ParseAddr(a); err == nil && pa.Is4() {
					ip = a
					break
				}
			}
		}
	}
	if fsIP, err = netip.ParseAddr(ip); err != nil || fsIP.IsUnspecified() || !fsIP.Is4() {
		return fsIP, advertise, fmt.Errorf("%w: FreeSWITCHIP %q is not a specific IPv4 address", ErrConfig, ip)
	}
	return fsIP, advertise, nil
}

// subscribe asks FreeSWITCH, once, for the events calls need.
func (d *Driver) subscribe(ctx context.Context) error {
	d.subMu.Lock()
	defer d.subMu.Unlock()
	if d.subscribed {
		return nil
	}
	if err := d.c.Events(ctx, "plain", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE", "DTMF", "CHANNEL_BRIDGE",
		"PLAYBACK_START", "PLAYBACK_STOP", "CUSTOM", "mod_audio_stream::connect", "mod_audio_stream::disconnect", "mod_audio_stream::play"); err != nil {
		return err
	}
	d.subscribed = true
	return nil
}

// Dial originates r.Endpoint with an origination_uuid chosen (and subscribed to) before the command is sent,
// waits for answer, and starts the audio stream. An unanswered call returns a *call.Error whose Outcome comes from
// the hangup cause or the job's -ERR reply.
func (d *Driver) Dial(ctx context.Context, r call.Request) (call.Call, error) {
	if err := d.subscribe(ctx); err != nil {
		return nil, &call.Error{Outcome: call.Failed, Detail: "subscribe", Err: err}
	}
	id := r.ID
	if id == "" {
		id = NewUUID()
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if !safeToken(id) {
		return nil, &call.Error{Outcome: call.Failed, Detail: "bad call id", Err: fmt.Errorf("%w: ID %q", ErrConfig, id)}
	}
	vars := map[string]string{}
	for k, v := range r.Variables {
		if !safeToken(k) {
			return nil, &call.Error{Outcome: call.Failed, Detail: "bad variable name", Err: fmt.Errorf("%w: variable %q", ErrConfig, k)}
		}
		vars[k] = v
	}
	vars["origination_uuid"] = id
	vars["originate_timeout"] = strconv.Itoa(int((timeout + time.Second - 1) / time.Second))
	vars["ignore_early_media"] = "true"
	if r.CallerID != "" {
		name, num := splitCallerID(r.CallerID)
		vars["origination_caller_id_number"] = num
		if name != "" {
			vars["origination_caller_id_name"] = name
		}
	}
	if strings.ContainsAny(r.Endpoint, " \r\n") || r.Endpoint == "" {
		return nil, &call.Error{Outcome: call.Failed, Detail: "bad endpoint", Err: ErrConfig}
	}
	sub := d.c.Subscribe(id)
	m := d.newMedia(id)
	log := d.log.With().Str("call", id).Logger()
	log.Debug().Str("endpoint", redactEndpoint(r.Endpoint)).Msg("esl: originate")
	cmd := "originate " + EncodeVars(vars) + r.Endpoint + " " + d.cfg.App
	job, jobCh, err := d.c.StartJob(ctx, cmd)
	if err != nil {
		d.dropMedia(id)
		sub.Close()
		return nil, &call.Error{Outcome: call.OutcomeOfError(err), Detail: "originate", Err: err}
	}
	fail := func(e *call.Error) (call.Call, error) {
		d.c.CancelJob(job)
		d.dropMedia(id)
		sub.Close()
		return nil, e
	}
	answered, readRate := false, 0
	for !answered {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				return fail(&call.Error{Outcome: call.Failed, Detail: "client closed", Err: ErrClosed})
			}
			switch ev.Name() {
			case "CHANNEL_ANSWER":
				answered = true
				readRate, _ = strconv.Atoi(ev.Get("Channel-Read-Codec-Rate"))
			case "CHANNEL_HANGUP_COMPLETE":
				cause, _ := CauseFromName(ev.Get("Hangup-Cause"))
				return fail(&call.Error{Outcome: outcomeOfCause(cause), Cause: cause, Detail: ev.Get("Hangup-Cause")})
			}
		case ev, ok := <-jobCh:
			if !ok { // the result went with the connection; the channel may still ring: best-effort kill
				kctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, _ = d.c.API(kctx, "uuid_kill "+id+" ORIGINATOR_CANCEL")
				cancel()
				return fail(&call.Error{Outcome: call.Failed, Detail: "connection lost during originate", Err: ErrDisconnected})
			}
			body := strings.TrimSpace(ev.Body)
			if rest, isErr := strings.CutPrefix(body, "-ERR"); isErr {
				e := &Error{Command: "originate", Reply: strings.TrimSpace(rest)}
				cause := e.Cause()
				return fail(&call.Error{Outcome: outcomeOfCause(cause), Cause: cause, Detail: e.Reply, Err: e})
			}
			answered = true // +OK: answered, whether or not CHANNEL_ANSWER reached us
		case <-ctx.Done():
			kctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _ = d.c.API(kctx, "uuid_kill "+id+" ORIGINATOR_CANCEL")
			cancel()
			return fail(&call.Error{Outcome: call.Cancelled, Detail: "cancelled", Err: ctx.Err()})
		}
	}
	d.c.CancelJob(job)
	sendmsg := func(ctx context.Context, h map[string]string) error { return d.c.SendMsg(ctx, id, h, nil) }
	c := d.newCall(id, m, d.c.API, sendmsg, sub.Events(), sub.Close, nil, log)
	c.readRate = readRate
	return d.startMedia(ctx, c)
}

// newCall registers an answered call and starts its event pump.
func (d *Driver) newCall(id string, m *media, api func(context.Context, string) (string, error),
	sendmsg func(context.Context, map[string]string) error, evs <-chan *Event, release func(), gone <-chan struct{},
	log zerolog.Logger) *eslCall {
	c := &eslCall{d: d, id: id, api: api, sendmsg: sendmsg, evs: evs, release: release, gone: gone, media: m, log: log,
		events: make(chan call.Event, 64), notes: make(chan note, 4), bridgeEv: make(chan struct{}, 1),
		done: make(chan struct{}), lost: make(chan struct{})}
	if m.bc != nil {
		m.bc.setAPI(api)
	}
	d.wg.Add(1)
	d.mu.Lock()
	d.calls[id] = c
	d.mu.Unlock()
	go c.pump()
	return c
}

// startMedia starts the call's media: unicast, or mod_audio_stream's connection to the media server, which it
// waits for. On failure the call is hung up.
func (d *Driver) startMedia(ctx context.Context, c *eslCall) (call.Call, error) {
	id, m := c.id, c.media
	hangup := func(err error) (call.Call, error) {
		kctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.Hangup(kctx, call.CauseNormal)
		cancel()
		detail := "audio stream"
		if m.mode == MediaUnicast {
			detail = "unicast media"
		}
		return nil, &call.Error{Outcome: call.Failed, Detail: detail, Err: err}
	}
	if m.mode == MediaUnicast {
		if err := d.startUnicast(ctx, c); err != nil {
			if errors.Is(err, call.ErrHungUp) {
				return nil, &call.Error{Outcome: call.Answered, Detail: "hung up before media", Err: err}
			}
			return hangup(err)
		}
		return c, nil
	}
	rate := "16k"
	if d.cfg.Format.Rate == 8000 {
		rate = "8k"
	}
	if _, err := c.api(ctx, "uuid_audio_stream "+id+" start "+d.cfg.MediaURL+"/stream/"+id+" mono "+rate); err != nil {
		return hangup(err)
	}
	t := time.NewTimer(d.cfg.MediaTimeout)
	defer t.Stop()
	select {
	case <-m.connected:
	case <-t.C:
		return hangup(fmt.Errorf("mod_audio_stream did not connect within %v", d.cfg.MediaTimeout))
	case <-c.done:
		return nil, &call.Error{Outcome: call.Answered, Detail: "hung up before media", Err: call.ErrHungUp}
	case <-ctx.Done():
		return hangup(ctx.Err())
	}
	return c, nil
}

// EncodeVars renders channel variables as an originate {...} block, sorted by name, escaping commas (which would
// split variables), quotes and backslashes; values with spaces are quoted.
func EncodeVars(vars map[string]string) string {
	if len(vars) == 0 {
		return ""
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		v := vars[k]
		v = strings.NewReplacer(`\`, `\\`, ",", `\,`, "'", `\'`, "\n", " ", "\r", " ").Replace(v)
		b.WriteString(k)
		b.WriteByte('=')
		if strings.ContainsAny(v, " {}") {
			b.WriteString("'" + v + "'")
		} else {
			b.WriteString(v)
		}
	}
	b.WriteByte('}')
	return b.String()
}

// splitCallerID splits `"Bank" <4001234567>` into name and number.
func splitCallerID(s string) (name, num string) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			return strings.Trim(strings.TrimSpace(s[:i]), `"`), s[i+1 : i+j]
		}
	}
	return "", s
}

// redactEndpoint keeps the technology and the last two digits of the number for logs.
func redactEndpoint(ep string) string {
	i := strings.LastIndexByte(ep, '/')
	num := ep[i+1:]
	if len(num) <= 2 {
		return ep
	}
	return ep[:i+1] + strings.Repeat("*", len(num)-2) + num[len(num)-2:]
}

func (d *Driver) newMedia(id string) *media {
	m := &media{d: d, id: id, format: d.cfg.Format, mode: d.cfg.Media, out: make(chan []byte, 50),
		connected: make(chan struct{}), closed: make(chan struct{})}
	m.rx = audio.NewReceiver(audio.ReceiverConfig{Format: d.cfg.Format, Depth: d.cfg.JitterDepth, Slack: d.cfg.ReadSlack})
	d.pacer.Add(m.rx)
	if d.cfg.Media == MediaBroadcast {
		m.bc = newBroadcast(m)
		d.wg.Add(1)
		go m.bc.run()
	} else if st, err := d.group.NewPlayout(audio.PlayoutConfig{Value: m}); err == nil {
		m.stream = st
	}
	d.mu.Lock()
	d.sessions[id] = m
	d.mu.Unlock()
	return m
}

func (d *Driver) dropMedia(id string) {
	d.mu.Lock()
	m := d.sessions[id]
	delete(d.sessions, id)
	d.mu.Unlock()
	if m != nil {
		m.close()
	}
}

// SendBatch implements audio.BatchSender: the tick's unicast frames go out in one sendmmsg batch on the shared
// socket; each stream-mode frame goes to its call's WebSocket writer without blocking.
func (d *Driver) SendBatch(_ time.Time, out []audio.Outgoing) {
	var batch []unicastOut
	for _, o := range out {
		m, ok := o.Playout.Value().(*media)
		if !ok {
			continue
		}
		if m.uc != nil {
			if p, ok := m.uc.outgoing(o.Frame); ok {
				if batch == nil {
					batch = d.ucBatch[:0]
				}
				batch = append(batch, p)
			}
			continue
		}
		if n := m.streamSent.Add(1); n == uint64(d.cfg.StreamAckAfter/audio.FrameDuration) && m.mode == MediaStream && !m.acked.Load() {
			m.d.log.Warn().Str("call", m.id).Dur("sent", d.cfg.StreamAckAfter).
				Msg("esl: the audio-stream module has not acknowledged the bot's audio: if it is the open-source mod_audio_stream, it ignores what is sent back and the callee hears nothing; use esl.MediaUnicast (FS_MEDIA=unicast) or esl.MediaBroadcast (FS_MEDIA=broadcast)")
		}
		b := audio.AppendPCM16LE(make([]byte, 0, 2*len(o.Frame.Samples)), o.Frame.Samples)
		select {
		case m.out <- b:
		default:
			m.outDropped.Add(1)
		}
	}
	if len(batch) > 0 {
		d.uc.send(batch)
		clear(batch)
		d.ucBatch = batch[:0]
	}
}

// eslCall is one answered call.
type eslCall struct {
	d       *Driver
	id      string
	api     func(ctx context.Context, cmd string) (string, error) // the client's, or the outbound socket's
	sendmsg func(ctx context.Context, h map[string]string) error  // sendmsg to this channel, likewise
	// readRate is the channel's read codec rate from its CHANNEL_ANSWER; 0 when not seen
	readRate int
	evs      <-chan *Event   // this channel's events
	release  func()          // stops evs
	gone     <-chan struct{} // outbound: the socket closed; nil otherwise
	media    *media
	log      zerolog.Logger

	events   chan call.Event
	notes    chan note     // events the call itself produces (transfer), merged in order by pump
	bridgeEv chan struct{} // a CHANNEL_BRIDGE of the callee, for Transfer
	done     chan struct{} // closed at hangup
	lost     chan struct{} // closed when a resync finds the channel gone (its hangup event was lost)
	lostOnce sync.Once

	mu     sync.Mutex
	byUs   bool
	ended  bool
	hangEv call.Event
}

// note is an event the call produces itself; end: the call leaves the bot with it; agent: the bridged agent's
// events, which the call watches from then on.
type note struct {
	ev    call.Event
	end   bool
	agent *Subscription
}

func (c *eslCall) ID() string                { return c.id }
func (c *eslCall) Media() call.Media         { return c.media }
func (c *eslCall) Events() <-chan call.Event { return c.events }

// pump turns the channel's ESL events into call events, in order, until hangup.
func (c *eslCall) pump() {
	defer c.d.wg.Done()
	defer close(c.events)
	var agent *Subscription // the bridged agent, once transferred
	var agentEvs <-chan *Event
	finish := func(ev call.Event) {
		if agent != nil {
			// A uuid_bridge'd agent may outlive the callee (parked): end it with the call.
			a := agent
			c.d.wg.Add(1)
			go func() {
				defer c.d.wg.Done()
				kctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, _ = c.d.c.API(kctx, "uuid_kill "+a.key)
				cancel()
				a.Close()
			}()
		}
		c.mu.Lock()
		c.ended = true
		ev.Remote = !c.byUs
		c.mu.Unlock()
		close(c.done)
		c.d.mu.Lock()
		delete(c.d.calls, c.id)
		c.d.mu.Unlock()
		c.d.dropMedia(c.id)
		c.release()
		c.emit(ev)
	}
	for {
		select {
		case <-c.gone:
			// The socket closed; its last events (the hangup among them) may still be queued.
			ev := call.Event{Type: call.EventHangup, Time: time.Now(), Detail: "event socket closed"}
			for drained := false; !drained; {
				select {
				case e := <-c.evs:
					if e.Name() == "CHANNEL_HANGUP_COMPLETE" {
						ev.Cause, _ = CauseFromName(e.Get("Hangup-Cause"))
						ev.Time, ev.Detail = eventTime(e), e.Get("Hangup-Cause")
					}
				default:
					drained = true
				}
			}
			finish(ev)
			return
		case ev, ok := <-c.evs:
			if !ok {
				finish(call.Event{Type: call.EventHangup, Time: time.Now(), Detail: "esl client closed"})
				return
			}
			switch ev.Name() {
			case "DTMF":
				digit := []rune(ev.Get("DTMF-Digit"))
				if len(digit) == 0 {
					continue
				}
				samples, _ := strconv.Atoi(ev.Get("DTMF-Duration"))
				c.emit(call.Event{Type: call.EventDTMF, Time: eventTime(ev), Digit: digit[0],
					Length: time.Duration(samples) * time.Second / 8000})
			case "CHANNEL_HANGUP_COMPLETE":
				cause, _ := CauseFromName(ev.Get("Hangup-Cause"))
				finish(call.Event{Type: call.EventHangup, Time: eventTime(ev), Cause: cause, Detail: ev.Get("Hangup-Cause")})
				return
			case "CHANNEL_BRIDGE":
				select {
				case c.bridgeEv <- struct{}{}:
				default:
				}
			case "CUSTOM":
				// A module that plays what is sent back announces it (mod_audio_stream's bidirectional builds:
				// mod_audio_stream::play); the open-source one never does.
				if strings.HasSuffix(ev.Subclass(), "::play") {
					c.media.acked.Store(true)
				}
			case "PLAYBACK_START", "PLAYBACK_STOP":
				if c.media.bc != nil {
					c.media.bc.playbackEvent(ev, time.Now())
				}
			}
		case ev, ok := <-agentEvs:
			if !ok {
				agentEvs = nil
				continue
			}
			if ev.Name() == "CHANNEL_HANGUP_COMPLETE" {
				// The agent left: the callee must not stay in dead air.
				agentEvs = nil
				c.d.wg.Add(1)
				go func() {
					defer c.d.wg.Done()
					kctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_, _ = c.api(kctx, "uuid_kill "+c.id+" NORMAL_CLEARING")
					cancel()
				}()
			}
		case n := <-c.notes:
			if n.agent != nil {
				agent, agentEvs = n.agent, n.agent.Events()
			}
			c.emit(n.ev)
			if n.end {
				finish(call.Event{Type: call.EventHangup, Time: n.ev.Time, Cause: call.CauseNormal, Detail: "transferred"})
				return
			}
		case <-c.lost:
			finish(call.Event{Type: call.EventHangup, Time: time.Now(), Detail: "channel gone after reconnect"})
			return
		case <-c.d.ctx.Done():
			finish(call.Event{Type: call.EventHangup, Time: time.Now(), Detail: "driver closed"})
			return
		}
	}
}

// emit delivers ev without ever blocking the pump: when the application has left 64 events unread, a new event
// is dropped (logged), except the final hangup, which evicts the oldest so the call's end is always seen.
func (c *eslCall) emit(ev call.Event) {
	select {
	case c.events <- ev:
		return
	default:
	}
	if ev.Type == call.EventHangup {
		select {
		case <-c.events:
		default:
		}
		select {
		case c.events <- ev:
		default:
		}
	}
	c.log.Warn().Stringer("event", ev.Type).Msg("esl: call events not read; event dropped")
}

func eventTime(ev *Event) time.Time {
	if us, err := strconv.ParseInt(ev.Get("Event-Date-Timestamp"), 10, 64); err == nil {
		return time.UnixMicro(us)
	}
	return time.Now()
}

func (c *eslCall) isEnded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended
}

// Hangup ends the call with cause (uuid_kill).
func (c *eslCall) Hangup(ctx context.Context, cause call.Cause) error {
	if c.isEnded() {
		return call.ErrHungUp
	}
	c.mu.Lock()
	c.byUs = true
	c.mu.Unlock()
	_, err := c.api(ctx, "uuid_kill "+c.id+" "+CauseName(cause))
	if err != nil {
		var e *Error
		if errors.As(err, &e) && strings.Contains(strings.ToLower(e.Reply), "no such channel") {
			return fmt.Errorf("esl: hangup: %w", call.ErrHungUp)
		}
		if c.gone != nil && errors.Is(err, ErrDisconnected) {
			return nil // outbound socket: FreeSWITCH closes it as the channel goes, sometimes before the reply
		}
		return err
	}
	return nil
}

// SendDTMF plays digits to the callee (uuid_send_dtmf).
func (c *eslCall) SendDTMF(ctx context.Context, digits string) error {
	if c.isEnded() {
		return call.ErrHungUp
	}
	for _, r := range digits {
		if !strings.ContainsRune("0123456789*#ABCDabcdwW", r) {
			return fmt.Errorf("esl: send dtmf: %w: digit %q", ErrConfig, r)
		}
	}
	_, err := c.api(ctx, "uuid_send_dtmf "+c.id+" "+digits)
	return err
}

// Transfer hands the callee to a dialplan extension (uuid_transfer) or to an agent endpoint, which is originated
// and then bridged (uuid_bridge). The bot's media ends either way.
func (c *eslCall) Transfer(ctx context.Context, to call.Target) error {
	if c.isEnded() {
		return call.ErrHungUp
	}
	var detail string
	var agentSub *Subscription
	switch {
	case to.Endpoint != "":
		if strings.ContainsAny(to.Endpoint, " \r\n") {
			return fmt.Errorf("esl: transfer: %w: endpoint %q", ErrConfig, to.Endpoint)
		}
		agent := NewUUID()
		timeout := to.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		vars := map[string]string{"origination_uuid": agent, "ignore_early_media": "true",
			"originate_timeout": strconv.Itoa(int((timeout + time.Second - 1) / time.Second))}
		if to.CallerID != "" {
			name, num := splitCallerID(to.CallerID)
			vars["origination_caller_id_number"] = num
			if name != "" {
				vars["origination_caller_id_name"] = name
			}
		}
		// Watch the agent from before it exists: its hang-up must end the call, and the call's end must end it.
		asub := c.d.c.Subscribe(agent)
		killAgent := func() {
			kctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _ = c.d.c.API(kctx, "uuid_kill "+agent)
			cancel()
			asub.Close()
		}
		if _, err := c.d.c.BgAPI(ctx, "originate "+EncodeVars(vars)+to.Endpoint+" &park()"); err != nil {
			asub.Close()
			var e *Error
			if errors.As(err, &e) {
				cause := e.Cause()
				return &call.Error{Outcome: outcomeOfCause(cause), Cause: cause, Detail: "agent: " + e.Reply, Err: err}
			}
			return &call.Error{Outcome: call.OutcomeOfError(err), Detail: "agent", Err: err}
		}
		for drained := false; !drained; { // a bridge event of an earlier attempt must not stand for this one
			select {
			case <-c.bridgeEv:
			default:
				drained = true
			}
		}
		if _, err := c.api(ctx, "uuid_bridge "+c.id+" "+agent); err != nil {
			killAgent()
			return fmt.Errorf("esl: transfer: bridge: %w", err)
		}
		// uuid_bridge answers +OK before the bridge is made, in the channels' state machines; a leg that hangs up
		// in between leaves the other one parked for good (seen on FreeSWITCH 1.10.12). Wait for CHANNEL_BRIDGE.
		t := time.NewTimer(5 * time.Second)
		select {
		case <-c.bridgeEv:
			t.Stop()
		case <-t.C:
			killAgent()
			return fmt.Errorf("esl: transfer: no CHANNEL_BRIDGE within 5 s of uuid_bridge")
		case <-c.done:
			t.Stop()
			killAgent()
			return fmt.Errorf("esl: transfer: %w", call.ErrHungUp)
		case <-ctx.Done():
			t.Stop()
			killAgent()
			return ctx.Err()
		}
		agentSub = asub
		detail = redactEndpoint(to.Endpoint)
	case to.Extension != "":
		ctxName := to.Context
		if ctxName == "" {
			ctxName = "default"
		}
		if strings.ContainsAny(to.Extension+ctxName, " \r\n") {
			return fmt.Errorf("esl: transfer: %w: extension %q", ErrConfig, to.Extension)
		}
		if _, err := c.api(ctx, "uuid_transfer "+c.id+" "+to.Extension+" XML "+ctxName); err != nil {
			return fmt.Errorf("esl: transfer: %w", err)
		}
		detail = to.Extension + "@" + ctxName
	default:
		return fmt.Errorf("esl: transfer: %w: target has neither Endpoint nor Extension", ErrConfig)
	}
	c.media.close()
	// A channel sent to the dialplan has left the bot for good (as a callee continued out of Stasis on Asterisk):
	// the call ends here for the application, with the channel left up. A bridged agent keeps the call watched.
	n := note{ev: call.Event{Type: call.EventTransferred, Time: time.Now(), Detail: detail}, end: to.Endpoint == "", agent: agentSub}
	select {
	case c.notes <- n:
	case <-c.done:
		if agentSub != nil {
			agentSub.Close()
		}
	}
	return nil
}

// resync runs after a reconnect: events sent while the socket was down are lost, so each live call asks
// FreeSWITCH whether its channel still exists, and ends if not.
func (d *Driver) resync() {
	d.mu.Lock()
	calls := make([]*eslCall, 0, len(d.calls))
	for _, c := range d.calls {
		calls = append(calls, c)
	}
	d.mu.Unlock()
	if len(calls) == 0 {
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for _, c := range calls {
			ctx, cancel := context.WithTimeout(d.ctx, 5*time.Second)
			out, err := d.c.API(ctx, "uuid_exists "+c.id)
			cancel()
			if err == nil && strings.TrimSpace(out) == "false" {
				c.log.Warn().Msg("esl: channel gone after reconnect; ending the call")
				c.lostOnce.Do(func() { close(c.lost) })
			}
		}
	}()
}

// Attach turns an outbound-mode connection (one channel that FreeSWITCH connected to a Server, e.g. after
// `originate ... &socket(host:port async full)`) into a call.Call: it sends connect (unless already done), myevents
// and linger, then starts the audio stream as Dial does. The call's events and commands go over that socket; the
// call ends at CHANNEL_HANGUP_COMPLETE or when the socket closes.
func (d *Driver) Attach(ctx context.Context, oc *OutboundConn) (call.Call, error) {
	if oc.UniqueID() == "" {
		if _, err := oc.Connect(ctx); err != nil {
			return nil, &call.Error{Outcome: call.Failed, Detail: "connect", Err: err}
		}
	}
	if err := oc.MyEvents(ctx); err != nil {
		return nil, &call.Error{Outcome: call.Failed, Detail: "myevents", Err: err}
	}
	if err := oc.Linger(ctx); err != nil {
		return nil, &call.Error{Outcome: call.Failed, Detail: "linger", Err: err}
	}
	id := oc.UniqueID()
	if id == "" || strings.ContainsAny(id, " /\r\n") {
		return nil, &call.Error{Outcome: call.Failed, Detail: "channel has no usable Unique-ID", Err: ErrMalformed}
	}
	m := d.newMedia(id)
	sendmsg := func(ctx context.Context, h map[string]string) error { return oc.SendMsg(ctx, h, nil) }
	c := d.newCall(id, m, oc.API, sendmsg, oc.Events(), func() {}, oc.cn.done, d.log.With().Str("call", id).Logger())
	if m.mode == MediaUnicast {
		// Unicast runs in the park loop only; a socket-controlled channel parks when told to.
		if err := oc.Execute(ctx, "park", ""); err != nil {
			kctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = c.Hangup(kctx, call.CauseNormal)
			cancel()
			return nil, &call.Error{Outcome: call.Failed, Detail: "park", Err: err}
		}
	}
	return d.startMedia(ctx, c)
}

// safeToken reports whether s can stand as one word of a command (a uuid, a variable name): letters, digits and
// "_-.:@" only.
func safeToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("_-.:@", r):
		default:
			return false
		}
	}
	return true
}
