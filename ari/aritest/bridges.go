package aritest

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// bridge is a simulated mixing bridge. Guarded by Server.mu.
type bridge struct {
	id, name, typ string
	created       time.Time
	members       []*channel
	app           string // application that receives the bridge's events: the first member's
}

func (b *bridge) json() Bridge {
	ids := make([]string, 0, len(b.members))
	for _, m := range b.members {
		ids = append(ids, m.id)
	}
	return Bridge{
		ID: b.id, Technology: "simple_bridge", BridgeType: b.typ, BridgeClass: "stasis", Creator: "Stasis",
		Name: b.name, Channels: ids, CreationTime: stamp(b.created), VideoMode: "none",
	}
}

func (s *Server) bridgeEvent(typ string, b *bridge, ch *channel) Event {
	app := b.app
	if ch != nil {
		app = ch.app
	}
	ev := s.event(typ, app)
	ev["bridge"] = b.json()
	if ch != nil {
		ev["channel"] = ch.json()
	}
	return ev
}

func (s *Server) listBridges(http.ResponseWriter, *http.Request, params) (int, any, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Bridge, 0, len(s.bridges))
	for _, b := range s.bridges {
		out = append(out, b.json())
	}
	slices.SortFunc(out, func(a, b Bridge) int { return strings.Compare(a.CreationTime+a.ID, b.CreationTime+b.ID) })
	return http.StatusOK, out, nil
}

func (s *Server) getBridge(_ http.ResponseWriter, r *http.Request, _ params) (int, any, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bridges[r.PathValue("id")]
	if b == nil {
		return 0, nil, errf(http.StatusNotFound, "Bridge not found")
	}
	return http.StatusOK, b.json(), nil
}

// createBridge is POST /bridges and POST /bridges/{id}.
func (s *Server) createBridge(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	typ := p.get("type")
	if typ == "" {
		typ = "mixing"
	}
	for _, t := range strings.Split(typ, ",") {
		switch t {
		case "mixing", "holding", "dtmf_events", "proxy_media", "video_sfu", "video_single", "sdp_label":
		default:
			return 0, nil, errf(http.StatusBadRequest, "Invalid bridge type %q", t)
		}
	}
	id := r.PathValue("id")
	if id == "" {
		id = p.get("bridgeId")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == "" {
		id = s.nextID()
	} else if !validID(id) {
		return 0, nil, errf(http.StatusBadRequest, "Invalid bridge id %q", id)
	} else if s.bridges[id] != nil {
		return 0, nil, errf(http.StatusConflict, "Bridge with id %s already exists", id)
	}
	b := &bridge{id: id, name: p.get("name"), typ: typ, created: time.Now()}
	s.bridges[id] = b
	return http.StatusOK, b.json(), nil
}

func (s *Server) destroyBridge(_ http.ResponseWriter, r *http.Request, _ params) (int, any, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bridges[r.PathValue("id")]
	if b == nil {
		return 0, nil, errf(http.StatusNotFound, "Bridge not found")
	}
	for _, m := range slices.Clone(b.members) {
		s.leaveBridge(m)
	}
	delete(s.bridges, b.id)
	s.emit(b.app, s.bridgeEvent("BridgeDestroyed", b, nil))
	return http.StatusNoContent, nil, nil
}

// bridgeChannels resolves the channel parameter (a comma list) for add/removeChannel.
func (s *Server) bridgeChannels(r *http.Request, p params) (*bridge, []*channel, *httpError) {
	list := p.get("channel")
	if list == "" {
		return nil, nil, errf(http.StatusBadRequest, "Channel parameter is required")
	}
	b := s.bridges[r.PathValue("id")]
	if b == nil {
		return nil, nil, errf(http.StatusNotFound, "Bridge not found")
	}
	var chs []*channel
	for _, id := range strings.Split(list, ",") {
		ch := s.channels[strings.TrimSpace(id)]
		if ch == nil {
			return nil, nil, errf(http.StatusBadRequest, "Channel not found")
		}
		chs = append(chs, ch)
	}
	return b, chs, nil
}

func (s *Server) addChannel(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, chs, herr := s.bridgeChannels(r, p)
	if herr != nil {
		return 0, nil, herr
	}
	for _, ch := range chs {
		if !ch.stasis {
			return 0, nil, errf(http.StatusUnprocessableEntity, "Channel not in Stasis application")
		}
		if ch.bridge != nil && ch.bridge != b {
			return 0, nil, errf(http.StatusConflict, "Channel %s is already in a bridge", ch.id)
		}
	}
	for _, ch := range chs {
		if ch.bridge == b {
			continue
		}
		if b.app == "" {
			b.app = ch.app
		}
		ch.bridge = b
		b.members = append(b.members, ch)
		s.emit(ch.app, s.bridgeEvent("ChannelEnteredBridge", b, ch))
	}
	s.noteTransfer(b)
	return http.StatusNoContent, nil, nil
}

// noteTransfer records a transfer when a bridge joins the channels of two calls: the earlier call's callee was
// handed to the later call's party (a human agent).
func (s *Server) noteTransfer(b *bridge) {
	var calls []*simCall
	for _, m := range b.members {
		if m.kind == kindCallee && m.call != nil {
			calls = append(calls, m.call)
		}
	}
	if len(calls) < 2 {
		return
	}
	slices.SortFunc(calls, func(a, b *simCall) int { return a.rec.Start.Compare(b.rec.Start) })
	if first := calls[0]; first.rec.Transfer == "" {
		first.rec.Transfer = calls[1].rec.Endpoint
	}
}

func (s *Server) removeChannel(_ http.ResponseWriter, r *http.Request, p params) (int, any, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, chs, herr := s.bridgeChannels(r, p)
	if herr != nil {
		return 0, nil, herr
	}
	for _, ch := range chs {
		if ch.bridge != b {
			return 0, nil, errf(http.StatusUnprocessableEntity, "Channel not in this bridge")
		}
	}
	for _, ch := range chs {
		s.leaveBridge(ch)
	}
	return http.StatusNoContent, nil, nil
}

// leaveBridge takes ch out of its bridge. Called with s.mu held.
func (s *Server) leaveBridge(ch *channel) {
	b := ch.bridge
	if b == nil {
		return
	}
	b.members = slices.DeleteFunc(b.members, func(m *channel) bool { return m == ch })
	ch.bridge = nil
	ch.cur = nil
	s.emit(ch.app, s.bridgeEvent("ChannelLeftBridge", b, ch))
}
