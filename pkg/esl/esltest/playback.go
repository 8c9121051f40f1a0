package esltest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// play is one queued uuid_broadcast playback; guarded by fsCall.amu.
type play struct {
	idx     int    // in Call.Playbacks
	path    string // as given, after any playback:: prefix
	state   playState
	samples []int16 // mono, at rate, once fetched
	rate    int
	pos     int // samples played
	err     string
}

type playState int

const (
	playQueued   playState = iota // waiting its turn
	playFetching                  // the GET runs
	playReady                     // fetched and decoded
	playFailed                    // the GET or the WAV failed
)

// playUpdate is a change to a Call.Playbacks record, applied under Server.mu.
type playUpdate struct {
	idx int
	rec Playback
}

// broadcast queues path for playback to the channel, as `uuid_broadcast <uuid> <path> <leg>` does: the playback
// application (path "playback::<file>" or a bare file) is played; other applications are only recorded.
func (s *Server) broadcast(c *fsCall, path, leg string) {
	if app, arg, ok := strings.Cut(path, "::"); ok {
		if app != "playback" {
			s.log.Debug().Str("app", app).Msg("esltest: uuid_broadcast: application not simulated")
			return
		}
		path = arg
	}
	if leg == "bleg" { // the fake's channels have no other leg
		return
	}
	s.mu.Lock()
	idx := len(c.rec.Playbacks)
	c.rec.Playbacks = append(c.rec.Playbacks, Playback{Path: path})
	s.mu.Unlock()
	c.amu.Lock()
	c.plays = append(c.plays, &play{idx: idx, path: path})
	s.prefetch(c)
	c.amu.Unlock()
}

// prefetch starts fetching the playing file and the next one, as the playback application opens its file (with
// mod_http_cache downloading it) when its turn comes. c.amu is held.
func (s *Server) prefetch(c *fsCall) {
	for i := 0; i < len(c.plays) && i < 2; i++ {
		p := c.plays[i]
		if p.state != playQueued {
			continue
		}
		p.state = playFetching
		s.wg.Add(1)
		go s.fetch(c, p)
	}
}

// fetch loads p by HTTP GET and decodes its WAV. FreeSWITCH logs a file it cannot open and goes on.
func (s *Server) fetch(c *fsCall, p *play) {
	defer s.wg.Done()
	samples, rate, err := s.load(c.ctx, p.path)
	c.amu.Lock()
	if err != nil {
		p.state, p.err = playFailed, err.Error()
	} else {
		p.state, p.samples, p.rate = playReady, samples, rate
	}
	c.amu.Unlock()
	if err != nil && c.ctx.Err() == nil {
		s.log.Error().Str("call", c.rec.ID).Str("path", p.path).Err(err).Msg("esltest: playback: cannot open file")
	}
}

// load fetches an http:// (or http_cache://http://) WAV and returns it as mono samples.
func (s *Server) load(ctx context.Context, path string) ([]int16, int, error) {
	u := strings.TrimPrefix(path, "http_cache://")
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return nil, 0, fmt.Errorf("%s: only http:// URLs can be played (the fake has no file system)", path)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil, 0, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	w, err := audio.ReadWAV(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, 0, err
	}
	if w.Rate%50 != 0 {
		return nil, 0, fmt.Errorf("%d Hz: not a whole number of samples per 20 ms", w.Rate)
	}
	samples := w.Samples
	if w.Channels == 2 {
		samples = make([]int16, w.Frames())
		for i := range samples {
			samples[i] = int16((int32(w.Samples[2*i]) + int32(w.Samples[2*i+1])) / 2)
		}
	}
	return samples, w.Rate, nil
}

// playFrame takes the next 20 ms of the broadcast playing; played fires PLAYBACK_START at its first frame and
// PLAYBACK_STOP (done) after its last. ok is false when no broadcast is queued; f is nil (silence) while the file
// is being fetched.
func (s *Server) playFrame(c *fsCall) (f *audio.Frame, played func(), ok bool) {
	var evs []map[string]string
	var upd []playUpdate
	c.amu.Lock()
	ok = len(c.plays) > 0
	for f == nil && len(c.plays) > 0 {
		p := c.plays[0]
		if p.state == playQueued || p.state == playFetching {
			s.prefetch(c)
			break
		}
		if p.state == playFailed {
			c.plays = c.plays[1:]
			evs = append(evs, map[string]string{"Event-Name": "PLAYBACK_STOP", "Playback-File-Path": p.path,
				"Playback-Status": "error"})
			upd = append(upd, playUpdate{p.idx, Playback{Path: p.path, Status: "error", Error: p.err}})
			s.prefetch(c)
			continue
		}
		if p.pos == 0 {
			evs = append(evs, map[string]string{"Event-Name": "PLAYBACK_START", "Playback-File-Path": p.path})
		}
		n := p.rate / 50
		if p.pos < len(p.samples) {
			fr := make([]int16, n) // the last frame is padded with silence
			copy(fr, p.samples[p.pos:min(p.pos+n, len(p.samples))])
			f = &audio.Frame{Rate: p.rate, Samples: fr}
			p.pos = min(p.pos+n, len(p.samples))
		}
		if p.pos >= len(p.samples) {
			c.plays = c.plays[1:]
			evs = append(evs, map[string]string{"Event-Name": "PLAYBACK_STOP", "Playback-File-Path": p.path,
				"Playback-Status": "done"})
			upd = append(upd, playUpdate{p.idx, Playback{Path: p.path, Status: "done",
				Played: audio.Format{Rate: p.rate}.Duration(len(p.samples))}})
			s.prefetch(c)
		}
	}
	c.amu.Unlock()
	return f, func() { s.playDone(c, evs, upd) }, ok
}

// breakPlayback runs uuid_break: the playing broadcast stops (PLAYBACK_STOP, Playback-Status: break); with all
// the queued ones are discarded too, else the next one starts.
func (s *Server) breakPlayback(c *fsCall, all bool) {
	var evs []map[string]string
	var upd []playUpdate
	c.amu.Lock()
	c.rx = c.rx[:0]
	if len(c.plays) > 0 {
		p := c.plays[0]
		var played time.Duration
		if p.state == playReady && p.pos > 0 {
			played = audio.Format{Rate: p.rate}.Duration(p.pos)
			evs = append(evs, map[string]string{"Event-Name": "PLAYBACK_STOP", "Playback-File-Path": p.path,
				"Playback-Status": "break"})
		}
		upd = append(upd, playUpdate{p.idx, Playback{Path: p.path, Status: "break", Played: played}})
		c.plays = c.plays[1:]
		if all {
			for _, q := range c.plays {
				upd = append(upd, playUpdate{q.idx, Playback{Path: q.path, Status: "discarded"}})
			}
			c.plays = nil
		} else {
			s.prefetch(c)
		}
	}
	c.amu.Unlock()
	s.playDone(c, evs, upd)
}

// playDone records playback updates and fires their events, outside c.amu.
func (s *Server) playDone(c *fsCall, evs []map[string]string, upd []playUpdate) {
	if len(upd) > 0 {
		s.mu.Lock()
		for _, u := range upd {
			if u.idx < len(c.rec.Playbacks) {
				c.rec.Playbacks[u.idx] = u.rec
			}
		}
		s.mu.Unlock()
	}
	for _, h := range evs {
		name := h["Event-Name"]
		delete(h, "Event-Name")
		s.fire(chanEvent(name, c, h))
	}
}
