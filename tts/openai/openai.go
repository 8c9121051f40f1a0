// Package openai is a tts.Synthesizer for OpenAI-compatible speech APIs, streaming 24 kHz PCM as frames.
package openai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	goopenai "github.com/sashabaranov/go-openai"

	"github.com/outcall/outcall/internal/openaiclient"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
)

// NativeRate is the rate of the API's "pcm" response format: 24 kHz, 16-bit little-endian, mono.
const NativeRate = 24000

// Sentinel errors, wrapped by the errors this package returns.
var (
	ErrConfig  = errors.New("tts openai: invalid configuration")
	ErrRequest = errors.New("tts openai: request failed")
	ErrStream  = errors.New("tts openai: audio stream failed")
)

// Config configures a Synthesizer.
type Config struct {
	APIKey       string         // bearer token; may be empty for local compatible servers
	BaseURL      string         // API root; default "https://api.openai.com/v1"
	Model        string         // "tts-1", "tts-1-hd", "gpt-4o-mini-tts", ...; default "tts-1"
	Voice        string         // voice when the Request names none; default "alloy"
	Instructions string         // speaking-style instructions (gpt-4o-mini-tts only); default none
	Timeout      time.Duration  // limit on waiting for the response to start; default 10s
	StallTimeout time.Duration  // limit on waiting for more audio once it flows; default 5s
	Retries      int            // further attempts after a transient failure before any audio; default 2; <0: none
	HTTPClient   *http.Client   // default http.DefaultClient
	Logger       zerolog.Logger // default zerolog.Nop()
}

// Synthesizer renders text with the /audio/speech endpoint. It is safe for concurrent use.
type Synthesizer struct {
	cfg    Config
	client *goopenai.Client
}

// New checks c, fills its defaults and returns a Synthesizer.
func New(c Config) (*Synthesizer, error) {
	if c.BaseURL == "" {
		c.BaseURL = "https://api.openai.com/v1"
	}
	if !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return nil, fmt.Errorf("%w: base URL %q", ErrConfig, c.BaseURL)
	}
	if c.Model == "" {
		c.Model = string(goopenai.TTSModel1)
	}
	if c.Voice == "" {
		c.Voice = string(goopenai.VoiceAlloy)
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = 5 * time.Second
	}
	if c.Retries == 0 {
		c.Retries = 2
	} else if c.Retries < 0 {
		c.Retries = 0
	}
	return &Synthesizer{cfg: c, client: openaiclient.New(c.APIKey, c.BaseURL, c.HTTPClient)}, nil
}

// Synthesize requests r.Text as 24 kHz PCM and returns a Source that yields 20 ms frames at r.Rate (24000 when 0;
// 8000, 16000 and 48000 are resampled) as the response streams in. The Source ends with io.EOF; it stops early
// when ctx ends or Close is called.
func (s *Synthesizer) Synthesize(ctx context.Context, r tts.Request) (audio.Source, error) {
	if strings.TrimSpace(r.Text) == "" {
		return nil, fmt.Errorf("%w: empty text", ErrConfig)
	}
	rate := r.Rate
	if rate == 0 {
		rate = NativeRate
	}
	var rs *audio.Resampler
	if rate != NativeRate {
		var err error
		if rs, err = audio.NewResampler(NativeRate, rate); err != nil {
			return nil, fmt.Errorf("%w: rate %d: %w", ErrConfig, rate, err)
		}
	}
	speed := r.Speed
	if speed == 0 {
		speed = 1
	}
	if speed < 0.25 || speed > 4 {
		return nil, fmt.Errorf("%w: speed %v outside 0.25..4", ErrConfig, r.Speed)
	}
	voice := r.Voice
	if voice == "" {
		voice = s.cfg.Voice
	}
	req := goopenai.CreateSpeechRequest{
		Model:          goopenai.SpeechModel(s.cfg.Model),
		Input:          r.Text,
		Voice:          goopenai.SpeechVoice(voice),
		Instructions:   s.cfg.Instructions,
		ResponseFormat: goopenai.SpeechResponseFormatPcm,
		Speed:          speed,
	}

	var last error
	for attempt := 0; attempt <= s.cfg.Retries; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(time.Duration(attempt) * 200 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("%w: %w", ErrRequest, ctx.Err())
			case <-t.C:
			}
		}
		src, err := s.open(ctx, req, rate, rs)
		if err == nil {
			return src, nil
		}
		last = err
		if ctx.Err() != nil || !transient(err) {
			break
		}
		s.cfg.Logger.Debug().Err(err).Int("attempt", attempt+1).Msg("tts openai request failed, retrying")
	}
	return nil, fmt.Errorf("%w (model %s, voice %s): %w", ErrRequest, s.cfg.Model, voice, last)
}

// open sends one request and waits, up to Timeout, for the response to start.
func (s *Synthesizer) open(ctx context.Context, req goopenai.CreateSpeechRequest, rate int, rs *audio.Resampler) (*Source, error) {
	sctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(s.cfg.Timeout, cancel)
	resp, err := s.client.CreateSpeech(sctx, req)
	if !timer.Stop() {
		cancel()
		if resp.ReadCloser != nil {
			resp.Close()
		}
		if err == nil || errors.Is(err, context.Canceled) {
			err = fmt.Errorf("no response within %v: %w", s.cfg.Timeout, context.DeadlineExceeded)
		}
		return nil, err
	}
	if err != nil {
		cancel()
		return nil, err
	}
	src := &Source{
		body:   resp.ReadCloser,
		ctx:    sctx,
		cancel: cancel,
		rate:   rate,
		rs:     rs,
		stall:  s.cfg.StallTimeout,
		raw:    make([]byte, 0, 16384),
	}
	// The request's context ends the body read when the caller's ctx ends or Close is called.
	return src, nil
}

// Source streams one synthesis as 20 ms frames.
type Source struct {
	body   io.ReadCloser
	ctx    context.Context
	cancel context.CancelFunc
	rate   int
	rs     *audio.Resampler
	stall  time.Duration

	mu   sync.Mutex
	raw  []byte // bytes received and not yet framed
	eof  bool
	err  error
	tail bool // the padded last frame has been produced
}

// Format returns the rate of the frames Read returns.
func (s *Source) Format() audio.Format { return audio.Format{Rate: s.rate} }

// Read returns the next 20 ms frame, io.EOF after the last, or the stream's failure.
func (s *Source) Read(ctx context.Context) (audio.Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	const inFrame = 2 * NativeRate / 50 // bytes in one 20 ms frame at 24 kHz
	for len(s.raw) < inFrame && !s.eof && s.err == nil {
		s.fill(ctx)
	}
	if s.err != nil {
		return audio.Frame{}, s.err
	}
	if len(s.raw) == 0 || (s.eof && s.tail) {
		s.finish()
		return audio.Frame{}, io.EOF
	}
	chunk := s.raw
	if len(chunk) > inFrame {
		chunk = chunk[:inFrame]
	}
	in := make([]int16, inFrame/2) // a short last frame is padded with silence
	audio.PCM16LE(in[:len(chunk)/2], chunk)
	s.raw = s.raw[:copy(s.raw, s.raw[len(chunk):])]
	if s.eof && len(s.raw) < 2 {
		s.tail = true
		s.raw = s.raw[:0]
	}
	out := in
	if s.rs != nil {
		out = s.rs.Process(make([]int16, 0, s.rs.OutLen(len(in))), in)
	}
	return audio.Frame{Rate: s.rate, Samples: out}, nil
}

// fill reads more of the body, giving up after the stall timeout or when ctx or the source's context ends.
func (s *Source) fill(ctx context.Context) {
	stop := context.AfterFunc(ctx, s.cancel)
	defer stop()
	timer := time.AfterFunc(s.stall, s.cancel)
	defer timer.Stop()
	if cap(s.raw)-len(s.raw) < 4096 {
		s.raw = append(make([]byte, 0, len(s.raw)+8192), s.raw...)
	}
	n, err := s.body.Read(s.raw[len(s.raw):cap(s.raw)])
	s.raw = s.raw[:len(s.raw)+n]
	switch {
	case err == io.EOF:
		s.eof = true
		s.body.Close()
	case err != nil:
		cause := err
		if ctx.Err() != nil {
			cause = ctx.Err()
		} else if s.ctx.Err() != nil && !timer.Stop() {
			cause = fmt.Errorf("no audio for %v: %w", s.stall, context.DeadlineExceeded)
		}
		s.err = fmt.Errorf("%w: %w", ErrStream, cause)
		s.finish()
	}
}

// Close stops the stream and releases the connection; Read then fails.
func (s *Source) Close() error {
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil && !(s.eof && s.tail) {
		s.err = fmt.Errorf("%w: %w", ErrStream, context.Canceled)
	}
	s.finish()
	return nil
}

func (s *Source) finish() {
	s.cancel()
	s.body.Close()
}

func transient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ae *goopenai.APIError
	if errors.As(err, &ae) {
		return ae.HTTPStatusCode == http.StatusTooManyRequests || ae.HTTPStatusCode >= 500
	}
	var re *goopenai.RequestError
	if errors.As(err, &re) {
		return re.HTTPStatusCode == http.StatusTooManyRequests || re.HTTPStatusCode >= 500
	}
	var ne net.Error
	return errors.As(err, &ne)
}
