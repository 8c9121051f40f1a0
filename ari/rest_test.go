package ari

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// seen is one request as the test server received it.
type seen struct {
	method, path string
	query        url.Values
	body         string
	user, pass   string
	authOK       bool
}

// restServer answers every request with status and body, recording what it received.
func restServer(t *testing.T, status int, body string) (*Client, chan seen) {
	t.Helper()
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u, p, ok := r.BasicAuth()
		got <- seen{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.Query(), body: string(b), user: u, pass: p, authOK: ok}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{URL: srv.URL, Username: "bot", Password: "s3cret", App: "outcall"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, got
}

const channelJSON = `{"id":"ch-1","name":"PJSIP/trunk-00000001","state":"Up","protocol_id":"",
"caller":{"name":"Bank","number":"4001234567"},"connected":{"name":"","number":"13800138000"},"accountcode":"",
"dialplan":{"context":"outcall-test","exten":"echo","priority":1,"app_name":"Stasis","app_data":"outcall"},
"creationtime":"2026-11-23T21:42:12.844+0000","language":"en",
"channelvars":{"UNICASTRTP_LOCAL_ADDRESS":"127.0.0.1","UNICASTRTP_LOCAL_PORT":"17000"}}`

func TestRESTOperations(t *testing.T) {
	vars := map[string]string{"CALL_ID": "c1", "X": "y"}
	varsBody := `{"variables":{"CALL_ID":"c1","X":"y"}}`
	tests := []struct {
		name   string
		call   func(ctx context.Context, c *Client) (any, error)
		method string
		path   string
		query  url.Values
		body   string // JSON, compared semantically; "" means empty
		resp   string
		want   any // expected result (nil: not checked)
	}{
		{
			name: "Originate",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Originate(ctx, OriginateParams{Endpoint: "Local/echo@outcall-test", CallerID: `"Bank" <4001234567>`,
					Timeout: 1500 * time.Millisecond, ChannelID: "ch-1", OtherChannelID: "ch-1b", AppArgs: "a,b", Formats: "ulaw", Variables: vars})
			},
			method: "POST", path: "/ari/channels",
			query: url.Values{"endpoint": {"Local/echo@outcall-test"}, "app": {"outcall"}, "callerId": {`"Bank" <4001234567>`},
				"timeout": {"2"}, "channelId": {"ch-1"}, "otherChannelId": {"ch-1b"}, "appArgs": {"a,b"}, "formats": {"ulaw"}},
			body: varsBody, resp: channelJSON,
		},
		{
			name: "OriginateDialplan",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Originate(ctx, OriginateParams{Endpoint: "PJSIP/100", Context: "queues", Extension: "sales", Priority: 1, Label: "l", Originator: "o"})
			},
			method: "POST", path: "/ari/channels",
			query: url.Values{"endpoint": {"PJSIP/100"}, "context": {"queues"}, "extension": {"sales"}, "priority": {"1"}, "label": {"l"}, "originator": {"o"}},
			resp:  channelJSON,
		},
		{
			name: "CreateChannel",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateChannel(ctx, CreateParams{Endpoint: "PJSIP/100", ChannelID: "ch-2", OtherChannelID: "o2", Originator: "x", Formats: "slin16", AppArgs: "q", Variables: vars})
			},
			method: "POST", path: "/ari/channels/create",
			query: url.Values{"endpoint": {"PJSIP/100"}, "app": {"outcall"}, "channelId": {"ch-2"}, "otherChannelId": {"o2"}, "originator": {"x"}, "formats": {"slin16"}, "appArgs": {"q"}},
			body:  varsBody, resp: channelJSON,
		},
		{
			name: "DialChannel",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.DialChannel(ctx, "ch-2", DialParams{Caller: "ch-1", Timeout: 30 * time.Second})
			},
			method: "POST", path: "/ari/channels/ch-2/dial", query: url.Values{"caller": {"ch-1"}, "timeout": {"30"}},
		},
		{
			name:   "ListChannels",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.ListChannels(ctx) },
			method: "GET", path: "/ari/channels", resp: "[" + channelJSON + "]",
		},
		{
			name:   "GetChannel",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.GetChannel(ctx, "ch-1") },
			method: "GET", path: "/ari/channels/ch-1", resp: channelJSON,
		},
		{
			name:   "GetChannelEscapesID",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.GetChannel(ctx, "a/b c") },
			method: "GET", path: "/ari/channels/a%2Fb%20c", resp: channelJSON,
		},
		{name: "Answer", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.Answer(ctx, "ch-1") }, method: "POST", path: "/ari/channels/ch-1/answer"},
		{name: "Ring", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.Ring(ctx, "ch-1") }, method: "POST", path: "/ari/channels/ch-1/ring"},
		{name: "RingStop", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.RingStop(ctx, "ch-1") }, method: "DELETE", path: "/ari/channels/ch-1/ring"},
		{name: "Progress", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.Progress(ctx, "ch-1") }, method: "POST", path: "/ari/channels/ch-1/progress"},
		{name: "HangupReason", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.Hangup(ctx, "ch-1", ReasonBusy) }, method: "DELETE", path: "/ari/channels/ch-1", query: url.Values{"reason": {"busy"}}},
		{name: "HangupCode", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.Hangup(ctx, "ch-1", "21") }, method: "DELETE", path: "/ari/channels/ch-1", query: url.Values{"reason_code": {"21"}}},
		{name: "HangupDefault", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.Hangup(ctx, "ch-1", "") }, method: "DELETE", path: "/ari/channels/ch-1"},
		{
			name: "ContinueInDialplan",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.ContinueInDialplan(ctx, "ch-1", ContinueParams{Context: "queues", Extension: "sales", Priority: 2, Label: "start"})
			},
			method: "POST", path: "/ari/channels/ch-1/continue", query: url.Values{"context": {"queues"}, "extension": {"sales"}, "priority": {"2"}, "label": {"start"}},
		},
		{
			name: "Play",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Play(ctx, "ch-1", PlayParams{Media: []string{"sound:hello-world", "digits:123"}, Lang: "zh", Offset: 1500 * time.Millisecond, Skip: 3 * time.Second, PlaybackID: "pb-1"})
			},
			method: "POST", path: "/ari/channels/ch-1/play",
			query: url.Values{"media": {"sound:hello-world,digits:123"}, "lang": {"zh"}, "offsetms": {"1500"}, "skipms": {"3000"}, "playbackId": {"pb-1"}},
			resp:  `{"id":"pb-1","media_uri":"sound:hello-world","target_uri":"channel:ch-1","language":"zh","state":"queued"}`,
			want:  Playback{ID: "pb-1", MediaURI: "sound:hello-world", TargetURI: "channel:ch-1", Language: "zh", State: "queued"},
		},
		{
			name: "Record",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Record(ctx, "ch-1", RecordParams{Name: "rec-1", Format: "wav", MaxDuration: 60 * time.Second, MaxSilence: 5 * time.Second, IfExists: "overwrite", Beep: true, TerminateOn: "#"})
			},
			method: "POST", path: "/ari/channels/ch-1/record",
			query: url.Values{"name": {"rec-1"}, "format": {"wav"}, "maxDurationSeconds": {"60"}, "maxSilenceSeconds": {"5"}, "ifExists": {"overwrite"}, "beep": {"true"}, "terminateOn": {"#"}},
			resp:  `{"name":"rec-1","format":"wav","target_uri":"channel:ch-1","state":"queued"}`,
			want:  LiveRecording{Name: "rec-1", Format: "wav", TargetURI: "channel:ch-1", State: "queued"},
		},
		{
			name: "Snoop",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Snoop(ctx, "ch-1", SnoopParams{Spy: "in", Whisper: "none", SnoopID: "sn-1", AppArgs: "snoop"})
			},
			method: "POST", path: "/ari/channels/ch-1/snoop",
			query: url.Values{"spy": {"in"}, "whisper": {"none"}, "app": {"outcall"}, "appArgs": {"snoop"}, "snoopId": {"sn-1"}},
			resp:  channelJSON,
		},
		{
			name: "ExternalMedia",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ExternalMedia(ctx, ExternalMediaParams{ChannelID: "em-1", ExternalHost: "127.0.0.1:40000", Format: "slin16",
					Encapsulation: "rtp", Transport: "udp", ConnectionType: "client", Direction: "both", Data: "u", Variables: vars})
			},
			method: "POST", path: "/ari/channels/externalMedia",
			query: url.Values{"app": {"outcall"}, "channelId": {"em-1"}, "external_host": {"127.0.0.1:40000"}, "format": {"slin16"},
				"encapsulation": {"rtp"}, "transport": {"udp"}, "connection_type": {"client"}, "direction": {"both"}, "data": {"u"}},
			body: varsBody, resp: channelJSON,
		},
		{
			name:   "GetVariable",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.GetVariable(ctx, "ch-1", "CALL_ID") },
			method: "GET", path: "/ari/channels/ch-1/variable", query: url.Values{"variable": {"CALL_ID"}},
			resp: `{"value":"c1"}`, want: "c1",
		},
		{
			name: "SetVariable",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.SetVariable(ctx, "ch-1", "TALK_DETECT(set)", "")
			},
			method: "POST", path: "/ari/channels/ch-1/variable", query: url.Values{"variable": {"TALK_DETECT(set)"}},
		},
		{
			name: "SendDTMF",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.SendDTMF(ctx, "ch-1", DTMFParams{DTMF: "12#", Before: time.Second, Between: 200 * time.Millisecond, Duration: 120 * time.Millisecond, After: 50 * time.Millisecond})
			},
			method: "POST", path: "/ari/channels/ch-1/dtmf",
			query: url.Values{"dtmf": {"12#"}, "before": {"1000"}, "between": {"200"}, "duration": {"120"}, "after": {"50"}},
		},
		{name: "MuteChannel", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.MuteChannel(ctx, "ch-1", "in") }, method: "POST", path: "/ari/channels/ch-1/mute", query: url.Values{"direction": {"in"}}},
		{name: "UnmuteChannel", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.UnmuteChannel(ctx, "ch-1", "both") }, method: "DELETE", path: "/ari/channels/ch-1/mute", query: url.Values{"direction": {"both"}}},
		{
			name: "CreateBridge",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateBridge(ctx, CreateBridgeParams{Type: "mixing", BridgeID: "br-1", Name: "call"})
			},
			method: "POST", path: "/ari/bridges", query: url.Values{"type": {"mixing"}, "bridgeId": {"br-1"}, "name": {"call"}},
			resp: `{"id":"br-1","technology":"simple_bridge","bridge_type":"mixing","bridge_class":"stasis","creator":"Stasis","name":"call","channels":[],"creationtime":"2026-11-23T21:42:12.844+0000"}`,
		},
		{name: "ListBridges", call: func(ctx context.Context, c *Client) (any, error) { return c.ListBridges(ctx) }, method: "GET", path: "/ari/bridges", resp: `[]`},
		{name: "GetBridge", call: func(ctx context.Context, c *Client) (any, error) { return c.GetBridge(ctx, "br-1") }, method: "GET", path: "/ari/bridges/br-1", resp: `{"id":"br-1"}`, want: Bridge{ID: "br-1"}},
		{name: "Ping", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.Ping(ctx) }, method: "GET", path: "/ari/asterisk/ping", resp: `{"asterisk_id":"x","ping":"pong","timestamp":"2026-11-23T21:42:12.844+0000"}`},
		{name: "DestroyBridge", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.DestroyBridge(ctx, "br-1") }, method: "DELETE", path: "/ari/bridges/br-1"},
		{
			name: "AddChannel",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.AddChannel(ctx, "br-1", AddChannelParams{Channels: []string{"ch-1", "em-1"}, Role: "participant", AbsorbDTMF: true, Mute: true})
			},
			method: "POST", path: "/ari/bridges/br-1/addChannel",
			query: url.Values{"channel": {"ch-1,em-1"}, "role": {"participant"}, "absorbDTMF": {"true"}, "mute": {"true"}},
		},
		{
			name:   "RemoveChannel",
			call:   func(ctx context.Context, c *Client) (any, error) { return nil, c.RemoveChannel(ctx, "br-1", "em-1") },
			method: "POST", path: "/ari/bridges/br-1/removeChannel", query: url.Values{"channel": {"em-1"}},
		},
		{
			name: "BridgePlay",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.BridgePlay(ctx, "br-1", PlayParams{Media: []string{"tone:ring"}, PlaybackID: "pb-2"})
			},
			method: "POST", path: "/ari/bridges/br-1/play", query: url.Values{"media": {"tone:ring"}, "playbackId": {"pb-2"}},
			resp: `{"id":"pb-2","media_uri":"tone:ring","target_uri":"bridge:br-1","state":"queued"}`,
		},
		{
			name: "BridgeRecord",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.BridgeRecord(ctx, "br-1", RecordParams{Name: "call-1", Format: "wav"})
			},
			method: "POST", path: "/ari/bridges/br-1/record", query: url.Values{"name": {"call-1"}, "format": {"wav"}},
			resp: `{"name":"call-1","format":"wav","state":"recording","target_uri":"bridge:br-1"}`,
		},
		{name: "GetPlayback", call: func(ctx context.Context, c *Client) (any, error) { return c.GetPlayback(ctx, "pb-1") }, method: "GET", path: "/ari/playbacks/pb-1", resp: `{"id":"pb-1","state":"playing"}`, want: Playback{ID: "pb-1", State: "playing"}},
		{name: "StopPlayback", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.StopPlayback(ctx, "pb-1") }, method: "DELETE", path: "/ari/playbacks/pb-1"},
		{name: "ControlPlayback", call: func(ctx context.Context, c *Client) (any, error) {
			return nil, c.ControlPlayback(ctx, "pb-1", PlaybackPause)
		}, method: "POST", path: "/ari/playbacks/pb-1/control", query: url.Values{"operation": {"pause"}}},
		{name: "GetLiveRecording", call: func(ctx context.Context, c *Client) (any, error) { return c.GetLiveRecording(ctx, "rec-1") }, method: "GET", path: "/ari/recordings/live/rec-1", resp: `{"name":"rec-1","duration":3}`, want: LiveRecording{Name: "rec-1", Duration: 3}},
		{name: "StopRecording", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.StopRecording(ctx, "rec-1") }, method: "POST", path: "/ari/recordings/live/rec-1/stop"},
		{name: "CancelRecording", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.CancelRecording(ctx, "rec-1") }, method: "DELETE", path: "/ari/recordings/live/rec-1"},
		{name: "PauseRecording", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.PauseRecording(ctx, "rec-1") }, method: "POST", path: "/ari/recordings/live/rec-1/pause"},
		{name: "UnpauseRecording", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.UnpauseRecording(ctx, "rec-1") }, method: "DELETE", path: "/ari/recordings/live/rec-1/pause"},
		{name: "MuteRecording", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.MuteRecording(ctx, "rec-1") }, method: "POST", path: "/ari/recordings/live/rec-1/mute"},
		{name: "UnmuteRecording", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.UnmuteRecording(ctx, "rec-1") }, method: "DELETE", path: "/ari/recordings/live/rec-1/mute"},
		{
			name:   "ListStoredRecordings",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.ListStoredRecordings(ctx) },
			method: "GET", path: "/ari/recordings/stored", resp: `[{"name":"a","format":"wav"}]`, want: []StoredRecording{{Name: "a", Format: "wav"}},
		},
		{name: "GetStoredRecording", call: func(ctx context.Context, c *Client) (any, error) { return c.GetStoredRecording(ctx, "a") }, method: "GET", path: "/ari/recordings/stored/a", resp: `{"name":"a","format":"wav"}`, want: StoredRecording{Name: "a", Format: "wav"}},
		{name: "DeleteStoredRecording", call: func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteStoredRecording(ctx, "a") }, method: "DELETE", path: "/ari/recordings/stored/a"},
		{
			name:   "CopyStoredRecording",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.CopyStoredRecording(ctx, "a", "b") },
			method: "POST", path: "/ari/recordings/stored/a/copy", query: url.Values{"destinationRecordingName": {"b"}},
			resp: `{"name":"b","format":"wav"}`, want: StoredRecording{Name: "b", Format: "wav"},
		},
		{
			name: "StoredRecordingFile",
			call: func(ctx context.Context, c *Client) (any, error) {
				rc, err := c.StoredRecordingFile(ctx, "a")
				if err != nil {
					return nil, err
				}
				defer rc.Close()
				b, err := io.ReadAll(rc)
				return string(b), err
			},
			method: "GET", path: "/ari/recordings/stored/a/file", resp: "RIFF....WAVE", want: "RIFF....WAVE",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, got := restServer(t, http.StatusOK, tt.resp)
			res, err := tt.call(t.Context(), c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			r := <-got
			if r.method != tt.method || r.path != tt.path {
				t.Errorf("request = %s %s, want %s %s", r.method, r.path, tt.method, tt.path)
			}
			wantQ := tt.query
			if wantQ == nil {
				wantQ = url.Values{}
			}
			if !reflect.DeepEqual(r.query, wantQ) {
				t.Errorf("query = %v, want %v", r.query, wantQ)
			}
			if tt.body == "" {
				if r.body != "" {
					t.Errorf("body = %q, want none", r.body)
				}
			} else {
				var g, w any
				if err := json.Unmarshal([]byte(r.body), &g); err != nil {
					t.Fatalf("body %q: %v", r.body, err)
				}
				_ = json.Unmarshal([]byte(tt.body), &w)
				if !reflect.DeepEqual(g, w) {
					t.Errorf("body = %s, want %s", r.body, tt.body)
				}
			}
			if !r.authOK || r.user != "bot" || r.pass != "s3cret" {
				t.Errorf("basic auth = %q/%q (%v)", r.user, r.pass, r.authOK)
			}
			if tt.want != nil && !reflect.DeepEqual(res, tt.want) {
				t.Errorf("result = %#v, want %#v", res, tt.want)
			}
		})
	}
}

func TestChannelDecoding(t *testing.T) {
	c, _ := restServer(t, http.StatusOK, channelJSON)
	ch, err := c.GetChannel(t.Context(), "ch-1")
	if err != nil {
		t.Fatal(err)
	}
	want := Channel{
		ID: "ch-1", Name: "PJSIP/trunk-00000001", State: "Up",
		Caller:       CallerID{Name: "Bank", Number: "4001234567"},
		Connected:    CallerID{Number: "13800138000"},
		Dialplan:     DialplanCEP{Context: "outcall-test", Exten: "echo", Priority: 1, AppName: "Stasis", AppData: "outcall"},
		CreationTime: Time{time.Date(2026, 11, 23, 21, 42, 12, 844e6, time.UTC)},
		Language:     "en",
		ChannelVars:  map[string]string{"UNICASTRTP_LOCAL_ADDRESS": "127.0.0.1", "UNICASTRTP_LOCAL_PORT": "17000"},
	}
	if !ch.CreationTime.Equal(want.CreationTime.Time) {
		t.Errorf("creationtime = %v, want %v", ch.CreationTime, want.CreationTime)
	}
	ch.CreationTime = want.CreationTime
	if !reflect.DeepEqual(ch, want) {
		t.Errorf("channel = %#v\nwant %#v", ch, want)
	}
}

func TestRESTErrors(t *testing.T) {
	tests := []struct {
		status   int
		body     string
		sentinel error
		message  string
	}{
		{400, `{"message":"Invalid parameters"}`, ErrBadRequest, "Invalid parameters"},
		{401, `{"message":"Authentication required"}`, ErrUnauthorized, "Authentication required"},
		{403, `{"message":"Recording in use"}`, ErrForbidden, "Recording in use"},
		{404, `{"message":"Channel not found"}`, ErrNotFound, "Channel not found"},
		{409, `{"message":"Channel not in Stasis application"}`, ErrConflict, "Channel not in Stasis application"},
		{412, `{"message":"Channel in invalid state"}`, ErrInvalidState, "Channel in invalid state"},
		{422, `{"message":"Recording format not supported"}`, ErrUnprocessable, "Recording format not supported"},
		{500, `<html>Internal Server Error</html>`, ErrServer, "<html>Internal Server Error</html>"},
		{501, `{"error":"Unsupported encapsulation"}`, ErrServer, "Unsupported encapsulation"},
	}
	all := []error{ErrBadRequest, ErrUnauthorized, ErrForbidden, ErrNotFound, ErrConflict, ErrInvalidState, ErrUnprocessable, ErrServer}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			c, _ := restServer(t, tt.status, tt.body)
			err := c.Answer(t.Context(), "ch-1")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if e.Status != tt.status || e.Message != tt.message || e.Op != "Answer" {
				t.Errorf("error = %+v", e)
			}
			for _, s := range all {
				if errors.Is(err, s) != (s == tt.sentinel) {
					t.Errorf("errors.Is(err, %v) = %v", s, errors.Is(err, s))
				}
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Error() = %q lacks the message", err.Error())
			}
		})
	}
}

func TestRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, err := New(Config{URL: srv.URL, App: "a", RequestTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Answer(t.Context(), "x")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}

func TestClosedClient(t *testing.T) {
	c, _ := restServer(t, 200, "")
	_ = c.Close()
	if err := c.Answer(t.Context(), "x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
	if err := c.Start(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start err = %v, want ErrClosed", err)
	}
	s := c.Subscribe("x")
	if _, ok := <-s.Events(); ok {
		t.Fatal("subscription of a closed client is open")
	}
}

func TestBadResponseJSON(t *testing.T) {
	c, _ := restServer(t, 200, `{"id": 5`)
	if _, err := c.GetChannel(t.Context(), "x"); err == nil || !strings.Contains(err.Error(), "decoding response") {
		t.Fatalf("err = %v", err)
	}
}

// TestNoPhoneNumberInErrorsOrLogs: the endpoint (a phone number) travels in the query string, which must not
// surface in errors or debug logs.
func TestNoPhoneNumberInErrorsOrLogs(t *testing.T) {
	var logs strings.Builder
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	for _, target := range []string{deadURL, ""} {
		url := target
		if url == "" {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"message":"Allocation failed"}`)
			}))
			defer srv.Close()
			url = srv.URL
		}
		c, err := New(Config{URL: url, App: "a", Username: "u", Password: "pa55word", Logger: zerolog.New(&logs).Level(zerolog.DebugLevel)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Originate(t.Context(), OriginateParams{Endpoint: "PJSIP/13800138000@trunk", CallerID: "4001234567"})
		if err == nil {
			t.Fatal("originate succeeded")
		}
		for _, secret := range []string{"13800138000", "4001234567", "pa55word"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q leaks %s", err, secret)
			}
		}
		_ = c.Close()
	}
	if logs.Len() == 0 {
		t.Fatal("no debug logs written")
	}
	for _, secret := range []string{"13800138000", "4001234567", "pa55word"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs leak %s:\n%s", secret, logs.String())
		}
	}
}
