// Package vosk is an asr.Recognizer for vosk-server's WebSocket protocol.
package vosk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/outcall/outcall/asr"
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
	dctx, cancel := context.WithTimeout(ctx, r.cfg.DialTimeout)
	conn, resp, err := websocket.Dial(dctx, r.cfg.URL, &websocket.DialOptions{HTTPClient: r.cfg.HTTPClient})
	cancel()
	if err != nil {
		transient := resp == nil || resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
		return nil, perr("dial", err, transient)
	}
	conn.SetReadLimit(1 << 20)
	wctx, wcancel := context.WithTimeout(ctx, r.cfg.WriteTimeout)
	err = conn.Write(wctx, websocket.MessageText, first)
	wcancel()
	if err != nil {
		conn.CloseNow()
		return nil, perr("start", err, true)
	}
	sctx, scancel := context.WithCancel(ctx)
	s := &stream{
		cfg:     &r.cfg,
		conn:    conn,
		ctx:     sctx,
		cancel:  scancel,
		rate:    c.SampleRate,
		chunk:   2 * audio.Format{Rate: c.SampleRate}.Samples(r.cfg.ChunkDuration),
		results: make(chan asr.Result, 16),
		closed:  make(chan struct{}),
		log:     r.cfg.Logger.With().Str("provider", provider).Logger(),
	}
	s.chunk = max(s.chunk, 2)
	s.buf = make([]byte, 0, s.chunk)
	go s.read()
	return s, nil
}

type stream struct {
	cfg    *Config
	conn   *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	rate   int
	chunk  int
	log    zerolog.Logger

	mu      sync.Mutex
	buf     []byte
	err     error
	closing bool

	sent    atomic.Int64 // audio messages sent; the server answers each one, then the EOF
	samples atomic.Int64
	results chan asr.Result
	closed  chan struct{}
}

// Write queues f's samples and sends a message once a chunk is full.
func (s *stream) Write(f audio.Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.closing {
		return perr("write", ErrClosed, false)
	}
	if f.Rate != 0 && f.Rate != s.rate {
		return perr("write", fmt.Errorf("%w: frame rate %d, stream rate %d", ErrConfig, f.Rate, s.rate), false)
	}
	s.buf = audio.AppendPCM16LE(s.buf, f.Samples)
	s.samples.Add(int64(len(f.Samples)))
	if len(s.buf) >= s.chunk {
		return s.flushLocked()
	}
	return nil
}

func (s *stream) flushLocked() error {
	if len(s.buf) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.WriteTimeout)
	err := s.conn.Write(ctx, websocket.MessageBinary, s.buf)
	cancel()
	s.buf = s.buf[:0]
	if err != nil {
		s.err = perr("write", err, true)
		return s.err
	}
	s.sent.Add(1)
	return nil
}

// Results delivers partial and final results; it is closed after the server's answer to the end of audio.
func (s *stream) Results() <-chan asr.Result { return s.results }

// Close sends the remaining audio and {"eof" : 1}; the final result still arrives on Results.
func (s *stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil
	}
	s.closing = true
	if s.err != nil {
		close(s.closed)
		return nil
	}
	err := s.flushLocked()
	close(s.closed)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.WriteTimeout)
	defer cancel()
	if err := s.conn.Write(ctx, websocket.MessageText, []byte(eofMessage)); err != nil {
		s.err = perr("close", err, true)
		return s.err
	}
	return nil
}

func (s *stream) read() {
	defer close(s.results)
	defer s.cancel()
	defer s.conn.CloseNow()

	msgs := make(chan []byte)
	errc := make(chan error, 1)
	go func() {
		for {
			typ, b, err := s.conn.Read(s.ctx)
			if err != nil {
				errc <- err
				return
			}
			if typ != websocket.MessageText {
				continue
			}
			select {
			case msgs <- b:
			case <-s.ctx.Done():
				errc <- s.ctx.Err()
				return
			}
		}
	}()
	defer func() {
		s.cancel()
		<-errc
	}()

	var answered int64
	var lastPartial string
	var finalTimer <-chan time.Time
	closed := s.closed
	for {
		select {
		case <-closed:
			closed = nil
			t := time.NewTimer(s.cfg.FinalTimeout)
			defer t.Stop()
			finalTimer = t.C
		case <-finalTimer:
			s.emit(asr.Result{Final: true, Text: lastPartial,
				Err: perr("read", fmt.Errorf("no final result within %v of end of audio", s.cfg.FinalTimeout), true)})
			return
		case err := <-errc:
			errc <- err
			if s.ctx.Err() != nil && !s.isClosing() {
				return
			}
			s.log.Warn().Err(err).Msg("vosk connection lost")
			s.emit(asr.Result{Final: true, Text: lastPartial, Err: perr("read", err, true)})
			return
		case b := <-msgs:
			answered++
			res, ok, err := decode(b)
			if err != nil {
				s.emit(asr.Result{Final: true, Err: perr("read", err, false)})
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
			if ok && !s.emit(res) {
				return
			}
			// The answer to the EOF is the last one: one answer per audio message, then the EOF's.
			if s.isClosing() && answered > s.sent.Load() {
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

func (s *stream) isClosing() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

func (s *stream) emit(r asr.Result) bool {
	select {
	case s.results <- r:
		return true
	case <-s.ctx.Done():
		return false
	}
}

func perr(op string, err error, transient bool) error {
	return &asr.Error{Provider: provider, Op: op, Err: err, Transient: transient}
}
