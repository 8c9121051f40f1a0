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
	"github.com/outcall/outcall/pkg/esl/esltest"
	"github.com/outcall/outcall/pkg/store"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/espeak"
	ttsopenai "github.com/outcall/outcall/tts/openai"
	"github.com/outcall/outcall/tts/ttstest"
)

// Platform is everything a campaign example needs, built from an Env: the dialer (the real ARI or ESL client and
// driver, on a real PBX or the embedded simulator of one), speech providers, the dialog store and, when configured,
// a model.
type Platform struct {
	Env    Env
	Dialer call.Dialer
	Sim    Simulator // the embedded simulator (Asterisk or FreeSWITCH, as Env.PBX says); nil on a real PBX
	ASR    asr.Recognizer
	TTS    tts.Synthesizer
	Store  dialog.Store
	Redis  *redis.Client // nil without REDIS_URL
	LLM    dialog.LLM    // nil unless LLM_MODEL is set
	Log    zerolog.Logger

	closers []func() error
}

// Open builds the Platform. On the simulator it starts aritest (PBX=asterisk) or esltest (PBX=freeswitch) on
// 127.0.0.1 and connects the same client and driver to it as to a real PBX; the caller registers scripted callees
// with AddCallee. Close releases everything.
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

	switch {
	case env.ESL != nil:
		return p, p.openFreeSWITCH(ctx, *env.ESL, 0)
	case env.Simulated() && env.PBX == PBXFreeSWITCH:
		fs, err := esltest.New(esltest.Config{TTS: &ttstest.Synthesizer{}, Logger: log.With().Str("part", "esltest").Logger()})
		if err != nil {
			return nil, fmt.Errorf("start the FreeSWITCH simulator: %w", err)
		}
		sim := newFreeSWITCHSim(fs)
		p.Sim = sim
		p.closers = append(p.closers, sim.Close)
		// More slack than the default 60 ms before a late callee frame is replaced by silence: the fake's callees
		// run on goroutine timers in this process, which a loaded machine (or the race detector) delays; a lost
		// frame garbles the callee's words for the fake recognizer.
		return p, p.openFreeSWITCH(ctx, esl.Config{Addr: fs.Addr(), Password: "ClueCon"}, 300*time.Millisecond)
	}
	cfg := ari.Config{}
	if env.ARI != nil {
		cfg = *env.ARI
	} else {
		sim, err := aritest.New(aritest.Config{TTS: &ttstest.Synthesizer{}, Logger: log.With().Str("part", "aritest").Logger()})
		if err != nil {
			return nil, fmt.Errorf("start the Asterisk simulator: %w", err)
		}
		p.Sim = asteriskSim{sim}
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

// openFreeSWITCH connects the ESL client and driver to the event socket at cfg.Addr, a real FreeSWITCH or the
// simulator; readSlack 0 keeps the driver's default.
func (p *Platform) openFreeSWITCH(ctx context.Context, cfg esl.Config, readSlack time.Duration) error {
	cfg.Logger = p.Log.With().Str("part", "esl").Logger()
	client, err := esl.Dial(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to FreeSWITCH at %s: %w", cfg.Addr, err)
	}
	p.closers = append(p.closers, client.Close)
	drv, err := esl.NewDriver(client, esl.DriverConfig{MediaListen: net.JoinHostPort(p.Env.MediaHost, "0"),
		ReadSlack: readSlack, Logger: p.Log.With().Str("part", "esl-driver").Logger()})
	if err != nil {
		return err
	}
	p.closers = append(p.closers, drv.Close)
	p.Dialer = drv
	return nil
}

// AddCallee registers a scripted callee for e164 on the simulator; on a real PBX it does nothing.
func (p *Platform) AddCallee(e164 string, s callee.Script) error {
	if p.Sim == nil {
		return nil
	}
	return p.Sim.AddCallee(strings.TrimPrefix(e164, "+"), s)
}

// Where says in words what the calls run on, for the example's first line of output.
func (p *Platform) Where() string {
	var pbx string
	switch {
	case p.Sim != nil:
		pbx = p.Sim.String()
	case p.Env.ESL != nil:
		pbx = "FreeSWITCH at " + p.Env.ESL.Addr
	default:
		pbx = "Asterisk at " + p.Env.ARI.URL
	}
	st := "memory store"
	if p.Redis != nil {
		st = "Redis store"
	}
	return fmt.Sprintf("%s, %s, ASR=%s, TTS=%s", pbx, st, p.Env.ASR, p.Env.TTS)
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
