package ari

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// OriginateParams are the parameters of Originate (POST /channels).
type OriginateParams struct {
	Endpoint       string            // required, e.g. "PJSIP/13800138000@trunk" or "Local/echo@outcall-test"
	App            string            // Stasis app; default: the client's App unless Extension or Context is set
	AppArgs        string            // comma-separated arguments of StasisStart
	Context        string            // dialplan context (instead of App)
	Extension      string            // dialplan extension (instead of App)
	Priority       int               // dialplan priority
	Label          string            // dialplan label
	CallerID       string            // presented caller id
	Timeout        time.Duration     // ring timeout, whole seconds; default: Asterisk's 30s
	ChannelID      string            // client-chosen id of the new channel (see NewID); default: Asterisk chooses
	OtherChannelID string            // id of the second half of a Local channel
	Originator     string            // id of the channel that originates (for linked ids)
	Formats        string            // comma-separated formats, e.g. "ulaw,slin16"
	Variables      map[string]string // channel variables, sent in the JSON body
}

// Originate creates a channel, dials Endpoint, and on answer puts it in the Stasis app (StasisStart arrives only
// when the callee answers) or in the dialplan.
func (c *Client) Originate(ctx context.Context, p OriginateParams) (Channel, error) {
	q := params{}
	q.set("endpoint", p.Endpoint)
	app := p.App
	if app == "" && p.Extension == "" && p.Context == "" {
		app = c.cfg.App
	}
	q.set("app", app)
	q.set("appArgs", p.AppArgs)
	q.set("context", p.Context)
	q.set("extension", p.Extension)
	q.setInt("priority", p.Priority)
	q.set("label", p.Label)
	q.set("callerId", p.CallerID)
	q.setSeconds("timeout", p.Timeout)
	q.set("channelId", p.ChannelID)
	q.set("otherChannelId", p.OtherChannelID)
	q.set("originator", p.Originator)
	q.set("formats", p.Formats)
	var ch Channel
	err := c.do(ctx, request{op: "Originate", method: http.MethodPost, path: "/channels", query: url.Values(q), body: variablesBody(p.Variables)}, &ch)
	return ch, err
}

// CreateParams are the parameters of CreateChannel (POST /channels/create).
type CreateParams struct {
	Endpoint       string            // required
	App            string            // Stasis app; default: the client's App
	AppArgs        string            // comma-separated arguments of StasisStart
	ChannelID      string            // client-chosen id; default: Asterisk chooses
	OtherChannelID string            // id of the second half of a Local channel
	Originator     string            // id of the originating channel
	Formats        string            // comma-separated formats
	Variables      map[string]string // channel variables, sent in the JSON body
}

// CreateChannel creates a channel that enters Stasis at once (state Down) without dialing; dial it with
// DialChannel and follow Dial events.
func (c *Client) CreateChannel(ctx context.Context, p CreateParams) (Channel, error) {
	q := params{}
	q.set("endpoint", p.Endpoint)
	app := p.App
	if app == "" {
		app = c.cfg.App
	}
	q.set("app", app)
	q.set("appArgs", p.AppArgs)
	q.set("channelId", p.ChannelID)
	q.set("otherChannelId", p.OtherChannelID)
	q.set("originator", p.Originator)
	q.set("formats", p.Formats)
	var ch Channel
	err := c.do(ctx, request{op: "CreateChannel", method: http.MethodPost, path: "/channels/create", query: url.Values(q), body: variablesBody(p.Variables)}, &ch)
	return ch, err
}

// DialParams are the parameters of DialChannel.
type DialParams struct {
	Caller  string        // id of the channel that is calling (for linked ids and caller id)
	Timeout time.Duration // ring timeout, whole seconds; default: Asterisk's (no timeout)
}

// DialChannel dials a channel created by CreateChannel (POST /channels/{id}/dial).
func (c *Client) DialChannel(ctx context.Context, id string, p DialParams) error {
	q := params{}
	q.set("caller", p.Caller)
	q.setSeconds("timeout", p.Timeout)
	return c.do(ctx, request{op: "DialChannel", method: http.MethodPost, path: "/channels/" + seg(id) + "/dial", query: url.Values(q)}, nil)
}

// ListChannels returns every channel Asterisk knows (GET /channels).
func (c *Client) ListChannels(ctx context.Context) ([]Channel, error) {
	var chs []Channel
	err := c.do(ctx, request{op: "ListChannels", method: http.MethodGet, path: "/channels"}, &chs)
	return chs, err
}

// GetChannel returns one channel (GET /channels/{id}).
func (c *Client) GetChannel(ctx context.Context, id string) (Channel, error) {
	var ch Channel
	err := c.do(ctx, request{op: "GetChannel", method: http.MethodGet, path: "/channels/" + seg(id)}, &ch)
	return ch, err
}

// Answer answers a channel (POST /channels/{id}/answer).
func (c *Client) Answer(ctx context.Context, id string) error {
	return c.do(ctx, request{op: "Answer", method: http.MethodPost, path: "/channels/" + seg(id) + "/answer"}, nil)
}

// Ring indicates ringing to a channel (POST /channels/{id}/ring).
func (c *Client) Ring(ctx context.Context, id string) error {
	return c.do(ctx, request{op: "Ring", method: http.MethodPost, path: "/channels/" + seg(id) + "/ring"}, nil)
}

// RingStop stops indicating ringing (DELETE /channels/{id}/ring).
func (c *Client) RingStop(ctx context.Context, id string) error {
	return c.do(ctx, request{op: "RingStop", method: http.MethodDelete, path: "/channels/" + seg(id) + "/ring"}, nil)
}

// Progress indicates call progress (early media) to a channel (POST /channels/{id}/progress).
func (c *Client) Progress(ctx context.Context, id string) error {
	return c.do(ctx, request{op: "Progress", method: http.MethodPost, path: "/channels/" + seg(id) + "/progress"}, nil)
}

// Hangup reasons accepted by Hangup.
const (
	ReasonNormal            = "normal"
	ReasonBusy              = "busy"
	ReasonCongestion        = "congestion"
	ReasonNoAnswer          = "no_answer"
	ReasonTimeout           = "timeout"
	ReasonRejected          = "rejected"
	ReasonUnallocated       = "unallocated"
	ReasonNormalUnspecified = "normal_unspecified"
	ReasonNumberIncomplete  = "number_incomplete"
	ReasonCodecMismatch     = "codec_mismatch"
	ReasonInterworking      = "interworking"
	ReasonFailure           = "failure"
	ReasonAnsweredElsewhere = "answered_elsewhere"
)

// Hangup hangs up a channel (DELETE /channels/{id}). reason is one of the Reason* names, or a decimal Q.850 cause
// code (sent as reason_code); empty means normal.
func (c *Client) Hangup(ctx context.Context, id, reason string) error {
	q := params{}
	if reason != "" {
		if _, err := strconv.Atoi(reason); err == nil {
			q.set("reason_code", reason)
		} else {
			q.set("reason", reason)
		}
	}
	return c.do(ctx, request{op: "Hangup", method: http.MethodDelete, path: "/channels/" + seg(id), query: url.Values(q)}, nil)
}

// ContinueParams say where ContinueInDialplan sends a channel; empty fields keep the channel's current location.
type ContinueParams struct {
	Context   string
	Extension string
	Priority  int
	Label     string
}

// ContinueInDialplan makes a channel leave Stasis and continue in the dialplan (POST /channels/{id}/continue).
func (c *Client) ContinueInDialplan(ctx context.Context, id string, p ContinueParams) error {
	q := params{}
	q.set("context", p.Context)
	q.set("extension", p.Extension)
	q.setInt("priority", p.Priority)
	q.set("label", p.Label)
	return c.do(ctx, request{op: "ContinueInDialplan", method: http.MethodPost, path: "/channels/" + seg(id) + "/continue", query: url.Values(q)}, nil)
}

// PlayParams are the parameters of Play and BridgePlay.
type PlayParams struct {
	Media      []string      // required, e.g. "sound:hello-world", "tone:ring", "recording:foo", an http(s) URI
	Lang       string        // sound language
	Offset     time.Duration // start this far into the media (offsetms)
	Skip       time.Duration // skip step for forward/reverse (skipms); default: Asterisk's 3s
	PlaybackID string        // client-chosen playback id (see NewID); default: Asterisk chooses
}

func (p PlayParams) query() url.Values {
	q := params{}
	q.set("media", strings.Join(p.Media, ","))
	q.set("lang", p.Lang)
	q.setMillis("offsetms", p.Offset)
	q.setMillis("skipms", p.Skip)
	q.set("playbackId", p.PlaybackID)
	return url.Values(q)
}

// Play starts playing media on a channel (POST /channels/{id}/play). Completion arrives as PlaybackFinished.
func (c *Client) Play(ctx context.Context, channelID string, p PlayParams) (Playback, error) {
	var pb Playback
	err := c.do(ctx, request{op: "Play", method: http.MethodPost, path: "/channels/" + seg(channelID) + "/play", query: p.query()}, &pb)
	return pb, err
}

// RecordParams are the parameters of Record and BridgeRecord.
type RecordParams struct {
	Name        string        // required recording name
	Format      string        // required, e.g. "wav"
	MaxDuration time.Duration // whole seconds; default: no limit
	MaxSilence  time.Duration // whole seconds; default: no limit
	IfExists    string        // fail, overwrite or append; default: Asterisk's fail
	Beep        bool          // play a beep first
	TerminateOn string        // DTMF that stops the recording: none, any, *, #; default: none
}

func (p RecordParams) query() url.Values {
	q := params{}
	q.set("name", p.Name)
	q.set("format", p.Format)
	q.setSeconds("maxDurationSeconds", p.MaxDuration)
	q.setSeconds("maxSilenceSeconds", p.MaxSilence)
	q.set("ifExists", p.IfExists)
	q.setBool("beep", p.Beep)
	q.set("terminateOn", p.TerminateOn)
	return url.Values(q)
}

// Record starts recording a channel (POST /channels/{id}/record).
func (c *Client) Record(ctx context.Context, channelID string, p RecordParams) (LiveRecording, error) {
	var r LiveRecording
	err := c.do(ctx, request{op: "Record", method: http.MethodPost, path: "/channels/" + seg(channelID) + "/record", query: p.query()}, &r)
	return r, err
}

// SnoopParams are the parameters of Snoop.
type SnoopParams struct {
	Spy     string // audio to spy on: none, both, out, in; default: Asterisk's none
	Whisper string // audio to whisper: none, both, out, in; default: Asterisk's none
	App     string // Stasis app of the snoop channel; default: the client's App
	AppArgs string
	SnoopID string // client-chosen id of the snoop channel; default: Asterisk chooses
}

// Snoop creates a snoop channel on a channel (POST /channels/{id}/snoop), e.g. Spy "in" for callee-only audio.
func (c *Client) Snoop(ctx context.Context, channelID string, p SnoopParams) (Channel, error) {
	q := params{}
	q.set("spy", p.Spy)
	q.set("whisper", p.Whisper)
	app := p.App
	if app == "" {
		app = c.cfg.App
	}
	q.set("app", app)
	q.set("appArgs", p.AppArgs)
	q.set("snoopId", p.SnoopID)
	var ch Channel
	err := c.do(ctx, request{op: "Snoop", method: http.MethodPost, path: "/channels/" + seg(channelID) + "/snoop", query: url.Values(q)}, &ch)
	return ch, err
}

// ExternalMediaParams are the parameters of ExternalMedia.
type ExternalMediaParams struct {
	App            string            // Stasis app; default: the client's App
	ChannelID      string            // client-chosen id; default: Asterisk chooses
	ExternalHost   string            // "host:port" Asterisk sends media to (or "INCOMING" for chan_websocket)
	Format         string            // required: ulaw, alaw, slin16, ...
	Encapsulation  string            // rtp, audiosocket or none; default: Asterisk's rtp
	Transport      string            // udp, tcp or websocket; default: Asterisk's udp
	ConnectionType string            // client or server (websocket only); default: Asterisk's client
	Direction      string            // default: Asterisk's both
	Data           string            // the AudioSocket UUID
	Variables      map[string]string // channel variables, sent in the JSON body
}

// ExternalMedia creates a channel that exchanges the media of a bridge with an external host (POST
// /channels/externalMedia). For rtp/udp the returned channel's ChannelVars hold UNICASTRTP_LOCAL_ADDRESS and
// UNICASTRTP_LOCAL_PORT, where the application sends its audio.
func (c *Client) ExternalMedia(ctx context.Context, p ExternalMediaParams) (Channel, error) {
	q := params{}
	app := p.App
	if app == "" {
		app = c.cfg.App
	}
	q.set("app", app)
	q.set("channelId", p.ChannelID)
	q.set("external_host", p.ExternalHost)
	q.set("format", p.Format)
	q.set("encapsulation", p.Encapsulation)
	q.set("transport", p.Transport)
	q.set("connection_type", p.ConnectionType)
	q.set("direction", p.Direction)
	q.set("data", p.Data)
	var ch Channel
	err := c.do(ctx, request{op: "ExternalMedia", method: http.MethodPost, path: "/channels/externalMedia", query: url.Values(q), body: variablesBody(p.Variables)}, &ch)
	return ch, err
}

// GetVariable reads a channel variable or dialplan function (GET /channels/{id}/variable).
func (c *Client) GetVariable(ctx context.Context, channelID, name string) (string, error) {
	var v struct {
		Value string `json:"value"`
	}
	q := params{}
	q.set("variable", name)
	err := c.do(ctx, request{op: "GetVariable", method: http.MethodGet, path: "/channels/" + seg(channelID) + "/variable", query: url.Values(q)}, &v)
	return v.Value, err
}

// SetVariable sets a channel variable or dialplan function, e.g. "TALK_DETECT(set)" (POST
// /channels/{id}/variable). An empty value unsets it.
func (c *Client) SetVariable(ctx context.Context, channelID, name, value string) error {
	q := params{}
	q.set("variable", name)
	q.set("value", value)
	return c.do(ctx, request{op: "SetVariable", method: http.MethodPost, path: "/channels/" + seg(channelID) + "/variable", query: url.Values(q)}, nil)
}

// DTMFParams are the parameters of SendDTMF.
type DTMFParams struct {
	DTMF     string        // required digits: 0-9 * # A-D, and ',' for a pause
	Before   time.Duration // pause before the first digit (ms)
	Between  time.Duration // pause between digits (ms); default: Asterisk's 100ms
	Duration time.Duration // length of each digit (ms); default: Asterisk's 100ms
	After    time.Duration // pause after the last digit (ms)
}

// SendDTMF sends DTMF digits to a channel (POST /channels/{id}/dtmf).
func (c *Client) SendDTMF(ctx context.Context, channelID string, p DTMFParams) error {
	q := params{}
	q.set("dtmf", p.DTMF)
	q.setMillis("before", p.Before)
	q.setMillis("between", p.Between)
	q.setMillis("duration", p.Duration)
	q.setMillis("after", p.After)
	return c.do(ctx, request{op: "SendDTMF", method: http.MethodPost, path: "/channels/" + seg(channelID) + "/dtmf", query: url.Values(q)}, nil)
}

// MuteChannel mutes a channel's audio in direction both, in or out (POST /channels/{id}/mute).
func (c *Client) MuteChannel(ctx context.Context, channelID, direction string) error {
	q := params{}
	q.set("direction", direction)
	return c.do(ctx, request{op: "MuteChannel", method: http.MethodPost, path: "/channels/" + seg(channelID) + "/mute", query: url.Values(q)}, nil)
}

// UnmuteChannel unmutes a channel (DELETE /channels/{id}/mute).
func (c *Client) UnmuteChannel(ctx context.Context, channelID, direction string) error {
	q := params{}
	q.set("direction", direction)
	return c.do(ctx, request{op: "UnmuteChannel", method: http.MethodDelete, path: "/channels/" + seg(channelID) + "/mute", query: url.Values(q)}, nil)
}
