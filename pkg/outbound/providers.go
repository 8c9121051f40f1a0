package outbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/asr/funasr"
	asropenai "github.com/outcall/outcall/asr/openai"
	"github.com/outcall/outcall/asr/vosk"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/espeak"
	"github.com/outcall/outcall/tts/flite"
	ttsopenai "github.com/outcall/outcall/tts/openai"
	"github.com/outcall/outcall/tts/ttstest"
)

// checkTimeout bounds each provider's health check at start.
const checkTimeout = 10 * time.Second

// openAIDefault is the API root the OpenAI providers use when OPENAI_BASE_URL is not set.
const openAIDefault = "https://api.openai.com/v1"

func recognizer(env Env, log zerolog.Logger) (asr.Recognizer, error) {
	switch env.ASR {
	case "openai":
		return asropenai.New(asropenai.Config{APIKey: env.OpenAIKey, BaseURL: env.OpenAIBase, Model: env.ASRModel, Logger: log})
	case "funasr":
		return funasr.New(funasr.Config{URL: env.FunASRURL})
	case "vosk":
		return vosk.New(vosk.Config{URL: env.VoskURL, Logger: log})
	case "sphinx":
		return newSphinx(log)
	}
	return &asrtest.Recognizer{}, nil
}

func synthesizer(env Env, log zerolog.Logger) (tts.Synthesizer, error) {
	switch env.TTS {
	case "espeak":
		return espeak.New(espeak.Config{Logger: &log})
	case "flite":
		return flite.New(flite.Config{Logger: &log})
	case "openai":
		return ttsopenai.New(ttsopenai.Config{APIKey: env.OpenAIKey, BaseURL: env.OpenAIBase, Model: env.TTSModel, Logger: log})
	}
	return &ttstest.Synthesizer{}, nil
}

// checkProviders asks every configured provider for a sign of life before the first call, so that an unreachable
// server is reported at start rather than found by the callees: the synthesizer renders a short prompt, the model
// server and an OpenAI-compatible recognizer answer GET /models, a WebSocket recognizer accepts a connection.
func checkProviders(ctx context.Context, env Env, synth tts.Synthesizer, log zerolog.Logger) error {
	var errs []error
	if err := checkTTS(ctx, synth, env.TTS); err != nil {
		errs = append(errs, fmt.Errorf("TTS=%s does not work: %w", env.TTS, err))
	}
	base := env.OpenAIBase
	if base == "" {
		base = openAIDefault
	}
	if env.LLMModel != "" {
		if err := checkModels(ctx, base, env.OpenAIKey, env.LLMModel, log); err != nil {
			errs = append(errs, fmt.Errorf("LLM_MODEL=%s: the model server at %s %w", env.LLMModel, base, err))
		}
	}
	switch env.ASR {
	case "openai":
		if env.LLMModel == "" { // else the same server was asked above
			if err := checkModels(ctx, base, env.OpenAIKey, "", log); err != nil {
				errs = append(errs, fmt.Errorf("ASR=openai: the speech server at %s %w", base, err))
			}
		}
	case "funasr":
		if err := checkDial(ctx, env.FunASRURL); err != nil {
			errs = append(errs, fmt.Errorf("ASR=funasr: FUNASR_URL %s %w", env.FunASRURL, err))
		}
	case "vosk":
		if err := checkDial(ctx, env.VoskURL); err != nil {
			errs = append(errs, fmt.Errorf("ASR=vosk: VOSK_URL %s %w", env.VoskURL, err))
		}
	}
	return errors.Join(errs...)
}

// checkTTS renders a short prompt and reads its first frame: in English for flite, which speaks nothing else.
func checkTTS(ctx context.Context, s tts.Synthesizer, name string) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	r := tts.Request{Text: "您好", Rate: 8000}
	if name == "flite" {
		r = tts.Request{Text: "Hello", Language: "en", Rate: 8000}
	}
	src, err := s.Synthesize(ctx, r)
	if err != nil {
		return err
	}
	if _, err := src.Read(ctx); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// checkModels asks an OpenAI-compatible server for its models. Any answer but a refused key proves the server is
// there (some servers have no /models); a model that the list lacks is logged, since servers alias their names.
func checkModels(ctx context.Context, base, key, model string, log zerolog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/models", nil)
	if err != nil {
		return fmt.Errorf("cannot be asked: %w", err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("does not answer: %w", unwrapURL(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("refuses the key (%s): check OPENAI_API_KEY", resp.Status)
	case resp.StatusCode >= 500:
		return fmt.Errorf("answers %s", resp.Status)
	}
	if model != "" && resp.StatusCode == http.StatusOK && !strings.Contains(string(body), `"`+model+`"`) {
		log.Warn().Str("model", model).Str("server", base).Msg("the model server does not list this model")
	}
	return nil
}

// checkDial opens a TCP connection to a ws:// or wss:// URL's host.
func checkDial(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("is not a ws:// URL")
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "wss" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("does not answer: %w", err)
	}
	return c.Close()
}

// unwrapURL drops the *url.Error wrapper, whose message repeats the method and URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
