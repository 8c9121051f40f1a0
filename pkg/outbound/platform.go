package outbound

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
	aridriver "github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/audio/vad"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/campaign"
	"github.com/outcall/outcall/pkg/esl"
	"github.com/outcall/outcall/pkg/esl/esltest"
	"github.com/outcall/outcall/pkg/store"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/ttstest"
)

// Platform is everything a campaign needs, built from an Env by Open: the dialer (the ARI or ESL client and
// driver, on a real PBX or on the built-in simulator of one), the speech providers, the dialog store and, when
// configured, a model.
type Platform struct {
	Env    Env
	Dialer call.Dialer
	Sim    Simulator // the built-in simulator (Asterisk or FreeSWITCH, as Env.PBX says); nil on a real PBX
	ASR    asr.Recognizer
	TTS    tts.Synthesizer
	VAD    audio.DetectorFactory // the callee's voice activity detector, one per call (Env.VAD)
	Store  dialog.Store
	Redis  redis.UniversalClient // nil without REDIS_URL; a cluster client when REDIS_URL names several nodes
	LLM    dialog.LLM            // nil unless LLM_MODEL is set
	Log    zerolog.Logger

	closers []func() error
}

// Open builds the Platform and checks it end to end before any call is placed: each speech provider and the model
// answer (a short synthesis, a request to the model server), Redis answers a PING, and the PBX accepts the
// connection. Every failure is an error saying which setting it concerns. On the simulator Open starts aritest
// (Asterisk) or esltest (FreeSWITCH) on 127.0.0.1 and connects the same client and driver to it as to a real PBX;
// register the simulated callees with AddCallee.
//
// ctx bounds Open only: the PBX connection lasts until Close, so that calls can still be hung up after ctx is
// cancelled (Ctrl-C).
func Open(ctx context.Context, env Env, log zerolog.Logger) (*Platform, error) {
	p := &Platform{Env: env, Log: log}
	if err := p.open(ctx); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

func (p *Platform) open(ctx context.Context) error {
	env, log := p.Env, p.Log
	var err error
	if p.ASR, err = recognizer(env, log); err != nil {
		return fmt.Errorf("ASR=%s: %w", env.ASR, err)
	}
	if p.TTS, err = synthesizer(env, log); err != nil {
		return fmt.Errorf("TTS=%s: %w", env.TTS, err)
	}
	if p.VAD, err = vad.Open(env.VAD, vad.Config{}); err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if env.LLMModel != "" {
		if p.LLM, err = dialog.NewOpenAI(dialog.OpenAIConfig{BaseURL: env.OpenAIBase, APIKey: env.OpenAIKey, Model: env.LLMModel}); err != nil {
			return fmt.Errorf("LLM_MODEL=%s: %w", env.LLMModel, err)
		}
	}
	if err := checkProviders(ctx, env, p.TTS, log); err != nil {
		return err
	}
	if env.RedisURL != "" {
		rdb, err := openRedis(ctx, env.RedisURL)
		if err != nil {
			return err
		}
		p.closers = append(p.closers, rdb.Close)
		p.Redis = rdb
		// Turns taken while Redis restarts or fails over are held and written once it answers, not lost.
		spool := dialog.NewSpool(dialog.NewStore(store.NewRedis(rdb, store.RedisConfig{})), dialog.SpoolConfig{Logger: log})
		p.Store = spool
		p.closers = append(p.closers, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return spool.Close(ctx)
		})
	} else {
		p.Store = dialog.NewStore(store.NewMemory())
	}
	media, err := p.fsMedia()
	if err != nil {
		return err
	}
	switch {
	case env.ESL != nil:
		return p.openFreeSWITCH(ctx, *env.ESL, media, 0)
	case env.Simulated() && env.PBX == FreeSWITCH:
		fs, err := esltest.New(esltest.Config{TTS: &ttstest.Synthesizer{}, Logger: log.With().Str("part", "esltest").Logger()})
		if err != nil {
			return fmt.Errorf("start the FreeSWITCH simulator: %w", err)
		}
		sim := newFreeSWITCHSim(fs)
		p.Sim = sim
		p.closers = append(p.closers, sim.Close)
		// More slack than the default 60 ms before a late callee frame is replaced by silence: the fake's callees
		// run on goroutine timers in this process, which a loaded machine (or the race detector) delays; a lost
		// frame garbles the callee's words for the fake recognizer.
		return p.openFreeSWITCH(ctx, esl.Config{Addr: fs.Addr(), Password: "ClueCon"}, media, 300*time.Millisecond)
	}
	return p.openAsterisk(ctx)
}

func (p *Platform) openAsterisk(ctx context.Context) error {
	env, log := p.Env, p.Log
	var cfg ari.Config
	if env.ARI != nil {
		cfg = *env.ARI
	} else {
		sim, err := aritest.New(aritest.Config{TTS: &ttstest.Synthesizer{}, Logger: log.With().Str("part", "aritest").Logger()})
		if err != nil {
			return fmt.Errorf("start the Asterisk simulator: %w", err)
		}
		p.Sim = asteriskSim{sim}
		p.closers = append(p.closers, sim.Close)
		cfg = ari.Config{URL: sim.URL(), Username: sim.Username(), Password: sim.Password(), App: "outcall"}
	}
	cfg.Logger = log.With().Str("part", "ari").Logger()
	client, err := ari.New(cfg)
	if err != nil {
		return fmt.Errorf("ARI_URL %s: %w", cfg.URL, err)
	}
	// The events connection lives until Close, not until ctx ends: after Ctrl-C the hang-ups of live calls are
	// confirmed by their events. ctx still cancels the first connection attempt.
	life, endLife := context.WithCancel(context.Background())
	p.closers = append(p.closers, func() error { endLife(); return nil }, client.Close)
	stop := context.AfterFunc(ctx, endLife)
	err = client.Start(life)
	if !stop() && ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("connect to Asterisk (ARI) at %s: %w", cfg.URL, err)
	}
	drv, err := aridriver.New(client, aridriver.Config{MediaHost: env.MediaHost, Transport: env.ARITransport,
		Format: env.ARIFormat, Logger: log.With().Str("part", "driver").Logger()})
	if err != nil {
		return fmt.Errorf("ARI_TRANSPORT=%s ARI_FORMAT=%s: %w", orDefault(env.ARITransport, "rtp (default)"),
			orDefault(env.ARIFormat, "ulaw (default)"), err)
	}
	// The driver goes first: it tears its calls down through the client.
	p.closers = append(p.closers, drv.Close)
	p.Dialer = drv
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// openRedis connects to REDIS_URL after asking Redis once, without the client's retries, so that one that is not
// there is reported at once. A URL with addr= parameters (redis://host1:6379?addr=host2:6379&addr=host3:6379)
// names the seed nodes of a Redis Cluster.
func openRedis(ctx context.Context, url string) (redis.UniversalClient, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if isClusterURL(url) {
		opt, err := redis.ParseClusterURL(url)
		if err != nil {
			return nil, fmt.Errorf("%w: REDIS_URL: %v", ErrConfig, err)
		}
		probe := *opt
		probe.MaxRetries, probe.MaxRedirects, probe.DialTimeout = -1, 0, 2*time.Second
		if err := pingOnce(ctx, redis.NewClusterClient(&probe)); err != nil {
			return nil, fmt.Errorf("REDIS_URL is set but the Redis Cluster at %v does not answer: %w", opt.Addrs, err)
		}
		return redis.NewClusterClient(opt), nil
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("%w: REDIS_URL: %v", ErrConfig, err)
	}
	probe := *opt
	probe.MaxRetries, probe.DialerRetries, probe.DialTimeout = -1, 1, 2*time.Second
	if err := pingOnce(ctx, redis.NewClient(&probe)); err != nil {
		return nil, fmt.Errorf("REDIS_URL is set but Redis at %s does not answer: %w", opt.Addr, err)
	}
	return redis.NewClient(opt), nil
}

func pingOnce(ctx context.Context, c redis.UniversalClient) error {
	defer c.Close()
	return c.Ping(ctx).Err()
}

// isClusterURL reports whether a REDIS_URL lists more nodes with addr= (go-redis's cluster URL form).
func isClusterURL(url string) bool {
	_, q, ok := strings.Cut(url, "?")
	return ok && (strings.HasPrefix(q, "addr=") || strings.Contains(q, "&addr="))
}

// fsMedia is FS_MEDIA as an esl.MediaMode; empty leaves the driver's default.
func (p *Platform) fsMedia() (esl.MediaMode, error) {
	if p.Env.FSMedia == "" {
		var def esl.DriverConfig
		return def.Media, nil
	}
	m, err := esl.ParseMediaMode(p.Env.FSMedia)
	if err != nil {
		return m, fmt.Errorf("%w: FS_MEDIA=%q: %v", ErrConfig, p.Env.FSMedia, err)
	}
	return m, nil
}

// openFreeSWITCH connects the ESL client and driver to the event socket at cfg.Addr, a real FreeSWITCH or the
// simulator; readSlack 0 keeps the driver's default.
func (p *Platform) openFreeSWITCH(ctx context.Context, cfg esl.Config, media esl.MediaMode, readSlack time.Duration) error {
	cfg.Logger = p.Log.With().Str("part", "esl").Logger()
	client, err := esl.Dial(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to FreeSWITCH (ESL) at %s: %w", cfg.Addr, err)
	}
	p.closers = append(p.closers, client.Close)
	drv, err := esl.NewDriver(client, esl.DriverConfig{MediaListen: net.JoinHostPort(p.Env.MediaHost, "0"), Media: media,
		ReadSlack: readSlack, Logger: p.Log.With().Str("part", "esl-driver").Logger()})
	if err != nil {
		return fmt.Errorf("FS_MEDIA=%s: %w", orDefault(p.Env.FSMedia, "(default)"), err)
	}
	p.closers = append(p.closers, drv.Close)
	p.Dialer = drv
	return nil
}

// AddCallee makes number answer with the script on the simulator; on a real PBX it does nothing. A phone number
// is read as contacts are (campaign.NormalizePhone: +8613800000001, 13800000001); anything else (an agent's
// extension) is taken as it is.
func (p *Platform) AddCallee(number string, s callee.Script) error {
	if p.Sim == nil {
		return nil
	}
	if e164, err := campaign.NormalizePhone(number, ""); err == nil {
		number = e164
	}
	return p.Sim.AddCallee(strings.TrimPrefix(number, "+"), s)
}

// Where says in words what the calls run on, for a program's first line of output.
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
	return fmt.Sprintf("%s, %s, ASR=%s, TTS=%s, VAD=%s", pbx, st, p.Env.ASR, p.Env.TTS, p.Env.VAD)
}

// Close hangs up what is left and releases the platform in reverse order of creation. It may be called on a nil
// Platform and more than once.
func (p *Platform) Close() error {
	if p == nil {
		return nil
	}
	var errs []error
	for i := len(p.closers) - 1; i >= 0; i-- {
		if err := p.closers[i](); err != nil && !errors.Is(err, aritest.ErrClosed) {
			errs = append(errs, err)
		}
	}
	p.closers = nil
	return errors.Join(errs...)
}
