package aritest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TimeFormat is the layout of Asterisk's ARI timestamps, e.g. 2026-11-23T21:42:12.844+0000.
const TimeFormat = "2006-01-02T15:04:05.000-0700"

// CallerID is the wire form of a party's name and number.
type CallerID struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

// DialplanCEP is the wire form of a channel's dialplan location.
type DialplanCEP struct {
	Context  string `json:"context"`
	Exten    string `json:"exten"`
	Priority int    `json:"priority"`
	AppName  string `json:"app_name"`
	AppData  string `json:"app_data"`
}

// Channel is the wire form of an ARI channel, as REST replies and events carry it.
type Channel struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	State        string            `json:"state"`
	Caller       CallerID          `json:"caller"`
	Connected    CallerID          `json:"connected"`
	AccountCode  string            `json:"accountcode"`
	Dialplan     DialplanCEP       `json:"dialplan"`
	CreationTime string            `json:"creationtime"`
	Language     string            `json:"language"`
	ChannelVars  map[string]string `json:"channelvars,omitempty"`
}

// Bridge is the wire form of an ARI bridge.
type Bridge struct {
	ID           string   `json:"id"`
	Technology   string   `json:"technology"`
	BridgeType   string   `json:"bridge_type"`
	BridgeClass  string   `json:"bridge_class"`
	Creator      string   `json:"creator"`
	Name         string   `json:"name"`
	Channels     []string `json:"channels"`
	CreationTime string   `json:"creationtime"`
	VideoMode    string   `json:"video_mode"`
}

// Playback is the wire form of an ARI playback.
type Playback struct {
	ID        string `json:"id"`
	MediaURI  string `json:"media_uri"`
	TargetURI string `json:"target_uri"`
	Language  string `json:"language"`
	State     string `json:"state"`
}

// LiveRecording is the wire form of an ARI live recording.
type LiveRecording struct {
	Name            string `json:"name"`
	Format          string `json:"format"`
	State           string `json:"state"`
	TargetURI       string `json:"target_uri"`
	Duration        int    `json:"duration,omitempty"`
	TalkingDuration int    `json:"talking_duration,omitempty"`
	SilenceDuration int    `json:"silence_duration,omitempty"`
	Cause           string `json:"cause,omitempty"`
}

// Event is the wire form of an ARI event: the common fields plus the event's own, flattened into one JSON object.
type Event map[string]any

// Type returns the event's type field.
func (e Event) Type() string { s, _ := e["type"].(string); return s }

// errorBody is Asterisk's error reply.
type errorBody struct {
	Message string `json:"message"`
}

// httpError is a REST failure: status and Asterisk's message.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return strconv.Itoa(e.status) + ": " + e.msg }

func errf(status int, format string, a ...any) *httpError {
	return &httpError{status: status, msg: fmt.Sprintf(format, a...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"aritest: encoding reply failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeErr(w http.ResponseWriter, e *httpError) {
	writeJSON(w, e.status, errorBody{Message: e.msg})
}

// params are a request's parameters: the query string merged with a JSON object body (as Asterisk allows), and
// the body's "variables" object.
type params struct {
	v    url.Values
	vars map[string]string
}

func (p params) get(k string) string { return p.v.Get(k) }

// maxBody bounds request bodies; ARI requests are small.
const maxBody = 1 << 20

func readParams(r *http.Request) (params, *httpError) {
	p := params{v: r.URL.Query()}
	if r.Body == nil {
		return p, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return p, errf(http.StatusBadRequest, "Error reading request body: %v", err)
	}
	if len(b) > maxBody {
		return p, errf(http.StatusBadRequest, "Request body too large")
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return p, nil
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(b, &body); err != nil {
		return p, errf(http.StatusBadRequest, "Error parsing request body: %v", err)
	}
	for k, raw := range body {
		if k == "variables" {
			vars, err := decodeVariables(raw)
			if err != nil {
				return p, errf(http.StatusBadRequest, "Error parsing variables: %v", err)
			}
			p.vars = vars
			continue
		}
		s, err := scalar(raw)
		if err != nil {
			return p, errf(http.StatusBadRequest, "Error parsing parameter %s: %v", k, err)
		}
		if !p.v.Has(k) {
			p.v.Set(k, s)
		}
	}
	return p, nil
}

// decodeVariables accepts {"variables": {"K": "V"}} and Asterisk's older {"variables": {"variables": {...}}}.
func decodeVariables(raw json.RawMessage) (map[string]string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if inner, ok := m["variables"]; ok && len(m) == 1 {
		if err := json.Unmarshal(inner, &m); err != nil {
			return nil, err
		}
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, err := scalar(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = s
	}
	return out, nil
}

var errNotScalar = errors.New("not a string, number or boolean")

func scalar(raw json.RawMessage) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case nil:
		return "", nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return "", errNotScalar
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	}
	return "", errNotScalar
}

// intParam parses an integer parameter, with def when absent.
func (p params) intParam(k string, def int) (int, *httpError) {
	s := p.get(k)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return 0, errf(http.StatusBadRequest, "Invalid value for %s: %q", k, s)
		}
		n = int(f)
	}
	return n, nil
}

// validID reports whether a client-chosen id is acceptable: Asterisk rejects odd characters.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("-_.:", r):
		default:
			return false
		}
	}
	return true
}

func stamp(t time.Time) string { return t.Format(TimeFormat) }
