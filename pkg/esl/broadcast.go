package esl

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
)

// MediaMode chooses how a Driver carries a call's audio between FreeSWITCH and this process.
type MediaMode int

// Media modes.
const (
	// MediaUnicast carries both directions as raw L16 over UDP with FreeSWITCH's built-in unicast (`sendmsg`
	// call-command unicast, src/switch_ivr.c): no third-party module. Every call shares the driver's one UDP
	// socket; FreeSWITCH binds a port of DriverConfig.UnicastPorts per call. The channel must be parked while the
	// bot talks (DriverConfig.App "&park()", the default). The default.
	MediaUnicast MediaMode = iota
	// MediaStream carries the callee's audio over the audio-stream module's WebSocket (mod_audio_stream) and
	// sends the bot's audio back over it (the module's bidirectional mode), paced by the playout clock. Barge-in
	// drops what the clock has not sent yet. The open-source mod_audio_stream ignores what is sent back: the
	// callee then hears nothing (see MediaBroadcast and MediaUnicast).
	MediaStream
	// MediaBroadcast carries the callee's audio over the audio-stream WebSocket and serves the bot's audio as WAV
	// segments on the media listener, played with `uuid_broadcast <uuid> playback::<url> aleg`; barge-in is
	// `uuid_break <uuid> all`. For audio-stream modules without a bidirectional mode. FreeSWITCH must play
	// http:// URLs (mod_http_cache with its enable-file-formats param set, or mod_httapi) and reach
	// DriverConfig.PlaybackURL.
	MediaBroadcast
)

// String returns "stream", "broadcast" or "unicast".
func (p MediaMode) String() string {
	switch p {
	case MediaStream:
		return "stream"
	case MediaBroadcast:
		return "broadcast"
	case MediaUnicast:
		return "unicast"
	}
	return "MediaMode(" + strconv.Itoa(int(p)) + ")"
}

// ParseMediaMode reads "unicast", "stream" or "broadcast" (FS_MEDIA).
func ParseMediaMode(s string) (MediaMode, error) {
	for _, m := range []MediaMode{MediaUnicast, MediaStream, MediaBroadcast} {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("%w: media %q (want unicast, stream or broadcast)", ErrConfig, s)
}

const (
	// pauseCut: a segment is published once Write has paused this long (the end of a prompt).
	pauseCut = 2 * audio.FrameDuration
	// playLead is how far beyond one segment Write may run ahead of the estimated playback, so that the next
	// segment is published while the current one still has this much left to play.
	playLead = 200 * time.Millisecond
	// keepUnconfirmed is how long past its estimated end a segment is still served when no PLAYBACK_STOP says
	// it was played (events not delivered, FreeSWITCH running late).
	keepUnconfirmed = 10 * time.Second
	// playCommandTimeout bounds uuid_broadcast and uuid_break.
	playCommandTimeout = 5 * time.Second
)

func (cfg *DriverConfig) fillPlayback() error {
	switch cfg.Media {
	case MediaUnicast, MediaStream, MediaBroadcast:
	default:
		return fmt.Errorf("%w: Media %v", ErrConfig, cfg.Media)
	}
	if cfg.FirstSegment <= 0 {
		cfg.FirstSegment = 300 * time.Millisecond
	}
	if cfg.Segment <= 0 {
		cfg.Segment = time.Second
	}
	if cfg.PlaybackURL != "" {
		u, err := url.Parse(cfg.PlaybackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" ||
			u.Fragment != "" || strings.ContainsAny(cfg.PlaybackURL, " \r\n") {
			return fmt.Errorf("%w: PlaybackURL %q (want http://host:port[/path])", ErrConfig, cfg.PlaybackURL)
		}
	}
	return nil
}

// segment is a published piece of the bot's audio: served as a WAV until played, then deleted.
type segment struct {
	seq uint64
	url string // as given to uuid_broadcast, and as PLAYBACK_START/STOP name it in Playback-File-Path
	wav []byte
	dur time.Duration

	// Playback timing, guarded by broadcast.mu.
	issued     time.Time // the uuid_broadcast reply: FreeSWITCH has queued it; zero while the command runs
	start      time.Time // when it began playing: estimated, or from PLAYBACK_START
	end        time.Time // PLAYBACK_STOP; zero until then
	heardStart bool      // start came from PLAYBACK_START
	stopped    bool      // PLAYBACK_STOP came
	done       bool      // and said Playback-Status: done
}

// newSegment renders samples (mono at rate) as a WAV named seq under prefix.
func newSegment(prefix string, seq uint64, rate int, samples []int16) (*segment, error) {
	wav, err := audio.EncodeWAV(rate, 1, audio.WAVPCM16, samples)
	if err != nil {
		return nil, err
	}
	return &segment{seq: seq, url: prefix + strconv.FormatUint(seq, 10) + ".wav", wav: wav,
		dur: audio.Format{Rate: rate}.Duration(len(samples))}, nil
}

// endOf is when sg stopped or is expected to stop.
func (sg *segment) endOf() time.Time {
	if sg.stopped {
		return sg.end
	}
	return sg.start.Add(sg.dur)
}

// playedAt estimates how much of sg the callee had heard at now.
func (sg *segment) playedAt(now time.Time) time.Duration {
	switch {
	case sg.stopped && sg.done:
		return sg.dur
	case sg.stopped && !sg.heardStart:
		return 0 // stopped before it started: the fetch failed or a break discarded it
	case sg.stopped:
		return min(max(sg.end.Sub(sg.start), 0), sg.dur)
	case sg.issued.IsZero():
		return 0
	}
	return min(max(now.Sub(sg.start), 0), sg.dur)
}

// broadcast is the MediaBroadcast half of a call's media: Write gathers frames into segments, each published
// with uuid_broadcast; Flush breaks them.
type broadcast struct {
	m      *media
	log    zerolog.Logger
	token  string // random, per call: a segment's URL cannot be guessed from another call's
	prefix string // <PlaybackURL>/play/<call id>/<token>/
	first  time.Duration
	seg    time.Duration
	ctx    context.Context // ends with the call's media
	cancel context.CancelFunc
	kick   chan struct{} // a Write left frames pending: re-arm the pause timer
	wake   chan struct{} // the playback estimate moved (Flush, PLAYBACK_START/STOP): a pacing Write re-checks

	broadcasts atomic.Uint64
	breaks     atomic.Uint64
	fetches    atomic.Uint64

	pubMu sync.Mutex // serializes publish and flush: broadcasts go out in order, a break after them

	mu        sync.Mutex
	api       func(ctx context.Context, cmd string) (string, error)
	pending   []int16   // frames not published yet
	pendFirst bool      // the pending segment started while nothing played: it is cut at first
	lastWrite time.Time // of the last Write
	pacing    bool      // a Write waits for playback to catch up: not a pause
	seq       uint64
	inflight  *segment            // being published (uuid_broadcast sent, no reply yet)
	queue     []*segment          // published since the last Flush, oldest first, until played
	played    time.Duration       // of the segments played out of queue since the last Flush
	served    map[uint64]*segment // what FreeSWITCH may fetch
	err       error               // a failure off the Write path (pause cut, Flush), returned by the next Write
	closed    bool
}

func newBroadcast(m *media) *broadcast {
	ctx, cancel := context.WithCancel(m.d.ctx)
	token := rand.Text()
	return &broadcast{m: m, log: m.d.log.With().Str("call", m.id).Logger(), token: token,
		prefix: m.d.cfg.PlaybackURL + "/play/" + url.PathEscape(m.id) + "/" + token + "/",
		first:  m.d.cfg.FirstSegment, seg: m.d.cfg.Segment, ctx: ctx, cancel: cancel,
		kick: make(chan struct{}, 1), wake: make(chan struct{}, 1), served: map[uint64]*segment{}}
}

// setAPI gives the call's command path (the client's, or an outbound socket's) once the call exists.
func (b *broadcast) setAPI(api func(context.Context, string) (string, error)) {
	b.mu.Lock()
	b.api = api
	b.mu.Unlock()
}

func (b *broadcast) close() {
	b.cancel()
	b.mu.Lock()
	b.closed = true
	b.pending, b.queue, b.inflight = nil, nil, nil
	clear(b.served)
	b.mu.Unlock()
}

// run cuts a segment when writes pause and stops serving segments long past their play time, until the call's
// media ends.
func (b *broadcast) run() {
	defer b.m.d.wg.Done()
	t := time.NewTimer(time.Second)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.kick:
		case <-t.C:
		}
		now := time.Now()
		next := time.Second
		b.mu.Lock()
		b.fold(now)
		cut := false
		if len(b.pending) > 0 && b.pacing {
			next = pauseCut
		} else if len(b.pending) > 0 {
			if idle := now.Sub(b.lastWrite); idle >= pauseCut {
				cut = true
			} else {
				next = pauseCut - idle
			}
		}
		b.mu.Unlock()
		if cut {
			if err := b.publish(); err != nil {
				b.fail(err)
			}
		}
		t.Reset(next)
	}
}

// write adds f to the pending segment once playback is close enough, and publishes the segment when full.
func (b *broadcast) write(ctx context.Context, f audio.Frame) error {
	limit := max(b.first, b.seg) + playLead
	fd := f.Duration()
	for {
		now := time.Now()
		b.mu.Lock()
		if err := b.err; err != nil {
			b.err = nil
			b.mu.Unlock()
			return err
		}
		if b.closed {
			b.mu.Unlock()
			return fmt.Errorf("esl: write: %w", call.ErrHungUp)
		}
		b.fold(now)
		ahead := b.ahead(now)
		wait := ahead + fd - limit
		if ahead == 0 { // a frame longer than the limit still goes
			wait = 0
		}
		b.pacing = wait > 0
		b.mu.Unlock()
		if wait <= 0 {
			break
		}
		if err := b.sleep(ctx, wait); err != nil {
			b.mu.Lock()
			b.pacing = false
			b.lastWrite = time.Now() // a writer stopped for barge-in: leave Flush time to drop the pending frames
			b.mu.Unlock()
			return err
		}
	}
	now := time.Now()
	b.mu.Lock()
	if len(b.pending) == 0 {
		b.pendFirst = !b.queuedEnd().After(now)
	}
	b.pending = append(b.pending, f.Samples...)
	b.lastWrite = now
	target := b.seg
	if b.pendFirst {
		target = b.first
	}
	full := b.m.format.Duration(len(b.pending)) >= target
	b.mu.Unlock()
	if full {
		return b.publish()
	}
	select {
	case b.kick <- struct{}{}:
	default:
	}
	return nil
}

// sleep waits d, or less when the playback estimate moves.
func (b *broadcast) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-b.wake:
	case <-b.m.closed:
		return fmt.Errorf("esl: write: %w", call.ErrHungUp)
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// ahead is how much written audio has yet to play: the rest of the queued segments, the one being published and
// the pending frames. b.mu is held.
func (b *broadcast) ahead(now time.Time) time.Duration {
	d := b.m.format.Duration(len(b.pending))
	if b.inflight != nil {
		d += b.inflight.dur
	}
	if end := b.queuedEnd(); end.After(now) {
		d += end.Sub(now)
	}
	return d
}

// queuedEnd is when the queued segments are expected to have played; zero when none is queued. b.mu is held.
func (b *broadcast) queuedEnd() time.Time {
	if len(b.queue) == 0 {
		return time.Time{}
	}
	return b.queue[len(b.queue)-1].endOf()
}

// publish serves the pending frames as the next segment and asks FreeSWITCH to play it after those queued.
func (b *broadcast) publish() error {
	b.pubMu.Lock()
	defer b.pubMu.Unlock()
	b.mu.Lock()
	if len(b.pending) == 0 || b.api == nil || b.closed {
		b.mu.Unlock()
		return nil
	}
	sg, err := newSegment(b.prefix, b.seq+1, b.m.format.Rate, b.pending)
	if err != nil {
		b.mu.Unlock()
		return fmt.Errorf("esl: write: segment: %w", err)
	}
	b.seq++
	b.pending = nil
	b.served[sg.seq] = sg // before the command: FreeSWITCH may fetch it before we see the reply
	b.inflight = sg
	api := b.api
	b.mu.Unlock()

	ctx, cancel := context.WithTimeout(b.ctx, playCommandTimeout)
	_, err = api(ctx, "uuid_broadcast "+b.m.id+" playback::"+sg.url+" aleg")
	cancel()
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inflight = nil
	if err != nil {
		delete(b.served, sg.seq)
		return fmt.Errorf("esl: write: uuid_broadcast: %w", err)
	}
	if b.closed {
		return nil
	}
	b.broadcasts.Add(1)
	sg.issued = now
	if !sg.heardStart {
		sg.start = now
		if end := b.queuedEnd(); end.After(now) {
			sg.start = end // FreeSWITCH plays queued broadcasts back to back
		}
	}
	b.queue = append(b.queue, sg)
	return nil
}

// flush breaks the playing segment and the queued ones, drops the pending frames, and returns how much played
// since the previous flush.
func (b *broadcast) flush() time.Duration {
	b.pubMu.Lock()
	defer b.pubMu.Unlock()
	b.mu.Lock()
	b.pending, b.pendFirst = nil, false
	live := false
	for _, sg := range b.queue {
		live = live || !sg.stopped
	}
	api := b.api
	b.mu.Unlock()
	var err error
	if live && api != nil {
		ctx, cancel := context.WithTimeout(b.ctx, playCommandTimeout)
		_, err = api(ctx, "uuid_break "+b.m.id+" all")
		cancel()
		b.breaks.Add(1)
	}
	now := time.Now()
	b.mu.Lock()
	played := b.played
	for _, sg := range b.queue {
		played += sg.playedAt(now)
		delete(b.served, sg.seq) // stopped or discarded by the break
	}
	b.queue, b.played = nil, 0
	b.mu.Unlock()
	if err != nil && b.ctx.Err() == nil {
		b.fail(fmt.Errorf("esl: flush: uuid_break: %w", err))
	}
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return played
}

// fail keeps err for the next Write, the first caller able to return it.
func (b *broadcast) fail(err error) {
	if b.ctx.Err() != nil {
		return // the call's media ended; Write reports that
	}
	b.log.Warn().Err(err).Msg("esl: broadcast playback")
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.mu.Unlock()
}

// fold moves the played segments at the head of the queue into b.played and stops serving them. A segment is
// played at its PLAYBACK_STOP or, without one, keepUnconfirmed after its estimated end. b.mu is held.
func (b *broadcast) fold(now time.Time) {
	for len(b.queue) > 0 {
		sg := b.queue[0]
		if !sg.stopped && now.Before(sg.endOf().Add(keepUnconfirmed)) {
			return
		}
		b.played += sg.playedAt(now)
		delete(b.served, sg.seq)
		b.queue[0] = nil
		b.queue = b.queue[1:]
	}
}

// playbackEvent corrects the timing of one of the call's segments from PLAYBACK_START or PLAYBACK_STOP received at
// at. Playbacks of other files on the channel are ignored.
func (b *broadcast) playbackEvent(ev *Event, at time.Time) {
	path := ev.Get("Playback-File-Path")
	name, ok := strings.CutPrefix(path, b.prefix)
	if !ok {
		return
	}
	seq, err := strconv.ParseUint(strings.TrimSuffix(name, ".wav"), 10, 64)
	if err != nil {
		return
	}
	b.mu.Lock()
	sg := b.served[seq]
	if sg == nil || sg.url != path {
		b.mu.Unlock()
		return
	}
	switch ev.Name() {
	case "PLAYBACK_START":
		sg.start, sg.heardStart = at, true
	case "PLAYBACK_STOP":
		sg.end, sg.stopped = at, true
		sg.done = strings.EqualFold(ev.Get("Playback-Status"), "done")
		delete(b.served, seq)
	}
	for i, q := range b.queue {
		if q == sg {
			b.reflow(i)
			break
		}
	}
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// reflow re-estimates the start of the segments queued after queue[i], whose timing changed. b.mu is held.
func (b *broadcast) reflow(i int) {
	for j := i + 1; j < len(b.queue); j++ {
		sg := b.queue[j]
		if sg.heardStart || sg.stopped {
			continue
		}
		sg.start = sg.issued
		if end := b.queue[j-1].endOf(); end.After(sg.start) {
			sg.start = end
		}
	}
}

// servePlay serves GET /play/{id}/{token}/{seq}.wav: a segment of a call in MediaBroadcast mode, until it has
// played. Anything else, another call's token included, is 404.
func (d *Driver) servePlay(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	m := d.sessions[r.PathValue("id")]
	d.mu.Unlock()
	if m == nil || m.bc == nil {
		http.NotFound(w, r)
		return
	}
	b := m.bc
	name, ok := strings.CutSuffix(r.PathValue("file"), ".wav")
	seq, err := strconv.ParseUint(name, 10, 64)
	if !ok || err != nil || subtle.ConstantTimeCompare([]byte(r.PathValue("token")), []byte(b.token)) != 1 {
		http.NotFound(w, r)
		return
	}
	b.mu.Lock()
	sg := b.served[seq]
	b.mu.Unlock()
	if sg == nil {
		http.NotFound(w, r)
		return
	}
	b.fetches.Add(1)
	w.Header().Set("Content-Type", "audio/wav")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(sg.wav))
}
