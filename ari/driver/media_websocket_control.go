package driver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// chan_websocket control lines (TEXT messages), in chan_websocket's default "plain-text" format:
//
//	MEDIA_START connection_id:<uuid> channel:<name> channel_id:<id> format:ulaw optimal_frame_size:160 ptime:20
//	DTMF_END digit:1 channel_id:<id>
//	MEDIA_XOFF | MEDIA_XON | QUEUE_DRAINED
//	MEDIA_MARK_PROCESSED [<correlation id>] | MEDIA_BUFFERING_COMPLETED [<correlation id>]
//	STATUS channel_id:<id> queue_length:0 xon_level:800 xoff_level:900 queue_full:false bulk_media:false media_paused:false
//	ERROR channel_id:<id> error_text:<free text to the end of the line>
//
// The "json" format (control_message_format=json in chan_websocket.conf) carries the same fields in an object with
// an "event" member; both are accepted. Older releases omit some fields (channel_id), so none but the event name is
// required here.

// wsControl is one parsed notification: its event name and its key:value fields.
type wsControl struct {
	Event  string
	Fields map[string]string
}

// parseWSControl parses a TEXT message from chan_websocket.
func parseWSControl(b []byte) (wsControl, error) {
	if len(b) > wsMaxMessage {
		return wsControl{}, fmt.Errorf("%w: %d bytes", ErrWebSocketControl, len(b))
	}
	if !utf8.Valid(b) {
		return wsControl{}, fmt.Errorf("%w: not UTF-8", ErrWebSocketControl)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return wsControl{}, fmt.Errorf("%w: empty", ErrWebSocketControl)
	}
	if b[0] == '{' {
		return parseWSControlJSON(b)
	}
	s := string(b)
	event, rest, _ := strings.Cut(s, " ")
	if !wsName(event, true) {
		return wsControl{}, fmt.Errorf("%w: event name %.40q", ErrWebSocketControl, event)
	}
	ctl := wsControl{Event: event, Fields: map[string]string{}}
	rest = strings.TrimSpace(rest)
	switch event {
	case "MEDIA_MARK_PROCESSED", "MEDIA_BUFFERING_COMPLETED":
		// The rest of the line is the application's correlation id, verbatim.
		if rest != "" {
			ctl.Fields["correlation_id"] = rest
		}
		return ctl, nil
	}
	for rest != "" {
		var tok string
		tok, rest, _ = strings.Cut(rest, " ")
		rest = strings.TrimLeft(rest, " ")
		if tok == "" {
			continue
		}
		k, v, ok := strings.Cut(tok, ":")
		if !ok || !wsName(k, false) {
			return wsControl{}, fmt.Errorf("%w: %s: field %.40q is not key:value", ErrWebSocketControl, event, tok)
		}
		if k == "error_text" && rest != "" { // free text to the end of the line
			v += " " + rest
			rest = ""
		}
		if _, dup := ctl.Fields[k]; dup {
			return wsControl{}, fmt.Errorf("%w: %s: field %q twice", ErrWebSocketControl, event, k)
		}
		ctl.Fields[k] = v
	}
	return ctl, nil
}

// parseWSControlJSON parses the json control message format; nested values (channel_variables) are skipped.
func parseWSControlJSON(b []byte) (wsControl, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return wsControl{}, fmt.Errorf("%w: %v", ErrWebSocketControl, err)
	}
	var event string
	if err := json.Unmarshal(raw["event"], &event); err != nil || !wsName(event, true) {
		return wsControl{}, fmt.Errorf("%w: json message without a valid \"event\"", ErrWebSocketControl)
	}
	ctl := wsControl{Event: event, Fields: map[string]string{}}
	for k, v := range raw {
		if k == "event" || len(v) == 0 {
			continue
		}
		var s string
		switch {
		case json.Unmarshal(v, &s) == nil:
		case v[0] == '-' || v[0] >= '0' && v[0] <= '9' || string(v) == "true" || string(v) == "false":
			s = string(v)
		default:
			continue
		}
		ctl.Fields[k] = s
	}
	return ctl, nil
}

// wsName reports whether s is an event name (upper case) or a field key (lower case): letters, digits and '_'.
func wsName(s string, upper bool) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || c >= '0' && c <= '9' && i > 0:
		case upper && c >= 'A' && c <= 'Z':
		case !upper && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'):
		default:
			return false
		}
	}
	return true
}

// wsMediaStart is what MEDIA_START says about a media connection.
type wsMediaStart struct {
	ConnectionID     string
	Channel          string // the WebSocket channel's name
	ChannelID        string // its unique id (newer releases)
	Format           string // e.g. ulaw, slin16
	OptimalFrameSize int    // bytes per ptime; writes should be multiples of it
	PTime            time.Duration
}

// parseMediaStart reads MEDIA_START's fields.
func parseMediaStart(c wsControl) (wsMediaStart, error) {
	if c.Event != "MEDIA_START" {
		return wsMediaStart{}, fmt.Errorf("%w: first message is %s, want MEDIA_START", ErrWebSocketControl, c.Event)
	}
	ms := wsMediaStart{
		ConnectionID: c.Fields["connection_id"],
		Channel:      c.Fields["channel"],
		ChannelID:    c.Fields["channel_id"],
		Format:       c.Fields["format"],
		PTime:        20 * time.Millisecond,
	}
	if ms.Format == "" {
		return wsMediaStart{}, fmt.Errorf("%w: MEDIA_START without format", ErrWebSocketControl)
	}
	n, err := strconv.Atoi(c.Fields["optimal_frame_size"])
	if err != nil || n <= 0 || n > wsMaxMessage {
		return wsMediaStart{}, fmt.Errorf("%w: MEDIA_START optimal_frame_size %q", ErrWebSocketControl, c.Fields["optimal_frame_size"])
	}
	ms.OptimalFrameSize = n
	if p, ok := c.Fields["ptime"]; ok {
		v, err := strconv.Atoi(p)
		if err != nil || v <= 0 || v > 1000 {
			return wsMediaStart{}, fmt.Errorf("%w: MEDIA_START ptime %q", ErrWebSocketControl, p)
		}
		ms.PTime = time.Duration(v) * time.Millisecond
	}
	return ms, nil
}
