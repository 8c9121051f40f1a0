// Package exampleenv wires the examples to the environment contract of DESIGN.md: a real Asterisk when ARI_URL is
// set, a real FreeSWITCH when FS_ESL_ADDR is, else a simulator of the PBX that PBX names (the embedded aritest for
// asterisk, the default; the esltest fake for freeswitch), Redis when REDIS_URL is set (else memory), ASR/TTS/LLM
// providers chosen by ASR, TTS, OPENAI_* and LLM_MODEL. A setting that is chosen but incomplete is an error at start.
package exampleenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/pkg/esl"
)

// ErrConfig reports a setting that is chosen but incomplete or unknown.
var ErrConfig = errors.New("exampleenv: bad configuration")

// The PBXs an example can run on (PBX).
const (
	PBXAsterisk   = "asterisk"
	PBXFreeSWITCH = "freeswitch"
)

// Env is the environment an example runs in, read by FromEnv.
type Env struct {
	PBX          string      // PBX: asterisk (default) or freeswitch; FS_ESL_ADDR implies freeswitch
	ARI          *ari.Config // real Asterisk; nil: the simulator of PBX (or FreeSWITCH when ESL is set)
	ESL          *esl.Config // real FreeSWITCH (FS_ESL_ADDR, FS_ESL_PASSWORD); nil: not used
	DialEndpoint string      // DIAL_ENDPOINT: dial string template with {number}; default on the simulators: PJSIP/{number}@trunk, sofia/gateway/trunk/{number}
	MediaHost    string      // MEDIA_HOST: address the PBX sends RTP to; default 127.0.0.1
	RedisURL     string      // REDIS_URL: Redis for the dialog store and the campaign; empty: memory
	ASR          string      // ASR: fake (default), openai, funasr, vosk, sphinx
	TTS          string      // TTS: fake (default), espeak, openai
	OpenAIKey    string      // OPENAI_API_KEY
	OpenAIBase   string      // OPENAI_BASE_URL
	LLMModel     string      // LLM_MODEL
	ASRModel     string      // ASR_MODEL: model for ASR=openai; default whisper-1
	TTSModel     string      // TTS_MODEL: model for TTS=openai; default tts-1
	FunASRURL    string      // FUNASR_URL: ws:// address for ASR=funasr
	VoskURL      string      // VOSK_URL: ws:// address for ASR=vosk
	AgentEnd     string      // AGENT_ENDPOINT: where transfers to a human go; default: the script's
}

// Simulated reports whether calls go to an embedded simulator (of Asterisk or FreeSWITCH, as PBX says).
func (e Env) Simulated() bool { return e.ARI == nil && e.ESL == nil }

// LLMConfigured reports whether a model endpoint is set (LLM_MODEL plus OPENAI_BASE_URL or OPENAI_API_KEY).
func (e Env) LLMConfigured() bool {
	return e.LLMModel != "" && (e.OpenAIBase != "" || e.OpenAIKey != "")
}

// FromEnv reads the environment contract and checks it: every problem is reported at once.
func FromEnv() (Env, error) { return fromLookup(os.Getenv) }

func fromLookup(get func(string) string) (Env, error) {
	v := func(k string) string { return strings.TrimSpace(get(k)) }
	e := Env{
		PBX:          strings.ToLower(v("PBX")),
		DialEndpoint: v("DIAL_ENDPOINT"), MediaHost: v("MEDIA_HOST"), RedisURL: v("REDIS_URL"),
		ASR: strings.ToLower(v("ASR")), TTS: strings.ToLower(v("TTS")),
		OpenAIKey: v("OPENAI_API_KEY"), OpenAIBase: v("OPENAI_BASE_URL"), LLMModel: v("LLM_MODEL"),
		ASRModel: v("ASR_MODEL"), TTSModel: v("TTS_MODEL"), FunASRURL: v("FUNASR_URL"), VoskURL: v("VOSK_URL"),
		AgentEnd: v("AGENT_ENDPOINT"),
	}
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }

	ac, err := ariFromLookup(v)
	switch {
	case errors.Is(err, ari.ErrNotConfigured):
	case err != nil:
		bad("ARI: %v", err)
	default:
		e.ARI = &ac
	}
	switch addr, pw := v("FS_ESL_ADDR"), v("FS_ESL_PASSWORD"); {
	case addr == "" && pw == "":
	case addr == "" || pw == "":
		bad("FreeSWITCH: set FS_ESL_ADDR and FS_ESL_PASSWORD together")
	case e.ARI != nil:
		bad("both ARI_URL and FS_ESL_ADDR are set: choose one PBX")
	default:
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("FS_ESL_ADDR %q: want host:port", addr)
		}
		e.ESL = &esl.Config{Addr: addr, Password: pw}
	}
	switch e.PBX {
	case "":
		e.PBX = PBXAsterisk
		if e.ESL != nil {
			e.PBX = PBXFreeSWITCH
		}
	case PBXAsterisk:
		if v("FS_ESL_ADDR") != "" {
			bad("PBX=asterisk but FS_ESL_ADDR is set: choose one PBX (unset PBX or FS_ESL_ADDR)")
		}
	case PBXFreeSWITCH:
		if v("ARI_URL") != "" {
			bad("PBX=freeswitch but ARI_URL is set: choose one PBX (unset PBX or ARI_URL)")
		}
	default:
		bad("PBX=%q: want asterisk or freeswitch", e.PBX)
	}
	if e.MediaHost == "" {
		e.MediaHost = "127.0.0.1"
	}
	if !e.Simulated() {
		if e.DialEndpoint == "" {
			bad("a real PBX is set but DIAL_ENDPOINT is empty (Asterisk: PJSIP/{number}@trunk or Local/{number}@outcall-test; " +
				"FreeSWITCH: sofia/gateway/trunk/{number})")
		}
	} else if e.DialEndpoint == "" {
		e.DialEndpoint = "PJSIP/{number}@trunk"
		if e.PBX == PBXFreeSWITCH {
			e.DialEndpoint = "sofia/gateway/trunk/{number}"
		}
	} else if e.PBX == PBXFreeSWITCH && !fakeFSDials(e.DialEndpoint) {
		bad("DIAL_ENDPOINT %q: the FreeSWITCH simulator dials sofia/gateway/<gateway>/{number}, sofia/<profile>/{number}@host, "+
			"loopback/{number} or user/{number}", e.DialEndpoint)
	}
	if e.DialEndpoint != "" && !strings.Contains(e.DialEndpoint, "{number}") && !strings.Contains(e.DialEndpoint, "{e164}") {
		bad("DIAL_ENDPOINT %q has no {number} or {e164} placeholder", e.DialEndpoint)
	}
	if e.ASR == "" {
		e.ASR = "fake"
	}
	if e.TTS == "" {
		e.TTS = "fake"
	}
	openAIReady := e.OpenAIKey != "" || e.OpenAIBase != ""
	switch e.ASR {
	case "fake":
	case "openai":
		if !openAIReady {
			bad("ASR=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a compatible local server)")
		}
	case "funasr":
		if e.FunASRURL == "" {
			bad("ASR=funasr needs FUNASR_URL (e.g. ws://127.0.0.1:10095)")
		}
	case "vosk":
		if e.VoskURL == "" {
			bad("ASR=vosk needs VOSK_URL (e.g. ws://127.0.0.1:2700)")
		}
	case "sphinx":
		if !sphinxBuilt {
			bad("ASR=sphinx needs the cgo build: go run -tags sphinx ... (and libpocketsphinx-dev)")
		}
	default:
		bad("ASR=%q: want fake, openai, funasr, vosk or sphinx", e.ASR)
	}
	switch e.TTS {
	case "fake", "espeak":
	case "openai":
		if !openAIReady {
			bad("TTS=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a compatible local server)")
		}
	default:
		bad("TTS=%q: want fake, espeak or openai", e.TTS)
	}
	if e.Simulated() && e.ASR != "fake" {
		// The simulator's scripted callees speak ttstest audio, which only the fake recognizer reads.
		bad("ASR=%s cannot understand the simulator's scripted callees; use ASR=fake, or set ARI_URL (or FS_ESL_ADDR) for a real PBX", e.ASR)
	}
	if e.LLMModel != "" && !openAIReady {
		bad("LLM_MODEL is set but neither OPENAI_BASE_URL nor OPENAI_API_KEY is")
	}
	return e, errors.Join(errs...)
}

// ariFromLookup is ari.ConfigFromEnv on a lookup function, so tests need not touch the process environment.
func ariFromLookup(v func(string) string) (ari.Config, error) {
	if v("ARI_URL") == "" && v("ARI_USERNAME") == "" && v("ARI_PASSWORD") == "" && v("ARI_APP") == "" {
		return ari.Config{}, ari.ErrNotConfigured
	}
	var missing []string
	if v("ARI_URL") == "" {
		missing = append(missing, "ARI_URL")
	}
	if (v("ARI_USERNAME") == "") != (v("ARI_PASSWORD") == "") {
		missing = append(missing, "ARI_USERNAME and ARI_PASSWORD together")
	}
	if len(missing) > 0 {
		return ari.Config{}, fmt.Errorf("%w: missing %s", ari.ErrIncompleteConfig, strings.Join(missing, ", "))
	}
	app := v("ARI_APP")
	if app == "" {
		app = "outcall"
	}
	return ari.Config{URL: v("ARI_URL"), Username: v("ARI_USERNAME"), Password: v("ARI_PASSWORD"), App: app}, nil
}

// fakeFSDials reports whether the FreeSWITCH simulator (esltest) resolves a dial string of this technology.
func fakeFSDials(ep string) bool {
	for _, tech := range []string{"sofia/", "loopback/", "user/"} {
		if strings.HasPrefix(ep, tech) {
			return true
		}
	}
	return false
}

// Default is the environment with nothing set: the Asterisk simulator, memory, fake ASR and TTS. Tests of examples
// use it so the process environment cannot change what they run on.
func Default() Env { return DefaultOn(PBXAsterisk) }

// DefaultOn is Default on the simulator of pbx (PBXAsterisk or PBXFreeSWITCH).
func DefaultOn(pbx string) Env {
	e, _ := fromLookup(func(k string) string {
		if k == "PBX" {
			return pbx
		}
		return ""
	})
	return e
}
