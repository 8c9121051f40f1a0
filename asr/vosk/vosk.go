// Package vosk is an asr.Recognizer for vosk-server's WebSocket protocol.
package vosk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/internal/wsasr"
	"github.com/outcall/outcall/pkg/audio"
)

const provider = "vosk"

// eofMessage ends the audio. vosk-server compares the text byte for byte, spaces included.
const eofMessage = `{"eof" : 1}`

// Sentinel errors; returned errors wrap them inside an *asr.Error naming the provider.
var (
	ErrConfig   = errors.New("invalid configuration")
	ErrProtocol = errors.New("protocol violation")
	ErrClosed   = errors.New("stream closed")
)

// Config configures a Recognizer.
type Config struct {
	URL             string         // server address, such as "ws://127.0.0.1:2700"; required
	ChunkDuration   time.Duration  // audio sent per message (the server answers each one); default 100ms
	Words           *bool          // ask for word timings and confidences ("words"); default true
	MaxAlternatives int            // n-best list size ("max_alternatives"); default 0: one result
	Grammar         bool           // send asr.Config.Phrases as "phrase_list" (plus "[unk]"); default false
	DialTimeout     time.Duration  // limit on the WebSocket handshake; default 5s
	WriteTimeout    time.Duration  // limit on sending one message; default 2s
	FinalTimeout    time.Duration  // after Close, how long to wait for the final result; default 5s
	HTTPClient      *http.Client   // client for the handshake; default http.DefaultClient
	Logger          zerolog.Logger // default zerolog.Nop()
}

// Recognizer starts vosk-server streams. It is safe for concurrent use; each stream has its own connection.
type Recognizer struct{ cfg Config }

// New checks c, fills its defaults and returns a Recognizer.
func New(c Config) (*Recognizer, error) {
	if !(strings.HasPrefix(c.URL, "ws://") || strings.HasPrefix(c.URL, "wss://")) {
		return nil, perr("config", fmt.Errorf("%w: URL %q must start with ws:// or wss://", ErrConfig, c.URL), false)
	}
	if c.ChunkDuration <= 0 {
		c.ChunkDuration = 100 * time.Millisecond
	}
	if c.Words == nil {
		t := true
		c.Words = &t
	}
	if c.MaxAlternatives < 0 {
		return nil, perr("config", fmt.Errorf("%w: max alternatives %d", ErrConfig, c.MaxAlternatives), false)
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 2 * time.Second
	}
	if c.FinalTimeout <= 0 {
		c.FinalTimeout = 5 * time.Second
	}
	return &Recognizer{cfg: c}, nil
}

type configMessage struct {
	Config struct {
		SampleRate      int      `json:"sample_rate"`
		Words           int      `json:"words"`
		MaxAlternatives int      `json:"max_alternatives"`
		PhraseList      []string `json:"phrase_list,omitempty"`
	} `json:"config"`
}

// word is one entry of a final result's "result" list (times in seconds).
type word struct {
	Conf  float64 `json:"conf"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Word  string  `json:"word"`
}

// response is any vosk-server answer: a partial, a final result, or an n-best final.
type response struct {
	Partial      *string `json:"partial"`
	Text         *string `json:"text"`
	Result       []word  `json:"result"`
	Alternatives []struct {
		Confidence float64 `json:"confidence"`
		Text       string  `json:"text"`
		Result     []word  `json:"result"`
	} `json:"alternatives"`
}

// Start dials the server and sends the configuration message. Frames must be PCM at c.SampleRate.
func (r *Recognizer) Start(ctx context.Context, c asr.Config) (asr.Stream, error) {
	if c.SampleRate == 0 {
		c.SampleRate = 16000
	}
	if c.SampleRate < 8000 || c.SampleRate > 48000 {
		return nil, perr("start", fmt.Errorf("%w: sample rate %d", ErrConfig, c.SampleRate), false)
	}
	var cm configMessage
	cm.Config.SampleRate = c.SampleRate
	if *r.cfg.Words {
		cm.Config.Words = 1
	}
	cm.Config.MaxAlternatives = r.cfg.MaxAlternatives
	if r.cfg.Grammar && len(c.Phrases) > 0 {
		cm.Config.PhraseList = append(append([]string(nil), c.Phrases...), "[unk]")
	}
	first, err := json.Marshal(cm)
	if err != nil {
		return nil, perr("start", err, false)
	}
	ws, err := wsasr.Dial(ctx, wsasr.Options{
		Provider:     provider,
		URL:          r.cfg.URL,
		HTTPClient:   r.cfg.HTTPClient,
		DialTimeout:  r.cfg.DialTimeout,
		WriteTimeout: r.cfg.WriteTimeout,
		Rate:         c.SampleRate,
		Chunk:        2 * audio.Format{Rate: c.SampleRate}.Samples(r.cfg.ChunkDuration),
		End:          []byte(eofMessage),
		ErrClosed:    ErrClosed,
		ErrConfig:    ErrConfig,
		Transient: func(resp *http.Response) bool {
			return resp == nil || resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
		},
	}, first)
	if err != nil {
		return nil, err
	}
	s := &stream{Stream: ws, cfg: &r.cfg, log: r.cfg.Logger.With().Str("provider", provider).Logger()}
	go ws.Serve(s.read)
	return s, nil
}

// stream is the vosk-server protocol over the shared WebSocket transport; Close sends the EOF message.
type stream struct {
	*wsasr.Stream
	cfg *Config
	log zerolog.Logger
}

// read turns server messages into Results until the answer to the EOF, a failure, or the context's end.
func (s *stream) read(msgs <-chan []byte, errc <-chan error) {
	var answered int64
	var lastPartial string
	var finalTimer <-chan time.Time
	closed := s.Closed()
	for {
		select {
		case <-closed:
			closed = nil
			t := time.NewTimer(s.cfg.FinalTimeout)
			defer t.Stop()
			finalTimer = t.C
		case <-finalTimer:
			s.Emit(asr.Result{Final: true, Text: lastPartial,
				Err: perr("read", fmt.Errorf("no final result within %v of end of audio", s.cfg.FinalTimeout), true)})
			return
		case err := <-errc:
			if s.Context().Err() != nil && !s.IsClosing() {
				return
			}
			s.log.Warn().Err(err).Msg("vosk connection lost")
			s.Emit(asr.Result{Final: true, Text: lastPartial, Err: perr("read", err, true)})
			return
		case b := <-msgs:
			answered++
			res, ok, err := decode(b)
			if err != nil {
				s.Emit(asr.Result{Final: true, Err: perr("read", err, false)})
				return
			}
			if ok {
				if res.Final {
					lastPartial = ""
				} else if res.Text == lastPartial {
					ok = false // vosk repeats the partial for every chunk; pass on changes only
				} else {
					lastPartial = res.Text
				}
			}
			if ok && !s.Emit(res) {
				return
			}
			// The answer to the EOF is the last one: one answer per audio message, then the EOF's.
			if s.IsClosing() && answered > s.Sent() {
				return
			}
		}
	}
}

// decode turns one server message into a Result; ok is false for messages that carry nothing to report (an empty
// partial or an empty final on silence).
func decode(b []byte) (r asr.Result, ok bool, err error) {
	var m response
	if err := json.Unmarshal(b, &m); err != nil {
		return r, false, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	switch {
	case m.Partial != nil:
		return asr.Result{Text: *m.Partial}, *m.Partial != "", nil
	case len(m.Alternatives) > 0:
		a := m.Alternatives[0]
		r = asr.Result{Text: a.Text, Final: true, Confidence: clamp01(a.Confidence)}
		r.Start, r.End = span(a.Result)
		return r, a.Text != "", nil
	case m.Alternatives != nil:
		return asr.Result{Final: true}, false, nil
	case m.Text != nil:
		r = asr.Result{Text: *m.Text, Final: true}
		if len(m.Result) > 0 {
			var sum float64
			for _, w := range m.Result {
				sum += w.Conf
			}
			r.Confidence = clamp01(sum / float64(len(m.Result)))
			r.Start, r.End = span(m.Result)
		}
		return r, *m.Text != "", nil
	}
	return r, false, fmt.Errorf("%w: message has neither partial, text nor alternatives", ErrProtocol)
}

func span(ws []word) (start, end time.Duration) {
	if len(ws) == 0 {
		return 0, 0
	}
	start = secs(ws[0].Start)
	end = secs(ws[len(ws)-1].End)
	if end < start {
		end = start
	}
	return start, end
}

func secs(f float64) time.Duration {
	if !(f > 0) || f > 1e6 { // also rejects NaN
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

func clamp01(f float64) float64 {
	if !(f > 0) {
		return 0
	}
	if f > 1 {
		return 1
	}
	return f
}

func perr(op string, err error, transient bool) error {
	return &asr.Error{Provider: provider, Op: op, Err: err, Transient: transient}
}
