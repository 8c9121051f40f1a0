// Package openai is an asr.Recognizer for OpenAI-compatible transcription APIs, fed with VAD-cut utterances.
package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	goopenai "github.com/sashabaranov/go-openai"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/internal/openaiclient"
	"github.com/outcall/outcall/pkg/audio"
)

const provider = "openai"

// Sentinel errors; returned errors wrap them inside an *asr.Error naming the provider.
var (
	ErrConfig = errors.New("invalid configuration")
	ErrClosed = errors.New("stream closed")
)

// Config configures a Recognizer.
type Config struct {
	APIKey         string              // bearer token; may be empty for local compatible servers
	BaseURL        string              // API root; default "https://api.openai.com/v1"
	Model          string              // "whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", ...; default "whisper-1"
	Language       string              // ISO-639-1 code sent with each request; default: asr.Config.Language
	Prompt         string              // text put before the hotwords in the prompt; default none
	Temperature    float32             // sampling temperature; default 0
	RequestTimeout time.Duration       // limit on one transcription request; default 15s
	Retries        int                 // further attempts after a transient request failure; default 1; <0: none
	Segmenter      asr.SegmenterConfig // how the audio is cut into utterances; default asr.NewSegmenter's defaults
	HTTPClient     *http.Client        // default http.DefaultClient
	Logger         zerolog.Logger      // default zerolog.Nop()
}

// Recognizer transcribes utterances with an OpenAI-compatible /audio/transcriptions endpoint. It is safe for
// concurrent use.
type Recognizer struct {
	cfg    Config
	client *goopenai.Client
}

// New checks c, fills its defaults and returns a Recognizer.
func New(c Config) (*Recognizer, error) {
	if c.BaseURL == "" {
		c.BaseURL = "https://api.openai.com/v1"
	}
	if !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return nil, perr("config", fmt.Errorf("%w: base URL %q", ErrConfig, c.BaseURL), false)
	}
	if c.Model == "" {
		c.Model = goopenai.Whisper1
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 15 * time.Second
	}
	if c.Retries == 0 {
		c.Retries = 1
	} else if c.Retries < 0 {
		c.Retries = 0
	}
	return &Recognizer{cfg: c, client: openaiclient.New(c.APIKey, c.BaseURL, c.HTTPClient)}, nil
}

// Start begins a stream. Frames are cut into utterances by a VAD; each utterance is sent as a 16 kHz WAV and its
// text delivered as a final Result (no partials). A request that fails after its retries gives a final Result with
// Err set; the stream goes on with the next utterance, since each request stands alone.
func (r *Recognizer) Start(ctx context.Context, c asr.Config) (asr.Stream, error) {
	if c.SampleRate == 0 {
		c.SampleRate = 16000
	}
	var rs *audio.Resampler
	if c.SampleRate != 16000 {
		var err error
		if rs, err = audio.NewResampler(c.SampleRate, 16000); err != nil {
			return nil, perr("start", fmt.Errorf("%w: sample rate %d: %w", ErrConfig, c.SampleRate, err), false)
		}
	}
	lang := r.cfg.Language
	if lang == "" {
		lang = c.Language
	}
	if lang == "" {
		lang = "zh"
	}
	if i := strings.IndexAny(lang, "-_"); i > 0 {
		lang = lang[:i] // the API wants ISO-639-1: "zh-CN" → "zh"
	}
	sctx, cancel := context.WithCancel(ctx)
	s := &stream{
		r:       r,
		ctx:     sctx,
		cancel:  cancel,
		rate:    c.SampleRate,
		lang:    lang,
		prompt:  prompt(r.cfg.Prompt, c.Hotwords, lang),
		rs:      rs,
		seg:     asr.NewSegmenter(r.cfg.Segmenter),
		wake:    make(chan struct{}, 1),
		results: make(chan asr.Result, 8),
		log:     r.cfg.Logger.With().Str("provider", provider).Logger(),
	}
	go s.work()
	return s, nil
}

// prompt joins the configured prompt and the hotwords: transcription models take the prompt as context and favour
// its spellings.
func prompt(base string, hot []string, lang string) string {
	var words []string
	for _, w := range hot {
		if w = strings.TrimSpace(w); w != "" {
			words = append(words, w)
		}
	}
	sep := ", "
	if lang == "zh" {
		sep = "、"
	}
	p := strings.Join(words, sep)
	switch {
	case base == "":
		return p
	case p == "":
		return base
	}
	return base + " " + p
}

type stream struct {
	r      *Recognizer
	ctx    context.Context
	cancel context.CancelFunc
	rate   int
	lang   string
	prompt string
	rs     *audio.Resampler
	log    zerolog.Logger

	mu      sync.Mutex
	seg     *asr.Segmenter
	queue   []asr.Utterance
	closing bool

	wake    chan struct{} // a new utterance is queued, or Close was called
	results chan asr.Result
	seq     atomic.Int64
}

// Write feeds the segmenter; a completed utterance is queued for transcription without blocking.
func (s *stream) Write(f audio.Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return perr("write", ErrClosed, false)
	}
	if err := s.ctx.Err(); err != nil {
		return perr("write", err, false)
	}
	if f.Rate != 0 && f.Rate != s.rate {
		return perr("write", fmt.Errorf("%w: frame rate %d, stream rate %d", ErrConfig, f.Rate, s.rate), false)
	}
	f.Rate = s.rate
	if u, ok := s.seg.Push(f); ok {
		s.enqueueLocked(u)
	}
	return nil
}

func (s *stream) enqueueLocked(u asr.Utterance) {
	s.queue = append(s.queue, u)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Results delivers one final Result per utterance; it is closed after Close once the queued utterances are done.
func (s *stream) Results() <-chan asr.Result { return s.results }

// Close ends the audio: the utterance in progress is transcribed too.
func (s *stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil
	}
	s.closing = true
	if u, ok := s.seg.Flush(); ok {
		s.queue = append(s.queue, u)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// work transcribes queued utterances in order.
func (s *stream) work() {
	defer close(s.results)
	defer s.cancel()
	for {
		s.mu.Lock()
		var u asr.Utterance
		have := len(s.queue) > 0
		if have {
			u = s.queue[0]
			s.queue[0] = asr.Utterance{}
			s.queue = s.queue[1:]
		}
		done := !have && s.closing
		s.mu.Unlock()
		if done {
			return
		}
		if !have {
			select {
			case <-s.wake:
				continue
			case <-s.ctx.Done():
				return
			}
		}
		res := s.transcribe(u)
		select {
		case s.results <- res:
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *stream) transcribe(u asr.Utterance) asr.Result {
	res := asr.Result{Final: true, Start: u.Start, End: u.End, Language: s.lang}
	pcm := u.Samples
	if s.rs != nil {
		s.rs.Reset()
		pcm = s.rs.Process(make([]int16, 0, s.rs.OutLen(len(pcm))), pcm)
	}
	wav, err := audio.EncodeWAV(16000, 1, audio.WAVPCM16, pcm)
	if err != nil {
		res.Err = perr("transcribe", err, false)
		return res
	}
	n := s.seq.Add(1)
	cfg := &s.r.cfg
	var last error
	for attempt := 0; attempt <= cfg.Retries; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(time.Duration(attempt) * 200 * time.Millisecond)
			select {
			case <-s.ctx.Done():
				t.Stop()
				res.Err = perr("transcribe", s.ctx.Err(), false)
				return res
			case <-t.C:
			}
		}
		ctx, cancel := context.WithTimeout(s.ctx, cfg.RequestTimeout)
		start := time.Now()
		out, err := s.r.client.CreateTranscription(ctx, goopenai.AudioRequest{
			Model:       cfg.Model,
			FilePath:    fmt.Sprintf("utterance-%d.wav", n),
			Reader:      bytes.NewReader(wav),
			Prompt:      s.prompt,
			Temperature: cfg.Temperature,
			Language:    s.lang,
			Format:      goopenai.AudioResponseFormatJSON,
		})
		cancel()
		if err == nil {
			res.Text = strings.TrimSpace(out.Text)
			if out.Language != "" {
				res.Language = out.Language
			}
			s.log.Debug().Dur("took", time.Since(start)).Dur("audio", u.End-u.Start).Msg("openai transcription")
			return res
		}
		last = err
		if s.ctx.Err() != nil || !transient(err) {
			break
		}
		s.log.Debug().Err(err).Int("attempt", attempt+1).Msg("openai transcription failed, retrying")
	}
	res.Err = perr("transcribe", last, transient(last))
	return res
}

// transient tells retryable failures: timeouts, network errors, rate limits and server errors.
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
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed)
}

func perr(op string, err error, transient bool) error {
	return &asr.Error{Provider: provider, Op: op, Err: err, Transient: transient}
}
