package outbound

import (
	"errors"
	"strings"
	"testing"

	"github.com/outcall/outcall/pkg/audio/vad"
)

func TestFromEnv(t *testing.T) {
	cases := []struct {
		name  string
		env   map[string]string
		errs  []string // substrings the error must hold; none: no error
		sim   bool
		pbx   string // the PBX chosen; empty: not checked
		dial  string // the dial endpoint template; empty: not checked
		check func(Env) bool
	}{
		{name: "nothing set: simulator", env: nil, sim: true, pbx: "asterisk", dial: "PJSIP/{number}@trunk"},
		{name: "freeswitch simulator", env: map[string]string{"PBX": "freeswitch"}, sim: true, pbx: "freeswitch",
			dial: "sofia/gateway/trunk/{number}"},
		{name: "pbx in any case", env: map[string]string{"PBX": " FreeSWITCH "}, sim: true, pbx: "freeswitch"},
		{name: "asterisk named", env: map[string]string{"PBX": "asterisk"}, sim: true, pbx: "asterisk"},
		{name: "freeswitch simulator with loopback", env: map[string]string{"PBX": "freeswitch", "DIAL_ENDPOINT": "loopback/{number}"},
			sim: true, dial: "loopback/{number}"},
		{name: "unknown pbx", env: map[string]string{"PBX": "yate"}, errs: []string{`PBX="yate": want asterisk or freeswitch`}},
		{name: "freeswitch and ari", env: map[string]string{"PBX": "freeswitch", "ARI_URL": "http://a:8088", "DIAL_ENDPOINT": "PJSIP/{number}@t"},
			errs: []string{"PBX=freeswitch but ARI_URL is set: choose one PBX"}},
		{name: "asterisk and esl", env: map[string]string{"PBX": "asterisk", "FS_ESL_ADDR": "10.0.0.6:8021", "FS_ESL_PASSWORD": "x",
			"DIAL_ENDPOINT": "sofia/gateway/trunk/{number}"}, errs: []string{"PBX=asterisk but FS_ESL_ADDR is set: choose one PBX"}},
		{name: "esl implies freeswitch", env: map[string]string{"FS_ESL_ADDR": "10.0.0.6:8021", "FS_ESL_PASSWORD": "x",
			"DIAL_ENDPOINT": "sofia/gateway/trunk/{number}"}, pbx: "freeswitch"},
		{name: "esl with pbx freeswitch", env: map[string]string{"PBX": "freeswitch", "FS_ESL_ADDR": "10.0.0.6:8021", "FS_ESL_PASSWORD": "x",
			"DIAL_ENDPOINT": "sofia/gateway/trunk/{number}"}, pbx: "freeswitch"},
		{name: "asterisk dial string on the freeswitch simulator", env: map[string]string{"PBX": "freeswitch", "DIAL_ENDPOINT": "PJSIP/{number}@trunk"},
			errs: []string{"the FreeSWITCH simulator dials sofia/gateway"}},
		{name: "real asr on the freeswitch simulator", env: map[string]string{"PBX": "freeswitch", "ASR": "vosk", "VOSK_URL": "ws://127.0.0.1:2700"},
			errs: []string{"cannot understand the simulator"}},
		{name: "real asterisk", env: map[string]string{"ARI_URL": "http://10.0.0.5:8088", "ARI_USERNAME": "u", "ARI_PASSWORD": "p",
			"DIAL_ENDPOINT": "PJSIP/{number}@trunk"}},
		{name: "ari without endpoint", env: map[string]string{"ARI_URL": "http://10.0.0.5:8088"}, errs: []string{"DIAL_ENDPOINT is empty"}},
		{name: "ari user without password", env: map[string]string{"ARI_URL": "http://a:8088", "ARI_USERNAME": "u",
			"DIAL_ENDPOINT": "PJSIP/{number}@trunk"}, errs: []string{"ARI_USERNAME and ARI_PASSWORD together"}},
		{name: "ari password without url", env: map[string]string{"ARI_PASSWORD": "p", "ARI_USERNAME": "u"}, errs: []string{"missing ARI_URL"}},
		{name: "endpoint without placeholder", env: map[string]string{"DIAL_ENDPOINT": "PJSIP/100@trunk"}, errs: []string{"no {number}"}},
		{name: "ari transport and format", env: map[string]string{"ARI_TRANSPORT": "AudioSocket", "ARI_FORMAT": "slin16"}, sim: true,
			check: func(e Env) bool { return e.ARITransport == "audiosocket" && e.ARIFormat == "slin16" }},
		{name: "ari websocket", env: map[string]string{"ARI_TRANSPORT": "websocket"}, sim: true,
			check: func(e Env) bool { return e.ARITransport == "websocket" && e.ARIFormat == "" }},
		{name: "unknown ari transport", env: map[string]string{"ARI_TRANSPORT": "sctp"}, errs: []string{`ARI_TRANSPORT="sctp": want rtp, audiosocket or websocket`}},
		{name: "unknown ari format", env: map[string]string{"ARI_FORMAT": "alaw"}, errs: []string{`ARI_FORMAT="alaw": want ulaw or slin16`}},
		{name: "fs media", env: map[string]string{"PBX": "freeswitch", "FS_MEDIA": "broadcast"}, sim: true,
			check: func(e Env) bool { return e.FSMedia == "broadcast" }},
		{name: "fs media unicast passes through", env: map[string]string{"FS_ESL_ADDR": "10.0.0.6:8021", "FS_ESL_PASSWORD": "x",
			"DIAL_ENDPOINT": "sofia/gateway/trunk/{number}", "FS_MEDIA": "unicast"}, check: func(e Env) bool { return e.FSMedia == "unicast" }},
		{name: "unknown fs media", env: map[string]string{"PBX": "freeswitch", "FS_MEDIA": "rtp"}, errs: []string{`FS_MEDIA="rtp": want unicast, stream or broadcast`}},
		{name: "fs media on asterisk", env: map[string]string{"FS_MEDIA": "stream"}, errs: []string{"FS_MEDIA is for FreeSWITCH"}},
		{name: "ari transport on freeswitch", env: map[string]string{"PBX": "freeswitch", "ARI_TRANSPORT": "rtp"}, errs: []string{"ARI_TRANSPORT and ARI_FORMAT are for Asterisk"}},
		{name: "malformed redis url", env: map[string]string{"REDIS_URL": "localhost:6379"}, errs: []string{`REDIS_URL "localhost:6379"`, "redis://host:6379/0"}},
		{name: "redis url", env: map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0"}, sim: true},
		{name: "redis cluster url", env: map[string]string{"REDIS_URL": "redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002"}, sim: true},
		{name: "malformed ari url", env: map[string]string{"ARI_URL": "127.0.0.1:8088", "DIAL_ENDPOINT": "PJSIP/{number}@t"}, errs: []string{`ARI_URL "127.0.0.1:8088": want http(s)://host:port`}},
		{name: "malformed openai base", env: map[string]string{"LLM_MODEL": "m", "OPENAI_BASE_URL": "127.0.0.1:11434"}, errs: []string{"OPENAI_BASE_URL"}},
		{name: "every problem at once", env: map[string]string{"ARI_TRANSPORT": "x", "ASR": "y", "TTS": "z"},
			errs: []string{"ARI_TRANSPORT", "ASR=\"y\"", "TTS=\"z\""}},
		{name: "freeswitch without password", env: map[string]string{"FS_ESL_ADDR": "127.0.0.1:8021"}, errs: []string{"FS_ESL_ADDR and FS_ESL_PASSWORD together"}},
		{name: "freeswitch", env: map[string]string{"FS_ESL_ADDR": "10.0.0.6:8021", "FS_ESL_PASSWORD": "ClueCon",
			"DIAL_ENDPOINT": "sofia/gateway/trunk/{number}"}},
		{name: "two PBXs", env: map[string]string{"FS_ESL_ADDR": "10.0.0.6:8021", "FS_ESL_PASSWORD": "x", "ARI_URL": "http://a:8088",
			"DIAL_ENDPOINT": "PJSIP/{number}@t"}, errs: []string{"choose one PBX"}},
		{name: "freeswitch bad address", env: map[string]string{"FS_ESL_ADDR": "fs.local", "FS_ESL_PASSWORD": "x",
			"DIAL_ENDPOINT": "sofia/gateway/trunk/{number}"}, errs: []string{"want host:port"}},
		{name: "openai asr without key", env: map[string]string{"ASR": "openai", "ARI_URL": "http://a:8088", "DIAL_ENDPOINT": "PJSIP/{number}@t"},
			errs: []string{"ASR=openai needs OPENAI_API_KEY"}},
		{name: "real asr on the simulator", env: map[string]string{"ASR": "vosk", "VOSK_URL": "ws://127.0.0.1:2700"},
			errs: []string{"cannot understand the simulator"}},
		{name: "unknown tts and funasr without url", env: map[string]string{"TTS": "azure", "ASR": "funasr", "ARI_URL": "http://a:8088",
			"DIAL_ENDPOINT": "PJSIP/{number}@t"}, errs: []string{`TTS="azure"`, "FUNASR_URL"}},
		{name: "model without endpoint", env: map[string]string{"LLM_MODEL": "qwen"}, errs: []string{"LLM_MODEL is set"}},
		{name: "vad default energy, flite", env: map[string]string{"TTS": "flite"}, sim: true,
			check: func(e Env) bool { return e.VAD == "energy" && e.TTS == "flite" }},
		{name: "vad in any case", env: map[string]string{"VAD": " Energy "}, sim: true, check: func(e Env) bool { return e.VAD == "energy" }},
		{name: "unknown vad", env: map[string]string{"VAD": "cobra"}, errs: []string{`VAD="cobra": want energy, webrtc, silero`}},
		{name: "espeak and a local model", env: map[string]string{"TTS": "espeak", "LLM_MODEL": "qwen", "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}, sim: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := fromLookup(func(k string) string { return tc.env[k] })
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if e.Simulated() != tc.sim {
					t.Errorf("simulated %v", e.Simulated())
				}
				if tc.pbx != "" && e.PBX != tc.pbx {
					t.Errorf("PBX %q, want %q", e.PBX, tc.pbx)
				}
				if tc.dial != "" && e.DialEndpoint != tc.dial {
					t.Errorf("DialEndpoint %q, want %q", e.DialEndpoint, tc.dial)
				}
				if tc.check != nil && !tc.check(e) {
					t.Errorf("env %+v", e)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err %v, want ErrConfig", err)
			}
			for _, s := range tc.errs {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
	if d := Simulated(Asterisk); !d.Simulated() || d.PBX != Asterisk || d.ASR != "fake" || d.TTS != "fake" || d.MediaHost != "127.0.0.1" || d.DialEndpoint == "" {
		t.Errorf("default %+v", d)
	}
	if d := Simulated(FreeSWITCH); !d.Simulated() || d.PBX != FreeSWITCH || d.DialEndpoint != "sofia/gateway/trunk/{number}" {
		t.Errorf("default on freeswitch %+v", d)
	}
}

func TestEndpointNumber(t *testing.T) {
	for in, want := range map[string]string{"PJSIP/collections-queue": "collections-queue", "PJSIP/8001@trunk": "8001",
		"Local/agent@outcall-test": "agent", "SIP/trunk/sip:13800138000@host": "13800138000",
		"sofia/gateway/trunk/agent": "agent", "loopback/8001": "8001"} {
		if got := endpointNumber(in); got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
}

// TestRedisURLErrorHidesPassword: a malformed REDIS_URL is reported without the password it holds.
func TestRedisURLErrorHidesPassword(t *testing.T) {
	for _, u := range []string{"redis://:s3cret-pw@127.0.0.1:6379/0?bogus=1",
		"redis://:s3cret-pw@127.0.0.1:6379?addr=127.0.0.1:7001&bogus=1"} {
		t.Setenv("REDIS_URL", u)
		_, err := FromEnv()
		if err == nil || !strings.Contains(err.Error(), "REDIS_URL") || strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("REDIS_URL %s: error %v; want it reported without the password", u, err)
		}
	}
}

func TestFromEnvVADLinked(t *testing.T) {
	// pkg/outbound imports no VAD provider (it stays free of cgo): a program offers them by importing them, as the
	// examples do, and without the import VAD=webrtc or VAD=silero is an error naming the package to import.
	for _, name := range []string{vad.WebRTC, vad.Silero} {
		_, err := fromLookup(func(k string) string {
			if k == "VAD" {
				return name
			}
			return ""
		})
		if vad.Linked(name) {
			if err != nil {
				t.Errorf("VAD=%s linked in: %v", name, err)
			}
			continue
		}
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "pkg/audio/vad/"+name) {
			t.Errorf("VAD=%s not linked: %v, want an error naming its package", name, err)
		}
	}
}
