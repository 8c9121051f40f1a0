package ari

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Event shapes as a real Asterisk 23 sends them for an originate to Local/hangup@outcall-test (pbx-protocols §1b):
// both halves of the Local channel (;1 is ours, ;2 the dialplan side) appear.
const (
	evLocal1Up = `{"id":"ch-1","name":"Local/hangup@outcall-test-00000001;1","state":"Up","protocol_id":"","caller":{"name":"","number":""},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"default","exten":"s","priority":1,"app_name":"","app_data":""},"creationtime":"2026-11-23T21:42:12.844+0000","language":"en"}`
	evLocal2Up = `{"id":"1795470132.42","name":"Local/hangup@outcall-test-00000001;2","state":"Up","protocol_id":"","caller":{"name":"","number":""},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"outcall-test","exten":"hangup","priority":1,"app_name":"Answer","app_data":""},"creationtime":"2026-11-23T21:42:12.845+0000","language":"en"}`
	hdr        = `"asterisk_id":"02:42:ac:11:00:02","application":"outcall","timestamp":"2026-11-23T21:42:12.900+0000"`
)

var decodeCases = []struct {
	name string
	json string
	typ  string
	ids  []string
	// check inspects the typed event.
	check func(t *testing.T, ev Event)
}{
	{"DialStart", `{"type":"Dial",` + hdr + `,"dialstatus":"","forward":"","dialstring":"hangup@outcall-test","peer":` + evLocal1Up + `}`, "Dial", []string{"ch-1"},
		func(t *testing.T, ev Event) {
			d := ev.(*Dial)
			if d.Dialstatus != "" || d.Peer.ID != "ch-1" || d.Caller != nil || d.Dialstring != "hangup@outcall-test" {
				t.Errorf("dial = %+v", d)
			}
		}},
	{"ChannelDialplan", `{"type":"ChannelDialplan",` + hdr + `,"dialplan_app":"Answer","dialplan_app_data":"","channel":` + evLocal2Up + `}`, "ChannelDialplan", []string{"1795470132.42"},
		func(t *testing.T, ev Event) {
			if e := ev.(*ChannelDialplan); e.DialplanApp != "Answer" || e.Channel.Dialplan.Exten != "hangup" {
				t.Errorf("%+v", e)
			}
		}},
	{"ChannelStateChange", `{"type":"ChannelStateChange",` + hdr + `,"channel":` + evLocal1Up + `}`, "ChannelStateChange", []string{"ch-1"},
		func(t *testing.T, ev Event) {
			if e := ev.(*ChannelStateChange); e.Channel.State != "Up" || !strings.HasSuffix(e.Channel.Name, ";1") {
				t.Errorf("%+v", e)
			}
		}},
	{"DialAnswer", `{"type":"Dial",` + hdr + `,"dialstatus":"ANSWER","forward":"","dialstring":"hangup@outcall-test","peer":` + evLocal1Up + `}`, "Dial", []string{"ch-1"},
		func(t *testing.T, ev Event) {
			if ev.(*Dial).Dialstatus != "ANSWER" {
				t.Error("dialstatus")
			}
		}},
	{"ChannelVarset", `{"type":"ChannelVarset",` + hdr + `,"variable":"STASISSTATUS","value":"","channel":` + evLocal1Up + `}`, "ChannelVarset", []string{"ch-1"},
		func(t *testing.T, ev Event) {
			if e := ev.(*ChannelVarset); e.Variable != "STASISSTATUS" || e.Channel == nil {
				t.Errorf("%+v", e)
			}
		}},
	{"GlobalVarset", `{"type":"ChannelVarset",` + hdr + `,"variable":"G","value":"1"}`, "ChannelVarset", nil, nil},
	{"StasisStart", `{"type":"StasisStart",` + hdr + `,"args":[],"channel":` + evLocal1Up + `}`, "StasisStart", []string{"ch-1"},
		func(t *testing.T, ev Event) {
			e := ev.(*StasisStart)
			if e.Args == nil || len(e.Args) != 0 || e.Channel.State != "Up" || e.ReplaceChannel != nil {
				t.Errorf("%+v", e)
			}
			h := e.Header()
			if h.AsteriskID != "02:42:ac:11:00:02" || h.Application != "outcall" ||
				!h.Timestamp.Equal(time.Date(2026, 11, 23, 21, 42, 12, 900e6, time.UTC)) {
				t.Errorf("header = %+v", h)
			}
		}},
	{"StasisStartReplace", `{"type":"StasisStart",` + hdr + `,"args":["a","b"],"channel":` + evLocal1Up + `,"replace_channel":` + evLocal2Up + `}`, "StasisStart", []string{"ch-1", "1795470132.42"}, nil},
	{"ChannelHangupRequest", `{"type":"ChannelHangupRequest",` + hdr + `,"soft":true,"cause":16,"channel":` + evLocal2Up + `}`, "ChannelHangupRequest", []string{"1795470132.42"},
		func(t *testing.T, ev Event) {
			if e := ev.(*ChannelHangupRequest); e.Cause != 16 || !e.Soft {
				t.Errorf("%+v", e)
			}
		}},
	{"ChannelDestroyed", `{"type":"ChannelDestroyed",` + hdr + `,"cause":16,"cause_txt":"Normal Clearing","channel":` + evLocal1Up + `}`, "ChannelDestroyed", []string{"ch-1"},
		func(t *testing.T, ev Event) {
			if e := ev.(*ChannelDestroyed); e.Cause != 16 || e.CauseTxt != "Normal Clearing" {
				t.Errorf("%+v", e)
			}
		}},
	{"ChannelDestroyedBusy", `{"type":"ChannelDestroyed",` + hdr + `,"cause":0,"cause_txt":"Unknown","channel":` + evLocal1Up + `}`, "ChannelDestroyed", []string{"ch-1"}, nil},
	{"StasisEnd", `{"type":"StasisEnd",` + hdr + `,"channel":` + evLocal1Up + `}`, "StasisEnd", []string{"ch-1"}, nil},
	{"ChannelCreated", `{"type":"ChannelCreated",` + hdr + `,"channel":` + evLocal1Up + `}`, "ChannelCreated", []string{"ch-1"}, nil},
	{"ChannelDtmfReceived", `{"type":"ChannelDtmfReceived",` + hdr + `,"digit":"1","duration_ms":120,"channel":` + evLocal1Up + `}`, "ChannelDtmfReceived", []string{"ch-1"},
		func(t *testing.T, ev Event) {
			if e := ev.(*ChannelDtmfReceived); e.Digit != "1" || e.DurationMS != 120 {
				t.Errorf("%+v", e)
			}
		}},
	{"TalkingStarted", `{"type":"ChannelTalkingStarted",` + hdr + `,"channel":` + evLocal1Up + `}`, "ChannelTalkingStarted", []string{"ch-1"}, nil},
	{"TalkingFinished", `{"type":"ChannelTalkingFinished",` + hdr + `,"duration":1480,"channel":` + evLocal1Up + `}`, "ChannelTalkingFinished", []string{"ch-1"},
		func(t *testing.T, ev Event) {
			if ev.(*ChannelTalkingFinished).Duration != 1480 {
				t.Error("duration")
			}
		}},
	{"ChannelCallerId", `{"type":"ChannelCallerId",` + hdr + `,"caller_presentation":0,"caller_presentation_txt":"Presentation Allowed, Not Screened","channel":` + evLocal1Up + `}`, "ChannelCallerId", []string{"ch-1"}, nil},
	{"ChannelConnectedLine", `{"type":"ChannelConnectedLine",` + hdr + `,"channel":` + evLocal1Up + `}`, "ChannelConnectedLine", []string{"ch-1"}, nil},
	{"ChannelHold", `{"type":"ChannelHold",` + hdr + `,"musicclass":"default","channel":` + evLocal1Up + `}`, "ChannelHold", []string{"ch-1"}, nil},
	{"ChannelUnhold", `{"type":"ChannelUnhold",` + hdr + `,"channel":` + evLocal1Up + `}`, "ChannelUnhold", []string{"ch-1"}, nil},
	{"ChannelToneDetected", `{"type":"ChannelToneDetected",` + hdr + `,"channel":` + evLocal1Up + `}`, "ChannelToneDetected", []string{"ch-1"}, nil},
	{"ChannelUserevent", `{"type":"ChannelUserevent",` + hdr + `,"eventname":"x","userevent":{"k":"v"},"channel":` + evLocal1Up + `,"bridge":{"id":"br-1"}}`, "ChannelUserevent", []string{"ch-1", "br-1"}, nil},
	{"PlaybackStarted", `{"type":"PlaybackStarted",` + hdr + `,"playback":{"id":"pb-1","media_uri":"sound:hello-world","target_uri":"channel:ch-1","language":"en","state":"playing"}}`, "PlaybackStarted", []string{"pb-1", "ch-1"}, nil},
	{"PlaybackContinuing", `{"type":"PlaybackContinuing",` + hdr + `,"playback":{"id":"pb-1","media_uri":"sound:a","next_media_uri":"sound:b","target_uri":"channel:ch-1","state":"continuing"}}`, "PlaybackContinuing", []string{"pb-1", "ch-1"}, nil},
	{"PlaybackFinished", `{"type":"PlaybackFinished",` + hdr + `,"playback":{"id":"pb-2","media_uri":"tone:ring","target_uri":"bridge:br-1","state":"done"}}`, "PlaybackFinished", []string{"pb-2", "br-1"},
		func(t *testing.T, ev Event) {
			if ev.(*PlaybackFinished).Playback.State != "done" {
				t.Error("state")
			}
		}},
	{"RecordingStarted", `{"type":"RecordingStarted",` + hdr + `,"recording":{"name":"rec-1","format":"wav","state":"recording","target_uri":"channel:ch-1"}}`, "RecordingStarted", []string{"rec-1", "ch-1"}, nil},
	{"RecordingFinished", `{"type":"RecordingFinished",` + hdr + `,"recording":{"name":"rec-1","format":"wav","state":"done","target_uri":"channel:ch-1","duration":7,"talking_duration":5,"silence_duration":2}}`, "RecordingFinished", []string{"rec-1", "ch-1"},
		func(t *testing.T, ev Event) {
			if r := ev.(*RecordingFinished).Recording; r.Duration != 7 || r.TalkingDuration != 5 || r.SilenceDuration != 2 {
				t.Errorf("%+v", r)
			}
		}},
	{"RecordingFailed", `{"type":"RecordingFailed",` + hdr + `,"recording":{"name":"rec-1","format":"wav","state":"failed","cause":"disk full","target_uri":"bridge:br-1"}}`, "RecordingFailed", []string{"rec-1", "br-1"}, nil},
	{"BridgeCreated", `{"type":"BridgeCreated",` + hdr + `,"bridge":{"id":"br-1","technology":"simple_bridge","bridge_type":"mixing","bridge_class":"stasis","creator":"Stasis","name":"","channels":[],"creationtime":"2026-11-23T21:42:13.000+0000","video_mode":"none"}}`, "BridgeCreated", []string{"br-1"}, nil},
	{"BridgeDestroyed", `{"type":"BridgeDestroyed",` + hdr + `,"bridge":{"id":"br-1","channels":[]}}`, "BridgeDestroyed", []string{"br-1"}, nil},
	{"BridgeMerged", `{"type":"BridgeMerged",` + hdr + `,"bridge":{"id":"br-1"},"bridge_from":{"id":"br-2"}}`, "BridgeMerged", []string{"br-1", "br-2"}, nil},
	{"ChannelEnteredBridge", `{"type":"ChannelEnteredBridge",` + hdr + `,"bridge":{"id":"br-1","channels":["ch-1"]},"channel":` + evLocal1Up + `}`, "ChannelEnteredBridge", []string{"br-1", "ch-1"}, nil},
	{"ChannelLeftBridge", `{"type":"ChannelLeftBridge",` + hdr + `,"bridge":{"id":"br-1","channels":[]},"channel":` + evLocal1Up + `}`, "ChannelLeftBridge", []string{"br-1", "ch-1"}, nil},
	{"ApplicationReplaced", `{"type":"ApplicationReplaced",` + hdr + `}`, "ApplicationReplaced", nil, nil},
	{"UnknownWithChannel", `{"type":"CallClaimed",` + hdr + `,"channel":{"id":"ch-9"},"claimer":"node2"}`, "CallClaimed", []string{"ch-9"},
		func(t *testing.T, ev Event) {
			r := ev.(*RawEvent)
			if !strings.Contains(string(r.Raw), `"claimer":"node2"`) || r.Application != "outcall" {
				t.Errorf("%+v", r)
			}
		}},
	{"UnknownOddShapes", `{"type":"FutureEvent",` + hdr + `,"channel":"not-an-object","peer":[1,2]}`, "FutureEvent", nil,
		func(t *testing.T, ev Event) {
			if r := ev.(*RawEvent); r.AsteriskID != "02:42:ac:11:00:02" {
				t.Errorf("header lost: %+v", r.EventHeader)
			}
		}},
	{"TypeNotFirst", `{"application":"outcall","channel":` + evLocal1Up + `,"type":"StasisEnd"}`, "StasisEnd", []string{"ch-1"}, nil},
	{"PrettyPrinted", "{\n  \"type\" : \"StasisEnd\",\n  \"application\": \"outcall\",\n  \"channel\": {\n    \"id\": \"ch-1\"\n  }\n}", "StasisEnd", []string{"ch-1"}, nil},
}

func TestDecodeEvent(t *testing.T) {
	for _, tt := range decodeCases {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := DecodeEvent([]byte(tt.json))
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			if ev.Type() != tt.typ || ev.Header().EventType != tt.typ {
				t.Errorf("type = %q / %q, want %q", ev.Type(), ev.Header().EventType, tt.typ)
			}
			if got := ev.ChannelIDs(); !reflect.DeepEqual(got, tt.ids) && !(len(got) == 0 && len(tt.ids) == 0) {
				t.Errorf("ChannelIDs = %q, want %q", got, tt.ids)
			}
			if _, raw := ev.(*RawEvent); raw != !knownType(tt.typ) {
				t.Errorf("%T for type %q", ev, tt.typ)
			}
			if tt.check != nil {
				tt.check(t, ev)
			}
		})
	}
}

func knownType(t string) bool { _, ok := eventFactories[t]; return ok }

func TestDecodeEventMalformed(t *testing.T) {
	for _, in := range []string{
		``, `null`, `[]`, `"StasisStart"`, `{}`, `{"type":""}`, `{"type":5}`, `{"type":"StasisStart"`,
		`{"type":"StasisStart","channel":"x"}`, `{"type":"ChannelDestroyed","cause":"sixteen"}`,
		`{"type":"Unknown","x":}`, `{"application":"a"}`, `{"type":"Dial","timestamp":"noon"}`, `{"a":1,"type":[]}`,
	} {
		ev, err := DecodeEvent([]byte(in))
		if err == nil || !errors.Is(err, ErrMalformedEvent) {
			t.Errorf("DecodeEvent(%q) = %v, %v; want ErrMalformedEvent", in, ev, err)
		}
	}
}

func TestDuplicateTypeKey(t *testing.T) {
	ev, err := DecodeEvent([]byte(`{"type":"StasisEnd","type":"StasisStart","channel":{"id":"c"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ev.(*StasisEnd); !ok || ev.Type() != "StasisEnd" {
		t.Fatalf("got %T %q", ev, ev.Type())
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, tt := range decodeCases {
		f.Add([]byte(tt.json))
	}
	f.Add([]byte(`{"type":"StasisStart","channel":{"channelvars":{"a":1}}}`))
	f.Add([]byte(`{"type":"X","playback":{"id":"p","target_uri":"channel:"}}`))
	f.Add([]byte("{\"type\":\"A\\u0042\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := DecodeEvent(data)
		if err != nil {
			if !errors.Is(err, ErrMalformedEvent) {
				t.Fatalf("error %v does not wrap ErrMalformedEvent", err)
			}
			if ev != nil {
				t.Fatal("event with error")
			}
			return
		}
		if ev.Type() == "" {
			t.Fatal("decoded event without type")
		}
		for _, id := range ev.ChannelIDs() {
			if id == "" {
				t.Fatal("empty id in ChannelIDs")
			}
		}
		if r, ok := ev.(*RawEvent); ok && knownType(r.Type()) {
			t.Fatalf("known type %q decoded raw", r.Type())
		}
	})
}

func BenchmarkDecodeEvent(b *testing.B) {
	for _, name := range []string{"StasisStart", "ChannelDtmfReceived", "PlaybackFinished", "UnknownWithChannel"} {
		var data []byte
		for _, tt := range decodeCases {
			if tt.name == name {
				data = []byte(tt.json)
			}
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				if _, err := DecodeEvent(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
