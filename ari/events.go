package ari

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Event is an event from the ARI events WebSocket. Concrete types are pointers to the structs below (e.g.
// *StasisStart); an event type this package does not know is a *RawEvent.
type Event interface {
	// Type is the ARI event type, e.g. "StasisStart".
	Type() string
	// Header returns the fields every event carries.
	Header() EventHeader
	// ChannelIDs lists the ids of every channel, bridge, playback and recording the event concerns; subscriptions
	// match on them.
	ChannelIDs() []string
}

// EventHeader holds the fields common to every event.
type EventHeader struct {
	EventType   string `json:"type"`
	AsteriskID  string `json:"asterisk_id,omitempty"`
	Application string `json:"application"`
	Timestamp   Time   `json:"timestamp"`
}

// Type implements Event.
func (h EventHeader) Type() string { return h.EventType }

// Header implements Event.
func (h EventHeader) Header() EventHeader { return h }

func (h *EventHeader) setType(t string) { h.EventType = t }

// StasisStart: a channel entered the application (for an originated call: on answer).
type StasisStart struct {
	EventHeader
	Args           []string `json:"args"`
	Channel        Channel  `json:"channel"`
	ReplaceChannel *Channel `json:"replace_channel,omitempty"`
}

// StasisEnd: a channel left the application.
type StasisEnd struct {
	EventHeader
	Channel Channel `json:"channel"`
}

// ChannelCreated: a channel was created.
type ChannelCreated struct {
	EventHeader
	Channel Channel `json:"channel"`
}

// ChannelDestroyed: a channel is gone, with its Q.850 hangup cause.
type ChannelDestroyed struct {
	EventHeader
	Cause    int     `json:"cause"`
	CauseTxt string  `json:"cause_txt"`
	Channel  Channel `json:"channel"`
}

// ChannelStateChange: a channel's state changed (e.g. Ringing, Up).
type ChannelStateChange struct {
	EventHeader
	Channel Channel `json:"channel"`
}

// ChannelDtmfReceived: a DTMF digit ended on a channel.
type ChannelDtmfReceived struct {
	EventHeader
	Digit      string  `json:"digit"`
	DurationMS int     `json:"duration_ms"`
	Channel    Channel `json:"channel"`
}

// ChannelHangupRequest: a hangup was requested for a channel.
type ChannelHangupRequest struct {
	EventHeader
	Cause   int     `json:"cause"`
	Soft    bool    `json:"soft"`
	Channel Channel `json:"channel"`
}

// ChannelVarset: a channel variable (or, with no channel, a global one) was set.
type ChannelVarset struct {
	EventHeader
	Variable string   `json:"variable"`
	Value    string   `json:"value"`
	Channel  *Channel `json:"channel,omitempty"`
}

// ChannelDialplan: a channel moved in the dialplan.
type ChannelDialplan struct {
	EventHeader
	Channel         Channel `json:"channel"`
	DialplanApp     string  `json:"dialplan_app"`
	DialplanAppData string  `json:"dialplan_app_data"`
}

// ChannelCallerID: a channel's caller id changed.
type ChannelCallerID struct {
	EventHeader
	CallerPresentation    int     `json:"caller_presentation"`
	CallerPresentationTxt string  `json:"caller_presentation_txt"`
	Channel               Channel `json:"channel"`
}

// ChannelConnectedLine: a channel's connected line changed.
type ChannelConnectedLine struct {
	EventHeader
	Channel Channel `json:"channel"`
}

// ChannelTalkingStarted: talk detection (TALK_DETECT) heard speech start.
type ChannelTalkingStarted struct {
	EventHeader
	Channel Channel `json:"channel"`
}

// ChannelTalkingFinished: talk detection heard speech end; Duration is the talk length in milliseconds.
type ChannelTalkingFinished struct {
	EventHeader
	Duration int     `json:"duration"`
	Channel  Channel `json:"channel"`
}

// ChannelHold: a channel was put on hold.
type ChannelHold struct {
	EventHeader
	MusicClass string  `json:"musicclass,omitempty"`
	Channel    Channel `json:"channel"`
}

// ChannelUnhold: a channel was taken off hold.
type ChannelUnhold struct {
	EventHeader
	Channel Channel `json:"channel"`
}

// ChannelToneDetected: tone detection fired on a channel.
type ChannelToneDetected struct {
	EventHeader
	Channel Channel `json:"channel"`
}

// ChannelUserevent: a UserEvent was raised.
type ChannelUserevent struct {
	EventHeader
	EventName string          `json:"eventname"`
	Channel   *Channel        `json:"channel,omitempty"`
	Bridge    *Bridge         `json:"bridge,omitempty"`
	Userevent json.RawMessage `json:"userevent,omitempty"`
}

// Dial: progress of a dial; Dialstatus is "" when dialing starts, then e.g. RINGING, ANSWER, BUSY, CONGESTION,
// NOANSWER, CHANUNAVAIL, CANCEL.
type Dial struct {
	EventHeader
	Caller     *Channel `json:"caller,omitempty"`
	Peer       Channel  `json:"peer"`
	Forward    string   `json:"forward,omitempty"`
	Forwarded  *Channel `json:"forwarded,omitempty"`
	Dialstring string   `json:"dialstring,omitempty"`
	Dialstatus string   `json:"dialstatus"`
}

// PlaybackStarted: a playback started.
type PlaybackStarted struct {
	EventHeader
	Playback Playback `json:"playback"`
}

// PlaybackContinuing: a playback moved to the next media of its list.
type PlaybackContinuing struct {
	EventHeader
	Playback Playback `json:"playback"`
}

// PlaybackFinished: a playback ended (State done or failed).
type PlaybackFinished struct {
	EventHeader
	Playback Playback `json:"playback"`
}

// RecordingStarted: a recording started.
type RecordingStarted struct {
	EventHeader
	Recording LiveRecording `json:"recording"`
}

// RecordingFinished: a recording ended.
type RecordingFinished struct {
	EventHeader
	Recording LiveRecording `json:"recording"`
}

// RecordingFailed: a recording failed.
type RecordingFailed struct {
	EventHeader
	Recording LiveRecording `json:"recording"`
}

// BridgeCreated: a bridge was created.
type BridgeCreated struct {
	EventHeader
	Bridge Bridge `json:"bridge"`
}

// BridgeDestroyed: a bridge was destroyed.
type BridgeDestroyed struct {
	EventHeader
	Bridge Bridge `json:"bridge"`
}

// BridgeMerged: BridgeFrom was merged into Bridge.
type BridgeMerged struct {
	EventHeader
	Bridge     Bridge `json:"bridge"`
	BridgeFrom Bridge `json:"bridge_from"`
}

// ChannelEnteredBridge: a channel joined a bridge.
type ChannelEnteredBridge struct {
	EventHeader
	Bridge  Bridge  `json:"bridge"`
	Channel Channel `json:"channel"`
}

// ChannelLeftBridge: a channel left a bridge.
type ChannelLeftBridge struct {
	EventHeader
	Bridge  Bridge  `json:"bridge"`
	Channel Channel `json:"channel"`
}

// ApplicationReplaced: another WebSocket took this application; this one gets no more events.
type ApplicationReplaced struct {
	EventHeader
}

// RawEvent is an event of a type this package does not decode; Raw is its JSON. It is delivered, never dropped.
type RawEvent struct {
	EventHeader
	Raw json.RawMessage
	ids []string
}

// ChannelIDs implements Event with the ids of the channel, bridge, playback, recording, peer, caller and target
// objects found at the top level of the event.
func (e *RawEvent) ChannelIDs() []string { return e.ids }

// Overflow is not an ARI event: a subscription delivers it, before its next event, after its queue was full and
// Dropped events concerning it were discarded.
type Overflow struct {
	Dropped uint64
}

// Type implements Event.
func (*Overflow) Type() string { return "Overflow" }

// Header implements Event; an Overflow has an empty header.
func (*Overflow) Header() EventHeader { return EventHeader{EventType: "Overflow"} }

// ChannelIDs implements Event; an Overflow concerns no particular id.
func (*Overflow) ChannelIDs() []string { return nil }

func one(id string) []string {
	if id == "" {
		return nil
	}
	return []string{id}
}

func ids(list ...string) []string {
	out := make([]string, 0, len(list))
	for _, id := range list {
		if id == "" {
			continue
		}
		dup := false
		for _, o := range out {
			if o == id {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, id)
		}
	}
	return out
}

func chID(c *Channel) string {
	if c == nil {
		return ""
	}
	return c.ID
}

// ChannelIDs implements Event.
func (e *StasisStart) ChannelIDs() []string { return ids(e.Channel.ID, chID(e.ReplaceChannel)) }

// ChannelIDs implements Event.
func (e *StasisEnd) ChannelIDs() []string { return one(e.Channel.ID) }

// ChannelIDs implements Event.
func (e *ChannelCreated) ChannelIDs() []string { return one(e.Channel.ID) }

// ChannelIDs implements Event.
func (e *ChannelDestroyed) ChannelIDs() []string { return one(e.Channel.ID) }

// ChannelIDs implements Event.
func (e *ChannelStateChange) ChannelIDs() []string { return one(e.Channel.ID) }

// ChannelIDs implements Event.
func (e *ChannelDtmfReceived) ChannelIDs() []string { return one(e.Channel.ID) }

// ChannelIDs implements Event.
func (e *ChannelHangupRequest) ChannelIDs() []string { return one(e.Channel.ID) }

// ChannelIDs implements Event.
func (e *ChannelVarset) ChannelIDs() []string { return one(chID(e.Channel)) }

// ChannelIDs implements Event.
func (e *ChannelDialplan) ChannelIDs() []string { return one(e.Channel.ID) }

// ChannelIDs implements Event.
func (e *ChannelCallerID) ChannelIDs() []string { return one(e.Channel.ID) }

// ChannelIDs implements Event.
func (e *ChannelConnectedLine) ChannelIDs() []string { return one(e.Channel.ID) }

// ChannelIDs implements Event.
func (e *ChannelTalkingStarted) ChannelIDs() []string { return one(e.Channel.ID) }

// ChannelIDs implements Event.
func (e *ChannelTalkingFinished) ChannelIDs() []string { return one(e.Channel.ID) }

// ChannelIDs implements Event.
func (e *ChannelHold) ChannelIDs() []string { return one(e.Channel.ID) }

// ChannelIDs implements Event.
func (e *ChannelUnhold) ChannelIDs() []string { return one(e.Channel.ID) }

// ChannelIDs implements Event.
func (e *ChannelToneDetected) ChannelIDs() []string { return one(e.Channel.ID) }

// ChannelIDs implements Event.
func (e *ChannelUserevent) ChannelIDs() []string {
	b := ""
	if e.Bridge != nil {
		b = e.Bridge.ID
	}
	return ids(chID(e.Channel), b)
}

// ChannelIDs implements Event.
func (e *Dial) ChannelIDs() []string { return ids(e.Peer.ID, chID(e.Caller), chID(e.Forwarded)) }

// ChannelIDs implements Event: the playback id and its target channel or bridge.
func (e *PlaybackStarted) ChannelIDs() []string { return playbackIDs(&e.Playback) }

// ChannelIDs implements Event: the playback id and its target channel or bridge.
func (e *PlaybackContinuing) ChannelIDs() []string { return playbackIDs(&e.Playback) }

// ChannelIDs implements Event: the playback id and its target channel or bridge.
func (e *PlaybackFinished) ChannelIDs() []string { return playbackIDs(&e.Playback) }

// ChannelIDs implements Event: the recording name and its target channel or bridge.
func (e *RecordingStarted) ChannelIDs() []string { return recordingIDs(&e.Recording) }

// ChannelIDs implements Event: the recording name and its target channel or bridge.
func (e *RecordingFinished) ChannelIDs() []string { return recordingIDs(&e.Recording) }

// ChannelIDs implements Event: the recording name and its target channel or bridge.
func (e *RecordingFailed) ChannelIDs() []string { return recordingIDs(&e.Recording) }

// ChannelIDs implements Event.
func (e *BridgeCreated) ChannelIDs() []string { return one(e.Bridge.ID) }

// ChannelIDs implements Event.
func (e *BridgeDestroyed) ChannelIDs() []string { return one(e.Bridge.ID) }

// ChannelIDs implements Event.
func (e *BridgeMerged) ChannelIDs() []string { return ids(e.Bridge.ID, e.BridgeFrom.ID) }

// ChannelIDs implements Event: the bridge and the channel.
func (e *ChannelEnteredBridge) ChannelIDs() []string { return ids(e.Bridge.ID, e.Channel.ID) }

// ChannelIDs implements Event: the bridge and the channel.
func (e *ChannelLeftBridge) ChannelIDs() []string { return ids(e.Bridge.ID, e.Channel.ID) }

// ChannelIDs implements Event; ApplicationReplaced concerns the whole application (SubscribeAll sees it).
func (e *ApplicationReplaced) ChannelIDs() []string { return nil }

func playbackIDs(p *Playback) []string { return ids(p.ID, targetID(p.TargetURI)) }

func recordingIDs(r *LiveRecording) []string { return ids(r.Name, targetID(r.TargetURI)) }

// eventFactories maps each known event type to a constructor of its zero value.
var eventFactories = map[string]func() Event{
	"StasisStart":           func() Event { return new(StasisStart) },
	"StasisEnd":             func() Event { return new(StasisEnd) },
	"ChannelCreated":        func() Event { return new(ChannelCreated) },
	"ChannelDestroyed":      func() Event { return new(ChannelDestroyed) },
	"ChannelStateChange":    func() Event { return new(ChannelStateChange) },
	"ChannelDtmfReceived":   func() Event { return new(ChannelDtmfReceived) },
	"ChannelHangupRequest":  func() Event { return new(ChannelHangupRequest) },
	"ChannelVarset":         func() Event { return new(ChannelVarset) },
	"ChannelDialplan":       func() Event { return new(ChannelDialplan) },
	"ChannelCallerId":       func() Event { return new(ChannelCallerID) },
	"ChannelConnectedLine":  func() Event { return new(ChannelConnectedLine) },
	"ChannelTalkingStarted": func() Event { return new(ChannelTalkingStarted) },
	"ChannelTalkingFinished": func() Event {
		return new(ChannelTalkingFinished)
	},
	"ChannelHold":          func() Event { return new(ChannelHold) },
	"ChannelUnhold":        func() Event { return new(ChannelUnhold) },
	"ChannelToneDetected":  func() Event { return new(ChannelToneDetected) },
	"ChannelUserevent":     func() Event { return new(ChannelUserevent) },
	"Dial":                 func() Event { return new(Dial) },
	"PlaybackStarted":      func() Event { return new(PlaybackStarted) },
	"PlaybackContinuing":   func() Event { return new(PlaybackContinuing) },
	"PlaybackFinished":     func() Event { return new(PlaybackFinished) },
	"RecordingStarted":     func() Event { return new(RecordingStarted) },
	"RecordingFinished":    func() Event { return new(RecordingFinished) },
	"RecordingFailed":      func() Event { return new(RecordingFailed) },
	"BridgeCreated":        func() Event { return new(BridgeCreated) },
	"BridgeDestroyed":      func() Event { return new(BridgeDestroyed) },
	"BridgeMerged":         func() Event { return new(BridgeMerged) },
	"ChannelEnteredBridge": func() Event { return new(ChannelEnteredBridge) },
	"ChannelLeftBridge":    func() Event { return new(ChannelLeftBridge) },
	"ApplicationReplaced":  func() Event { return new(ApplicationReplaced) },
}

// DecodeEvent decodes one ARI event message. A known type becomes its typed struct; an unknown type becomes a
// *RawEvent holding a copy of the message. Input that is not a JSON object with a string "type" — or a known
// type whose fields have the wrong shape — returns an error wrapping ErrMalformedEvent.
func DecodeEvent(data []byte) (Event, error) {
	typ, err := eventType(data)
	if err != nil {
		return nil, err
	}
	if f, ok := eventFactories[typ]; ok {
		ev := f()
		if err := json.Unmarshal(data, ev); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformedEvent, typ, err)
		}
		// With duplicate "type" keys the struct holds the last; the type dispatched on wins.
		ev.(interface{ setType(string) }).setType(typ)
		return ev, nil
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("%w: %s: invalid JSON", ErrMalformedEvent, typ)
	}
	var raw struct {
		EventHeader
		Channel  *struct{ ID string } `json:"channel"`
		Bridge   *struct{ ID string } `json:"bridge"`
		Peer     *struct{ ID string } `json:"peer"`
		Playback *struct {
			ID        string `json:"id"`
			TargetURI string `json:"target_uri"`
		} `json:"playback"`
		Recording *struct {
			Name      string `json:"name"`
			TargetURI string `json:"target_uri"`
		} `json:"recording"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		// Unknown events may use these names for other shapes: keep just the header.
		raw.Channel, raw.Bridge, raw.Peer, raw.Playback, raw.Recording = nil, nil, nil, nil, nil
		var h EventHeader
		if err := json.Unmarshal(data, &h); err != nil {
			h = EventHeader{EventType: typ}
		}
		raw.EventHeader = h
	}
	raw.EventType = typ
	e := &RawEvent{EventHeader: raw.EventHeader, Raw: bytes.Clone(data)}
	var list []string
	if raw.Channel != nil {
		list = append(list, raw.Channel.ID)
	}
	if raw.Bridge != nil {
		list = append(list, raw.Bridge.ID)
	}
	if raw.Peer != nil {
		list = append(list, raw.Peer.ID)
	}
	if raw.Playback != nil {
		list = append(list, raw.Playback.ID, targetID(raw.Playback.TargetURI))
	}
	if raw.Recording != nil {
		list = append(list, raw.Recording.Name, targetID(raw.Recording.TargetURI))
	}
	e.ids = ids(list...)
	return e, nil
}

// eventType returns the top-level "type" of a JSON object. It scans with json.Decoder tokens only as far as the
// "type" key, skipping nested values, so the full decode happens once.
func eventType(data []byte) (string, error) {
	if t, ok := leadingType(data); ok {
		return t, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrMalformedEvent, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return "", fmt.Errorf("%w: not a JSON object", ErrMalformedEvent)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrMalformedEvent, err)
		}
		key, _ := tok.(string)
		if key == "type" {
			tok, err := dec.Token()
			if err != nil {
				return "", fmt.Errorf("%w: %v", ErrMalformedEvent, err)
			}
			s, ok := tok.(string)
			if !ok || s == "" {
				return "", fmt.Errorf("%w: \"type\" is not a non-empty string", ErrMalformedEvent)
			}
			return s, nil
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", fmt.Errorf("%w: %v", ErrMalformedEvent, err)
		}
	}
	return "", fmt.Errorf("%w: no \"type\"", ErrMalformedEvent)
}

// leadingType is the fast path of eventType for messages that start with {"type":"...", as Asterisk writes them.
func leadingType(data []byte) (string, bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return "", false
	}
	i = skipSpace(data, i+1)
	if !bytes.HasPrefix(data[i:], []byte(`"type"`)) {
		return "", false
	}
	i = skipSpace(data, i+6)
	if i >= len(data) || data[i] != ':' {
		return "", false
	}
	i = skipSpace(data, i+1)
	if i >= len(data) || data[i] != '"' {
		return "", false
	}
	i++
	start := i
	for ; i < len(data); i++ {
		c := data[i]
		if c == '"' {
			if i == start {
				return "", false
			}
			return string(data[start:i]), true
		}
		if c == '\\' || c < 0x20 {
			return "", false
		}
	}
	return "", false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
