package exampleenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/aritest"
	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/asr/funasr"
	asropenai "github.com/outcall/outcall/asr/openai"
	"github.com/outcall/outcall/asr/vosk"
	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/esl"
	"github.com/outcall/outcall/pkg/store"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/espeak"
	ttsopenai "github.com/outcall/outcall/tts/openai"
	"github.com/outcall/outcall/tts/ttstest"
)

// Platform is everything a campaign example needs, built from an Env: the dialer (real ARI client and driver, on
// a real Asterisk or the embedded simulator), speech providers, the dialog store and, when configured, a model.
type Platform struct {
	Env    Env
	Dialer call.Dialer
	Sim    *aritest.Server // the embedded simulator; nil on a real Asterisk
	ASR    asr.Recognizer
	TTS    tts.Synthesizer
	Store  dialog.Store
	Redis  *redis.Client // nil without REDIS_URL
	LLM    dialog.LLM    // nil unless LLM_MODEL is set
	Log    zerolog.Logger

	closers []func() error
}

// Open builds the Platform. On the simulator it starts aritest on 127.0.0.1; the caller registers scripted
// callees with AddCallee. Close releases everything.
func Open(ctx context.Context, env Env, log zerolog.Logger) (p *Platform, err error) {
	p = &Platform{Env: env, Log: log}
	defer func() {
		if err != nil {
			_ = p.Close()
			p = nil
		}
	}()
	if p.ASR, err = recognizer(env, log); err != nil {
		return nil, err
	}
	if p.TTS, err = synthesizer(env, log); err != nil {
		return nil, err
	}
	if env.LLMModel != "" {
		llm, err := dialog.NewOpenAI(dialog.OpenAIConfig{BaseURL: env.OpenAIBase, APIKey: env.OpenAIKey, Model: env.LLMModel})
		if err != nil {
			return nil, err
		}
		p.LLM = llm
	}
	if env.RedisURL != "" {
		opt, err := redis.ParseURL(env.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("%w: REDIS_URL: %v", ErrConfig, err)
		}
		rdb := redis.NewClient(opt)
		p.closers = append(p.closers, rdb.Close)
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if err := rdb.Ping(pctx).Err(); err != nil {
			return nil, fmt.Errorf("REDIS_URL is set but Redis does not answer: %w", err)
		}
		p.Redis = rdb
		p.Store = store.NewRedis(rdb, store.RedisConfig{})
	} else {
		p.Store = store.NewMemory()
	}

	if env.ESL != nil {
		ec := *env.ESL
		ec.Logger = log.With().Str("part", "esl").Logger()
		client, err := esl.Dial(ctx, ec)
		if err != nil {
			return nil, fmt.Errorf("connect to FreeSWITCH at %s: %w", ec.Addr, err)
		}
		p.closers = append(p.closers, client.Close)
		drv, err := esl.NewDriver(client, esl.DriverConfig{MediaListen: net.JoinHostPort(env.MediaHost, "0"),
			Logger: log.With().Str("part", "esl-driver").Logger()})
		if err != nil {
			return nil, err
		}
		p.closers = append(p.closers, drv.Close)
		p.Dialer = drv
		return p, nil
	}
	cfg := ari.Config{}
	if env.ARI != nil {
		cfg = *env.ARI
	} else {
		sim, err := aritest.New(aritest.Config{TTS: &ttstest.Synthesizer{}, Logger: log.With().Str("part", "aritest").Logger()})
		if err != nil {
			return nil, fmt.Errorf("start the Asterisk simulator: %w", err)
		}
		p.Sim = sim
		p.closers = append(p.closers, sim.Close)
		cfg = ari.Config{URL: sim.URL(), Username: sim.Username(), Password: sim.Password(), App: "outcall"}
	}
	cfg.Logger = log.With().Str("part", "ari").Logger()
	client, err := ari.New(cfg)
	if err != nil {
		return nil, err
	}
	p.closers = append(p.closers, client.Close)
	// Start's context bounds the events connection's life, so it is the run's context, not a timeout.
	if err := client.Start(ctx); err != nil {
		return nil, fmt.Errorf("connect to ARI at %s: %w", cfg.URL, err)
	}
	drv, err := ari.NewDriver(client, ari.DriverConfig{MediaHost: env.MediaHost, Logger: log.With().Str("part", "driver").Logger()})
	if err != nil {
		return nil, err
	}
	// The driver goes first: it tears its calls down through the client.
	p.closers = append(p.closers, drv.Close)
	p.Dialer = drv
	return p, nil
}

// AddCallee registers a scripted callee for e164 on the simulator; on a real Asterisk it does nothing.
func (p *Platform) AddCallee(e164 string, s callee.Script) error {
	if p.Sim == nil {
		return nil
	}
	return p.Sim.AddCallee(strings.TrimPrefix(e164, "+"), s)
}

// Where says in words what the calls run on, for the example's first line of output.
func (p *Platform) Where() string {
	pbx := "embedded Asterisk simulator (aritest) on " + strings.TrimPrefix(p.simURL(), "http://")
	switch {
	case p.Env.ESL != nil:
		pbx = "FreeSWITCH at " + p.Env.ESL.Addr
	case p.Sim == nil:
		pbx = "Asterisk at " + p.Env.ARI.URL
	}
	st := "memory store"
	if p.Redis != nil {
		st = "Redis store"
	}
	return fmt.Sprintf("%s, %s, ASR=%s, TTS=%s", pbx, st, p.Env.ASR, p.Env.TTS)
}

func (p *Platform) simURL() string {
	if p.Sim == nil {
		return ""
	}
	return p.Sim.URL()
}

// Close releases the platform in reverse order of creation.
func (p *Platform) Close() error {
	var errs []error
	for i := len(p.closers) - 1; i >= 0; i-- {
		if err := p.closers[i](); err != nil && !errors.Is(err, aritest.ErrClosed) {
			errs = append(errs, err)
		}
	}
	p.closers = nil
	return errors.Join(errs...)
}

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
	case "openai":
		return ttsopenai.New(ttsopenai.Config{APIKey: env.OpenAIKey, BaseURL: env.OpenAIBase, Model: env.TTSModel, Logger: log})
	}
	return &ttstest.Synthesizer{}, nil
}
