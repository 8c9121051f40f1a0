package esl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"strconv"
)

// Event is a FreeSWITCH event, decoded from text/event-plain, text/event-json or text/event-xml.
type Event struct {
	Header map[string]string // decoded headers, e.g. Event-Name, Unique-ID, Hangup-Cause
	Body   string            // the event's own body (a BACKGROUND_JOB result, a log line), often empty
}

// Name returns the Event-Name header (for CUSTOM events, see Subclass).
func (e *Event) Name() string { return e.Header["Event-Name"] }

// Subclass returns the Event-Subclass header of a CUSTOM event, e.g. mod_audio_stream::connect.
func (e *Event) Subclass() string { return e.Header["Event-Subclass"] }

// UniqueID returns the channel's Unique-ID header, empty for events of no channel.
func (e *Event) UniqueID() string { return e.Header["Unique-ID"] }

// Get returns a header's value.
func (e *Event) Get(name string) string { return e.Header[name] }

// ParseEvent decodes the body of an event frame. It returns ErrMalformed (wrapped) for a frame that is not an
// event or whose body does not decode.
func ParseEvent(m *Message) (*Event, error) {
	switch t := m.Type(); t {
	case TypeEventPlain:
		return parsePlain(m.Body)
	case TypeEventJSON:
		return parseJSON(m.Body)
	case TypeEventXML:
		return parseXML(m.Body)
	default:
		return nil, fmt.Errorf("%w: %q is not an event type", ErrMalformed, t)
	}
}

// parsePlain decodes URL-encoded headers, a blank line, and a body sized by the nested Content-Length.
func parsePlain(b []byte) (*Event, error) {
	r := bufio.NewReader(bytes.NewReader(b))
	h, err := readHeaders(r, true)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		// FreeSWITCH ends plain events with a blank line, but a body cut exactly at the last header is accepted.
		h, err = readHeaders(bufio.NewReader(bytes.NewReader(append(bytes.Clone(b), '\n', '\n'))), true)
	}
	if err != nil {
		return nil, fmt.Errorf("esl: event-plain headers: %w", err)
	}
	ev := &Event{Header: make(map[string]string, len(h))}
	for k, v := range h {
		if d, err := url.PathUnescape(v); err == nil {
			v = d
		}
		ev.Header[k] = v
	}
	if cl, ok := ev.Header["Content-Length"]; ok {
		n, err := parseLength(cl)
		if err != nil {
			return nil, err
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, fmt.Errorf("%w: event body shorter than Content-Length %d", ErrMalformed, n)
		}
		ev.Body = string(body)
		delete(ev.Header, "Content-Length")
	}
	return ev, nil
}

// parseJSON decodes an object of string values; the body is under "_body".
func parseJSON(b []byte) (*Event, error) {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: event-json: %v", ErrMalformed, err)
	}
	ev := &Event{Header: make(map[string]string, len(raw))}
	for k, v := range raw {
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case float64:
			s = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			s = strconv.FormatBool(x)
		case nil:
		default:
			j, _ := json.Marshal(x)
			s = string(j)
		}
		if k == "_body" {
			ev.Body = s
			continue
		}
		ev.Header[k] = s
	}
	delete(ev.Header, "Content-Length")
	return ev, nil
}

// parseXML decodes <event><headers><Name>value</Name>...</headers><body>...</body></event>.
func parseXML(b []byte) (*Event, error) {
	var doc struct {
		Headers struct {
			Items []struct {
				XMLName xml.Name
				Value   string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"headers"`
		Body string `xml:"body"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: event-xml: %v", ErrMalformed, err)
	}
	ev := &Event{Header: make(map[string]string, len(doc.Headers.Items)), Body: doc.Body}
	for _, it := range doc.Headers.Items {
		v := it.Value
		if d, err := url.QueryUnescape(v); err == nil {
			v = d
		}
		ev.Header[it.XMLName.Local] = v
	}
	delete(ev.Header, "Content-Length")
	return ev, nil
}

// EncodePlain returns the body of a text/event-plain frame for ev (headers URL-encoded, body with its own
// Content-Length). Simulators and tests use it.
func EncodePlain(ev *Event) []byte {
	m := &Message{Header: make(map[string]string, len(ev.Header)), Body: []byte(ev.Body)}
	for k, v := range ev.Header {
		m.Header[k] = url.PathEscape(v)
	}
	return m.AppendTo(nil)
}

// EncodeJSON returns the body of a text/event-json frame for ev.
func EncodeJSON(ev *Event) []byte {
	obj := make(map[string]string, len(ev.Header)+1)
	for k, v := range ev.Header {
		obj[k] = v
	}
	if ev.Body != "" {
		obj["_body"] = ev.Body
		obj["Content-Length"] = strconv.Itoa(len(ev.Body))
	}
	b, _ := json.Marshal(obj)
	return b
}

func unescape(v string) (string, error) { return url.PathUnescape(v) }
