package outbound

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/outcall/outcall/ari"
	aridriver "github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/pkg/audio/vad"
	"github.com/outcall/outcall/pkg/esl"
)

// ErrConfig reports a setting that is chosen but incomplete, malformed or unknown.
var ErrConfig = errors.New("outbound: bad configuration")

// The PBXs a program can run on (Env.PBX, the PBX variable).
const (
	Asterisk   = "asterisk"
	FreeSWITCH = "freeswitch"
)

// Env is the environment a program runs in: which PBX (real or simulated), media, store and providers. FromEnv
// reads it from the process environment; Simulated is the one with nothing set.
type Env struct {
	PBX          string      // PBX: Asterisk (default) or FreeSWITCH; FS_ESL_ADDR implies FreeSWITCH
	ARI          *ari.Config // ARI_URL, ARI_USERNAME, ARI_PASSWORD, ARI_APP: a real Asterisk; nil: not used
	ESL          *esl.Config // FS_ESL_ADDR, FS_ESL_PASSWORD: a real FreeSWITCH; nil: not used
	DialEndpoint string      // DIAL_ENDPOINT: dial string template with {number} or {e164}; required on a real PBX
	MediaHost    string      // MEDIA_HOST: this machine as the PBX reaches it, for RTP and WebSocket media; default 127.0.0.1
	ARITransport string      // ARI_TRANSPORT: rtp, audiosocket or websocket (aridriver.Config.Transport); "": the driver's rtp
	ARIFormat    string      // ARI_FORMAT: ulaw or slin16 (aridriver.Config.Format); "": the driver's ulaw
	FSMedia      string      // FS_MEDIA: unicast, stream or broadcast (esl.ParseMediaMode); "": the driver's default
	AgentEnd     string      // AGENT_ENDPOINT: where transfers to a human go; default: the script's settings.transfer
	RedisURL     string      // REDIS_URL: Redis for dialog state, journals and the campaign; "": memory
	ASR          string      // ASR: fake (default), openai, funasr, vosk or sphinx
	TTS          string      // TTS: fake (default), espeak, flite (English scripts) or openai
	VAD          string      // VAD: energy (default, pure Go), webrtc (build tag webrtcvad) or silero (cgo, make speech-models); the program imports the providers it offers
	OpenAIKey    string      // OPENAI_API_KEY
	OpenAIBase   string      // OPENAI_BASE_URL: an OpenAI-compatible server (Ollama, vLLM, a speech server)
	LLMModel     string      // LLM_MODEL: the model of the scripts' LLM nodes; "": none
	ASRModel     string      // ASR_MODEL: model for ASR=openai; default whisper-1
	TTSModel     string      // TTS_MODEL: model for TTS=openai; default tts-1
	FunASRURL    string      // FUNASR_URL: ws:// address for ASR=funasr
	VoskURL      string      // VOSK_URL: ws:// address for ASR=vosk
}

// Simulated reports whether calls go to a built-in simulator (of Asterisk or FreeSWITCH, as PBX says).
func (e Env) Simulated() bool { return e.ARI == nil && e.ESL == nil }

// LLMConfigured reports whether a model endpoint is set (LLM_MODEL plus OPENAI_BASE_URL or OPENAI_API_KEY).
func (e Env) LLMConfigured() bool {
	return e.LLMModel != "" && (e.OpenAIBase != "" || e.OpenAIKey != "")
}

// FromEnv reads the environment contract and checks it, reporting every problem at once (wrapping ErrConfig).
// Nothing set means the Asterisk simulator, memory and the fake speech providers; a setting that is chosen but
// incomplete is an error, never a silent fallback.
//
//	ARI_URL, ARI_USERNAME, ARI_PASSWORD, ARI_APP  a real Asterisk (http://host:8088; app default "outcall")
//	FS_ESL_ADDR, FS_ESL_PASSWORD                  a real FreeSWITCH event socket (host:8021)
//	PBX                                           asterisk (default) or freeswitch: the simulator when no real PBX is set
//	DIAL_ENDPOINT                                 dial string template, required on a real PBX: PJSIP/{number}@trunk
//	MEDIA_HOST                                    the address the PBX sends media to; default 127.0.0.1
//	ARI_TRANSPORT                                 rtp (default), audiosocket or websocket
//	ARI_FORMAT                                    ulaw (default) or slin16
//	FS_MEDIA                                      unicast (default), stream or broadcast
//	AGENT_ENDPOINT                                where transfers to a human go
//	REDIS_URL                                     redis://host:6379/0, or a cluster's seed nodes as
//	                                              redis://host1:6379?addr=host2:6379&addr=host3:6379; default: memory
//	ASR, TTS                                      fake (default), openai, funasr, vosk, sphinx / fake, espeak, flite, openai
//	VAD                                           energy (default), webrtc (-tags webrtcvad), silero (make speech-models)
//	OPENAI_API_KEY, OPENAI_BASE_URL, LLM_MODEL    OpenAI-compatible speech and model endpoints
//	ASR_MODEL, TTS_MODEL, FUNASR_URL, VOSK_URL    provider details
//
// WEBHOOK_URL and WEBHOOK_SECRET are read by NewNotifier.
func FromEnv() (Env, error) { return fromLookup(os.Getenv) }

// Simulated returns the environment with nothing set on the simulator of pbx (Asterisk or FreeSWITCH): memory
// store, fake speech. Tests use it so that the process environment cannot change what they run on.
func Simulated(pbx string) Env {
	e, _ := fromLookup(func(k string) string {
		if k == "PBX" {
			return pbx
		}
		return ""
	})
	return e
}

func fromLookup(get func(string) string) (Env, error) {
	v := func(k string) string { return strings.TrimSpace(get(k)) }
	e := Env{
		PBX:          strings.ToLower(v("PBX")),
		DialEndpoint: v("DIAL_ENDPOINT"), MediaHost: v("MEDIA_HOST"), RedisURL: v("REDIS_URL"),
		ARITransport: strings.ToLower(v("ARI_TRANSPORT")), ARIFormat: strings.ToLower(v("ARI_FORMAT")),
		FSMedia: strings.ToLower(v("FS_MEDIA")), AgentEnd: v("AGENT_ENDPOINT"),
		ASR: strings.ToLower(v("ASR")), TTS: strings.ToLower(v("TTS")), VAD: strings.ToLower(v("VAD")),
		OpenAIKey: v("OPENAI_API_KEY"), OpenAIBase: v("OPENAI_BASE_URL"), LLMModel: v("LLM_MODEL"),
		ASRModel: v("ASR_MODEL"), TTSModel: v("TTS_MODEL"), FunASRURL: v("FUNASR_URL"), VoskURL: v("VOSK_URL"),
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
	case v("ARI_URL") != "":
		bad("both ARI_URL and FS_ESL_ADDR are set: choose one PBX")
	default:
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("FS_ESL_ADDR %q: want host:port", addr)
		}
		e.ESL = &esl.Config{Addr: addr, Password: pw}
	}
	switch e.PBX {
	case "":
		e.PBX = Asterisk
		if v("FS_ESL_ADDR") != "" {
			e.PBX = FreeSWITCH
		}
	case Asterisk:
		if v("FS_ESL_ADDR") != "" {
			bad("PBX=asterisk but FS_ESL_ADDR is set: choose one PBX (unset PBX or FS_ESL_ADDR)")
		}
	case FreeSWITCH:
		if v("ARI_URL") != "" {
			bad("PBX=freeswitch but ARI_URL is set: choose one PBX (unset PBX or ARI_URL)")
		}
	default:
		bad("PBX=%q: want asterisk or freeswitch", e.PBX)
	}
	e.checkMedia(bad)
	if e.MediaHost == "" {
		e.MediaHost = "127.0.0.1"
	}
	switch {
	case !e.Simulated():
		if e.DialEndpoint == "" {
			bad("a real PBX is set but DIAL_ENDPOINT is empty (Asterisk: PJSIP/{number}@trunk or Local/{number}@outcall-test; " +
				"FreeSWITCH: sofia/gateway/trunk/{number})")
		}
	case e.DialEndpoint == "" && e.PBX == FreeSWITCH:
		e.DialEndpoint = "sofia/gateway/trunk/{number}"
	case e.DialEndpoint == "":
		e.DialEndpoint = "PJSIP/{number}@trunk"
	case e.PBX == FreeSWITCH && !fakeFSDials(e.DialEndpoint):
		bad("DIAL_ENDPOINT %q: the FreeSWITCH simulator dials sofia/gateway/<gateway>/{number}, sofia/<profile>/{number}@host, "+
			"loopback/{number} or user/{number}", e.DialEndpoint)
	}
	if e.DialEndpoint != "" && !strings.Contains(e.DialEndpoint, "{number}") && !strings.Contains(e.DialEndpoint, "{e164}") {
		bad("DIAL_ENDPOINT %q has no {number} or {e164} placeholder", e.DialEndpoint)
	}
	if e.RedisURL != "" {
		parse := func(u string) error { _, err := redis.ParseURL(u); return err }
		if isClusterURL(e.RedisURL) {
			parse = func(u string) error { _, err := redis.ParseClusterURL(u); return err }
		}
		if err := parse(e.RedisURL); err != nil {
			bad("REDIS_URL %q: %v (want redis://host:6379/0, or redis://host1:6379?addr=host2:6379 for a cluster)",
				redactedURL(e.RedisURL), err)
		}
	}
	e.checkProviders(bad)
	if len(errs) > 0 {
		return e, fmt.Errorf("%w:\n%w", ErrConfig, errors.Join(errs...))
	}
	return e, nil
}

// checkMedia validates ARI_TRANSPORT, ARI_FORMAT and FS_MEDIA, and that each is set only for its PBX.
func (e *Env) checkMedia(bad func(string, ...any)) {
	switch e.ARITransport {
	case "", aridriver.TransportRTP, aridriver.TransportAudioSocket, aridriver.TransportWebSocket:
	default:
		bad("ARI_TRANSPORT=%q: want rtp, audiosocket or websocket", e.ARITransport)
	}
	switch e.ARIFormat {
	case "", aridriver.FormatULaw, aridriver.FormatSlin16:
	default:
		bad("ARI_FORMAT=%q: want ulaw or slin16", e.ARIFormat)
	}
	if e.FSMedia != "" {
		if _, err := esl.ParseMediaMode(e.FSMedia); err != nil {
			bad("FS_MEDIA=%q: want unicast, stream or broadcast", e.FSMedia)
		}
	}
	if e.PBX == FreeSWITCH && (e.ARITransport != "" || e.ARIFormat != "") {
		bad("ARI_TRANSPORT and ARI_FORMAT are for Asterisk, but the PBX is FreeSWITCH (use FS_MEDIA)")
	}
	if e.PBX != FreeSWITCH && e.FSMedia != "" {
		bad("FS_MEDIA is for FreeSWITCH, but the PBX is Asterisk (use ARI_TRANSPORT and ARI_FORMAT)")
	}
}

// checkProviders fills the speech defaults and checks that each chosen provider has what it needs.
func (e *Env) checkProviders(bad func(string, ...any)) {
	if e.ASR == "" {
		e.ASR = "fake"
	}
	if e.TTS == "" {
		e.TTS = "fake"
	}
	openAIReady := e.OpenAIKey != "" || e.OpenAIBase != ""
	if e.OpenAIBase != "" {
		if u, err := url.Parse(e.OpenAIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("OPENAI_BASE_URL %q: want http(s)://host[:port]/v1", e.OpenAIBase)
		}
	}
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
	case "fake", "espeak", "flite":
	case "openai":
		if !openAIReady {
			bad("TTS=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a compatible local server)")
		}
	default:
		bad("TTS=%q: want fake, espeak, flite or openai", e.TTS)
	}
	if e.VAD == "" {
		e.VAD = vad.Energy
	}
	switch e.VAD {
	case vad.Energy:
	case vad.WebRTC, vad.Silero:
		// The program links the providers it offers (the examples import both); whether one opens (its build
		// tag, library and model files) is checked when the platform opens it.
		if !vad.Linked(e.VAD) {
			_, err := vad.Open(e.VAD, vad.Config{})
			bad("%v", err)
		}
	default:
		bad("VAD=%q: want %s", e.VAD, strings.Join(vad.Names(), ", "))
	}
	if e.Simulated() && e.ASR != "fake" {
		// The simulator's scripted callees speak ttstest audio, which only the fake recognizer reads.
		bad("ASR=%s cannot understand the simulator's scripted callees; use ASR=fake, or set ARI_URL (or FS_ESL_ADDR) for a real PBX", e.ASR)
	}
	if e.LLMModel != "" && !openAIReady {
		bad("LLM_MODEL is set but neither OPENAI_BASE_URL nor OPENAI_API_KEY is")
	}
}

// ariFromLookup reads the ARI settings as ari.ConfigFromEnv does, with ARI_APP defaulting to "outcall" and the URL
// checked for a scheme and host.
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
	if u, err := url.Parse(v("ARI_URL")); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ari.Config{}, fmt.Errorf("ARI_URL %q: want http(s)://host:port (e.g. http://127.0.0.1:8088)", v("ARI_URL"))
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

// redactedURL is u with its password replaced, for error messages: a REDIS_URL may hold one.
func redactedURL(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	if strings.Contains(u, "@") {
		return "(unparsable URL with credentials)"
	}
	return u
}
