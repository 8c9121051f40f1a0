// Package funasr is an asr.Recognizer for the FunASR runtime WebSocket server (2pass, online and offline modes).
package funasr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/internal/wsasr"
)

// provider names this package in errors.
const provider = "funasr"

// Modes of the FunASR runtime.
const (
	Mode2Pass   = "2pass"   // streaming partials, corrected by the offline model at each sentence end
	ModeOnline  = "online"  // streaming partials only
	ModeOffline = "offline" // one result per utterance, after the end of audio
)

// Sentinel errors; returned errors wrap them inside an *asr.Error naming the provider.
var (
	ErrConfig   = errors.New("invalid configuration")
	ErrServer   = errors.New("server reported an error")
	ErrProtocol = errors.New("protocol violation")
	ErrClosed   = errors.New("stream closed")
)

// Config configures a Recognizer.
type Config struct {
	URL           string        // server address, such as "ws://127.0.0.1:10095"; required
	Mode          string        // Mode2Pass, ModeOnline or ModeOffline; default Mode2Pass
	ChunkSize     [3]int        // streaming latency in 60 ms units: look-back, chunk, look-ahead; default [5 10 5]
	ChunkInterval int           // audio is sent in pieces of 60·ChunkSize[1]/ChunkInterval ms; default 10 (60 ms)
	WavName       string        // wav_name sent to the server, suffixed with a stream counter; default "outcall"
	DisableITN    bool          // turn off inverse text normalisation (itn); default false: itn on
	HotwordWeight int           // weight given to every asr.Config hotword; default 20
	DialTimeout   time.Duration // limit on the WebSocket handshake; default 5s
	WriteTimeout  time.Duration // limit on sending one message; default 2s
	FinalTimeout  time.Duration // after Close, how long to wait for the last result; default 5s
	// PythonServer says the server is funasr_wss_server.py, whose is_final mirrors is_speaking: is_final is then
	// ignored and the stream ends once the server has been quiet for FinalTimeout after Close.
	PythonServer bool           // default false: the C++ runtime, which marks its last result with is_final
	HTTPClient   *http.Client   // client for the handshake (TLS settings for wss); default http.DefaultClient
	Logger       zerolog.Logger // default zerolog.Nop()
}

// Recognizer starts FunASR streams. It is safe for concurrent use; each stream has its own connection.
type Recognizer struct {
	cfg Config
	seq atomic.Uint64
}

// New checks c, fills its defaults and returns a Recognizer.
func New(c Config) (*Recognizer, error) {
	if c.URL == "" || !(strings.HasPrefix(c.URL, "ws://") || strings.HasPrefix(c.URL, "wss://")) {
		return nil, perr("config", fmt.Errorf("%w: URL %q must start with ws:// or wss://", ErrConfig, c.URL), false)
	}
	switch c.Mode {
	case "":
		c.Mode = Mode2Pass
	case Mode2Pass, ModeOnline, ModeOffline:
	default:
		return nil, perr("config", fmt.Errorf("%w: mode %q", ErrConfig, c.Mode), false)
	}
	if c.ChunkSize == [3]int{} {
		c.ChunkSize = [3]int{5, 10, 5}
	}
	if c.ChunkSize[1] <= 0 || c.ChunkSize[0] < 0 || c.ChunkSize[2] < 0 {
		return nil, perr("config", fmt.Errorf("%w: chunk_size %v", ErrConfig, c.ChunkSize), false)
	}
	if c.ChunkInterval <= 0 {
		c.ChunkInterval = 10
	}
	if c.WavName == "" {
		c.WavName = "outcall"
	}
	if c.HotwordWeight <= 0 {
		c.HotwordWeight = 20
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

// startMessage is the first message of a stream, as the FunASR runtime protocol defines it.
type startMessage struct {
	Mode          string `json:"mode"`
	ChunkSize     []int  `json:"chunk_size"`
	ChunkInterval int    `json:"chunk_interval"`
	AudioFS       int    `json:"audio_fs"`
	WavName       string `json:"wav_name"`
	WavFormat     string `json:"wav_format"`
	IsSpeaking    bool   `json:"is_speaking"`
	Hotwords      string `json:"hotwords"`
	ITN           bool   `json:"itn"`
}

// message is a result sent by the server.
type message struct {
	Mode      string          `json:"mode"`
	WavName   string          `json:"wav_name"`
	Text      string          `json:"text"`
	IsFinal   bool            `json:"is_final"`
	Timestamp json.RawMessage `json:"timestamp"`
}

// Start dials the server and sends the stream's parameters. The stream lives until Close, a failure or ctx's end.
// Frames must be PCM at c.SampleRate, which FunASR accepts at 8000 or 16000 Hz.
func (r *Recognizer) Start(ctx context.Context, c asr.Config) (asr.Stream, error) {
	if c.SampleRate == 0 {
		c.SampleRate = 16000
	}
	if c.SampleRate != 8000 && c.SampleRate != 16000 {
		return nil, perr("start", fmt.Errorf("%w: sample rate %d (FunASR takes 8000 or 16000)", ErrConfig, c.SampleRate), false)
	}
	hot := ""
	if len(c.Hotwords) > 0 {
		m := make(map[string]int, len(c.Hotwords))
		for _, w := range c.Hotwords {
			if w = strings.TrimSpace(w); w != "" {
				m[w] = r.cfg.HotwordWeight
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, perr("start", err, false)
		}
		hot = string(b)
	}
	start := startMessage{
		Mode:          r.cfg.Mode,
		ChunkSize:     r.cfg.ChunkSize[:],
		ChunkInterval: r.cfg.ChunkInterval,
		AudioFS:       c.SampleRate,
		WavName:       fmt.Sprintf("%s-%d", r.cfg.WavName, r.seq.Add(1)),
		WavFormat:     "pcm",
		IsSpeaking:    true,
		Hotwords:      hot,
		ITN:           !r.cfg.DisableITN,
	}
	first, err := json.Marshal(start)
	if err != nil {
		return nil, perr("start", err, false)
	}

	chunk := 2 * c.SampleRate * 60 * r.cfg.ChunkSize[1] / r.cfg.ChunkInterval / 1000
	ws, err := wsasr.Dial(ctx, wsasr.Options{
		Provider:     provider,
		URL:          r.cfg.URL,
		HTTPClient:   r.cfg.HTTPClient,
		Subprotocols: []string{"binary"}, // the Python server insists on it; the C++ server ignores it
		DialTimeout:  r.cfg.DialTimeout,
		WriteTimeout: r.cfg.WriteTimeout,
		Rate:         c.SampleRate,
		Chunk:        chunk,
		End:          []byte(`{"is_speaking": false}`),
		ErrClosed:    ErrClosed,
		ErrConfig:    ErrConfig,
		Transient: func(resp *http.Response) bool {
			return resp == nil || resp.StatusCode < 400 || resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
		},
	}, first)
	if err != nil {
		return nil, err
	}
	s := &stream{
		Stream: ws,
		cfg:    &r.cfg,
		log:    r.cfg.Logger.With().Str("provider", provider).Str("wav_name", start.WavName).Logger(),
	}
	go ws.Serve(s.read)
	s.log.Debug().Str("mode", start.Mode).Int("audio_fs", start.AudioFS).Msg("funasr stream started")
	return s, nil
}

// stream is the FunASR protocol over the shared WebSocket transport; Close sends {"is_speaking": false}.
type stream struct {
	*wsasr.Stream
	cfg *Config
	log zerolog.Logger
}

// read turns server messages into Results until the server's end, a failure, or the context's end.
func (s *stream) read(msgs <-chan []byte, errc <-chan error) {
	var partial strings.Builder // online text of the current sentence, which FunASR sends in pieces
	var partialStart time.Duration

	flushPartial := func() bool {
		if partial.Len() == 0 {
			return true
		}
		r := asr.Result{Text: partial.String(), Final: true, Start: partialStart, End: s.Pos()}
		partial.Reset()
		return s.Emit(r)
	}
	var finalTimer <-chan time.Time
	var timer *time.Timer
	closed := s.Closed()
	for {
		select {
		case <-closed:
			closed = nil
			timer = time.NewTimer(s.cfg.FinalTimeout)
			defer timer.Stop()
			finalTimer = timer.C
		case <-finalTimer:
			// Offline-mode and Python servers send no end marker: a quiet server after the end of audio is done.
			s.log.Debug().Msg("funasr: no end marker after close; ending stream")
			flushPartial()
			return
		case err := <-errc:
			if s.IsClosing() && (websocket.CloseStatus(err) == websocket.StatusNormalClosure || s.Context().Err() != nil) {
				flushPartial()
				return
			}
			if s.Context().Err() != nil && !s.IsClosing() {
				return // the caller's context ended: nobody is waiting for results
			}
			s.log.Warn().Err(err).Msg("funasr connection lost")
			s.Emit(asr.Result{Final: true, Text: partial.String(), Err: perr("read", err, true)})
			return
		case b := <-msgs:
			var m message
			if err := json.Unmarshal(b, &m); err != nil {
				s.Emit(asr.Result{Final: true, Err: perr("read", fmt.Errorf("%w: %v", ErrProtocol, err), false)})
				return
			}
			if s.cfg.PythonServer {
				m.IsFinal = false
				if timer != nil {
					timer.Reset(s.cfg.FinalTimeout)
				}
			}
			start, end, hasTS := parseTimestamp(m.Timestamp)
			switch m.Mode {
			case ModeOnline, "2pass-online":
				if partial.Len() == 0 {
					partialStart = s.Pos()
				}
				partial.WriteString(m.Text)
				if m.IsFinal && s.IsClosing() {
					break // flushed as a final below
				}
				if m.Text != "" && !s.Emit(asr.Result{Text: partial.String(), Start: partialStart, End: s.Pos()}) {
					return
				}
			case ModeOffline, "2pass-offline":
				r := asr.Result{Text: m.Text, Final: true, Start: partialStart, End: s.Pos()}
				if partial.Len() == 0 {
					r.Start = r.End
				}
				if hasTS {
					r.Start, r.End = start, end
				}
				partial.Reset()
				if m.Text != "" && !s.Emit(r) {
					return
				}
				if m.Mode == ModeOffline && s.IsClosing() {
					// Offline servers send one result after the end of audio and never set is_final.
					return
				}
			case "":
				if strings.HasPrefix(m.Text, "ERROR") {
					s.Emit(asr.Result{Final: true, Err: perr("recognize", fmt.Errorf("%w: %s", ErrServer, m.Text), false)})
					return
				}
				if !m.IsFinal {
					s.log.Debug().Msg("funasr: message without mode ignored")
				}
			default:
				s.log.Debug().Str("mode", m.Mode).Msg("funasr: unknown mode ignored")
			}
			if m.IsFinal && s.IsClosing() {
				flushPartial()
				return
			}
		}
	}
}

// parseTimestamp reads FunASR's "timestamp" field, a JSON string (or, from some servers, an array) of [start, end]
// millisecond pairs, and returns the span it covers.
func parseTimestamp(raw json.RawMessage) (start, end time.Duration, ok bool) {
	if len(raw) == 0 {
		return 0, 0, false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return 0, 0, false
		}
		raw = json.RawMessage(s)
	}
	var pairs [][]float64
	if json.Unmarshal(raw, &pairs) != nil || len(pairs) == 0 {
		return 0, 0, false
	}
	first, last := pairs[0], pairs[len(pairs)-1]
	if len(first) < 2 || len(last) < 2 || first[0] < 0 || last[1] < first[0] {
		return 0, 0, false
	}
	return time.Duration(first[0] * float64(time.Millisecond)), time.Duration(last[1] * float64(time.Millisecond)), true
}

func perr(op string, err error, transient bool) error {
	return &asr.Error{Provider: provider, Op: op, Err: err, Transient: transient}
}
