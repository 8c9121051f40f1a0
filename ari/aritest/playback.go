package aritest

import (
	"net/http"
	"strings"
	"time"
)

// playback is a simulated playback: it carries no audio, only the events and timing of one. Guarded by
// Server.mu.
type playback struct {
	id, media, target, app, state string
	end                           int64 // tick at which it finishes
	paused                        bool
	left                          int64 // ticks left while paused
	failed                        bool
}

func (pb *playback) json() Playback {
	return Playback{ID: pb.id, MediaURI: pb.media, TargetURI: pb.target, Language: "en", State: pb.state}
}

// mediaLength is how long the simulator pretends a media URI list plays; ok is false for an unknown scheme.
func mediaLength(media string) (d time.Duration, ok bool) {
	ok = true
	for _, m := range strings.Split(media, ",") {
		scheme, rest, _ := strings.Cut(m, ":")
		switch scheme {
		case "sound", "recording", "tone", "http", "https":
			d += time.Second
		case "digits", "characters":
			d += time.Duration(len(rest)) * 250 * time.Millisecond
		case "number":
			d += time.Duration(len(rest)) * 400 * time.Millisecond
		default:
			ok = false
		}
	}
	return d, ok
}

func (s *Server) playChannel(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	media := p.get("media")
	if media == "" {
		return 0, nil, errf(http.StatusBadRequest, "Missing parameter media")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, herr := s.inStasis(r.PathValue("id"))
	if herr != nil {
		return 0, nil, herr
	}
	if ch.state != "Up" && ch.kind == kindCallee {
		return 0, nil, errf(http.StatusPreconditionFailed, "Channel in invalid state")
	}
	return s.startPlayback(r, p, media, "channel:"+ch.id, ch.app)
}

func (s *Server) playBridge(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	media := p.get("media")
	if media == "" {
		return 0, nil, errf(http.StatusBadRequest, "Missing parameter media")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bridges[r.PathValue("id")]
	if b == nil {
		return 0, nil, errf(http.StatusNotFound, "Bridge not found")
	}
	return s.startPlayback(r, p, media, "bridge:"+b.id, b.app)
}

// startPlayback registers a playback and emits PlaybackStarted. Called with s.mu held.
func (s *Server) startPlayback(r *http.Request, p params, media, target, app string) (int, any, *httpError) {
	id := r.PathValue("playbackId")
	if id == "" {
		id = p.get("playbackId")
	}
	if id == "" {
		id = s.nextID()
	} else if !validID(id) {
		return 0, nil, errf(http.StatusBadRequest, "Invalid playback id %q", id)
	} else if s.plays[id] != nil {
		return 0, nil, errf(http.StatusConflict, "Playback with id %s already exists", id)
	}
	d, ok := mediaLength(media)
	pb := &playback{id: id, media: media, target: target, app: app, state: "playing", end: s.ticks + ticks(d), failed: !ok}
	s.plays[id] = pb
	ev := s.event("PlaybackStarted", app)
	ev["playback"] = pb.json()
	s.emit(app, ev)
	return http.StatusCreated, pb.json(), nil
}

// advancePlaybacks finishes playbacks whose time has come. Called with s.mu held.
func (s *Server) advancePlaybacks(now int64) {
	for _, pb := range s.plays {
		if !pb.paused && now >= pb.end {
			s.finishPlayback(pb)
		}
	}
	for _, rec := range s.recs {
		if rec.maxEnd > 0 && now >= rec.maxEnd {
			s.finishRecording(rec, "done")
		}
	}
}

func (s *Server) finishPlayback(pb *playback) {
	delete(s.plays, pb.id)
	pb.state = "done"
	if pb.failed {
		pb.state = "failed"
	}
	ev := s.event("PlaybackFinished", pb.app)
	ev["playback"] = pb.json()
	s.emit(pb.app, ev)
}

func (s *Server) getPlayback(_ http.ResponseWriter, r *http.Request, _ params) (int, any, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pb := s.plays[r.PathValue("id")]
	if pb == nil {
		return 0, nil, errf(http.StatusNotFound, "Playback not found")
	}
	return http.StatusOK, pb.json(), nil
}

func (s *Server) stopPlayback(_ http.ResponseWriter, r *http.Request, _ params) (int, any, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pb := s.plays[r.PathValue("id")]
	if pb == nil {
		return 0, nil, errf(http.StatusNotFound, "Playback not found")
	}
	pb.failed = false
	s.finishPlayback(pb)
	return http.StatusNoContent, nil, nil
}

func (s *Server) controlPlayback(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	op := p.get("operation")
	switch op {
	case "restart", "pause", "unpause", "reverse", "forward":
	case "":
		return 0, nil, errf(http.StatusBadRequest, "Missing parameter operation")
	default:
		return 0, nil, errf(http.StatusBadRequest, "Invalid operation %s", op)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pb := s.plays[r.PathValue("id")]
	if pb == nil {
		return 0, nil, errf(http.StatusNotFound, "Playback not found")
	}
	switch op {
	case "pause":
		if !pb.paused {
			pb.paused, pb.left = true, max(pb.end-s.ticks, 0)
		}
	case "unpause":
		if pb.paused {
			pb.paused, pb.end = false, s.ticks+pb.left
		}
	case "restart":
		d, _ := mediaLength(pb.media)
		pb.end = s.ticks + ticks(d)
	}
	return http.StatusNoContent, nil, nil
}

// recording is a simulated live recording: events and timing only. Guarded by Server.mu.
type recording struct {
	name, format, target, app string
	started, maxEnd           int64
}

func (rec *recording) json(state string, now int64) LiveRecording {
	return LiveRecording{Name: rec.name, Format: rec.format, State: state, TargetURI: rec.target,
		Duration: int((now - rec.started) / 50)}
}

var recordFormats = map[string]bool{"wav": true, "wav16": true, "gsm": true, "ulaw": true, "alaw": true, "sln": true, "sln16": true, "g722": true}

func (s *Server) recordChannel(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	name, format := p.get("name"), p.get("format")
	if name == "" {
		return 0, nil, errf(http.StatusBadRequest, "Recording name is required")
	}
	if format == "" {
		return 0, nil, errf(http.StatusBadRequest, "Recording format is required")
	}
	ifExists := p.get("ifExists")
	switch ifExists {
	case "", "fail", "overwrite", "append":
	default:
		return 0, nil, errf(http.StatusBadRequest, "ifExists invalid")
	}
	maxDur, herr := p.intParam("maxDurationSeconds", 0)
	if herr != nil {
		return 0, nil, herr
	}
	if strings.ContainsAny(name, "/\\") || strings.Contains(name, "..") {
		return 0, nil, errf(http.StatusBadRequest, "Invalid recording name %q", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, herr := s.inStasis(r.PathValue("id"))
	if herr != nil {
		return 0, nil, herr
	}
	if !recordFormats[format] {
		return 0, nil, errf(http.StatusUnprocessableEntity, "Recording format %s not supported", format)
	}
	if s.recs[name] != nil {
		return 0, nil, errf(http.StatusConflict, "Recording with the same name is already in progress")
	}
	rec := &recording{name: name, format: format, target: "channel:" + ch.id, app: ch.app, started: s.ticks}
	if maxDur > 0 {
		rec.maxEnd = s.ticks + int64(maxDur)*50
	}
	s.recs[name] = rec
	ev := s.event("RecordingStarted", rec.app)
	ev["recording"] = rec.json("recording", s.ticks)
	s.emit(rec.app, ev)
	return http.StatusCreated, rec.json("recording", s.ticks), nil
}

func (s *Server) recordBridge(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	name, format := p.get("name"), p.get("format")
	if name == "" || format == "" {
		return 0, nil, errf(http.StatusBadRequest, "Recording name and format are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bridges[r.PathValue("id")]
	if b == nil {
		return 0, nil, errf(http.StatusNotFound, "Bridge not found")
	}
	if !recordFormats[format] {
		return 0, nil, errf(http.StatusUnprocessableEntity, "Recording format %s not supported", format)
	}
	if s.recs[name] != nil {
		return 0, nil, errf(http.StatusConflict, "Recording with the same name is already in progress")
	}
	rec := &recording{name: name, format: format, target: "bridge:" + b.id, app: b.app, started: s.ticks}
	s.recs[name] = rec
	ev := s.event("RecordingStarted", rec.app)
	ev["recording"] = rec.json("recording", s.ticks)
	s.emit(rec.app, ev)
	return http.StatusCreated, rec.json("recording", s.ticks), nil
}

func (s *Server) finishRecording(rec *recording, state string) {
	delete(s.recs, rec.name)
	typ := "RecordingFinished"
	if state == "canceled" {
		typ = "RecordingFailed"
	}
	ev := s.event(typ, rec.app)
	ev["recording"] = rec.json(state, s.ticks)
	s.emit(rec.app, ev)
}

func (s *Server) getRecording(_ http.ResponseWriter, r *http.Request, _ params) (int, any, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.recs[r.PathValue("name")]
	if rec == nil {
		return 0, nil, errf(http.StatusNotFound, "Recording not found")
	}
	return http.StatusOK, rec.json("recording", s.ticks), nil
}

func (s *Server) stopRecording(_ http.ResponseWriter, r *http.Request, _ params) (int, any, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.recs[r.PathValue("name")]
	if rec == nil {
		return 0, nil, errf(http.StatusNotFound, "Recording not found")
	}
	s.finishRecording(rec, "done")
	return http.StatusNoContent, nil, nil
}

func (s *Server) cancelRecording(_ http.ResponseWriter, r *http.Request, _ params) (int, any, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.recs[r.PathValue("name")]
	if rec == nil {
		return 0, nil, errf(http.StatusNotFound, "Recording not found")
	}
	s.finishRecording(rec, "canceled")
	return http.StatusNoContent, nil, nil
}
