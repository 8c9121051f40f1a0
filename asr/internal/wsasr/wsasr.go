// Package wsasr is the WebSocket plumbing that streaming recognizers with a JSON-over-WebSocket protocol
// (asr/funasr, asr/vosk) share: a dial that sends the opening text message, audio sent as binary messages of a
// fixed size, an end-of-audio text message, and a reader that hands the server's text messages to the provider's
// own protocol loop.
package wsasr

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
)

// Options describe one stream. Every field is required unless it says otherwise.
type Options struct {
	Provider     string                    // provider name in errors
	URL          string                    // ws:// or wss:// address of the server
	HTTPClient   *http.Client              // for the handshake; nil: http.DefaultClient
	Subprotocols []string                  // offered in the handshake; optional
	DialTimeout  time.Duration             // limit of the dial
	WriteTimeout time.Duration             // limit of each message written
	Rate         int                       // sample rate of the frames Write takes
	Chunk        int                       // bytes of PCM16 per audio message; at least 2
	End          []byte                    // text message that ends the audio
	ErrClosed    error                     // wrapped by Write after Close
	ErrConfig    error                     // wrapped by Write for a frame at another rate
	Transient    func(*http.Response) bool // whether a dial refused with this response is worth retrying; resp may be nil
}

// Stream is the transport of one recognition stream. Write and Close may be called from other goroutines than
// the one running Serve.
type Stream struct {
	opt    Options
	conn   *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	buf     []byte
	err     error // first write failure
	closing bool

	sent    atomic.Int64 // audio messages sent
	samples atomic.Int64 // samples written
	results chan asr.Result
	closed  chan struct{} // closed when Close has sent (or given up sending) the end of audio
}

// Dial connects to the server and sends first, the protocol's opening message. The stream lives until ctx ends
// or Serve returns.
func Dial(ctx context.Context, opt Options, first []byte) (*Stream, error) {
	dctx, cancel := context.WithTimeout(ctx, opt.DialTimeout)
	conn, resp, err := websocket.Dial(dctx, opt.URL, &websocket.DialOptions{
		HTTPClient:   opt.HTTPClient,
		Subprotocols: opt.Subprotocols,
	})
	cancel()
	if err != nil {
		return nil, Error(opt.Provider, "dial", err, opt.Transient(resp))
	}
	conn.SetReadLimit(1 << 20)
	wctx, wcancel := context.WithTimeout(ctx, opt.WriteTimeout)
	err = conn.Write(wctx, websocket.MessageText, first)
	wcancel()
	if err != nil {
		conn.CloseNow()
		return nil, Error(opt.Provider, "start", err, true)
	}
	opt.Chunk = max(opt.Chunk, 2)
	s := &Stream{
		opt:     opt,
		conn:    conn,
		buf:     make([]byte, 0, opt.Chunk),
		results: make(chan asr.Result, 16),
		closed:  make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	return s, nil
}

// Error is the *asr.Error of a provider.
func Error(provider, op string, err error, transient bool) error {
	return &asr.Error{Provider: provider, Op: op, Err: err, Transient: transient}
}

// Write queues f's samples and sends a message once a chunk is full.
func (s *Stream) Write(f audio.Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.closing {
		return Error(s.opt.Provider, "write", s.opt.ErrClosed, false)
	}
	if f.Rate != 0 && f.Rate != s.opt.Rate {
		return Error(s.opt.Provider, "write",
			fmt.Errorf("%w: frame rate %d, stream rate %d", s.opt.ErrConfig, f.Rate, s.opt.Rate), false)
	}
	s.buf = audio.AppendPCM16LE(s.buf, f.Samples)
	s.samples.Add(int64(len(f.Samples)))
	if len(s.buf) >= s.opt.Chunk {
		return s.flushLocked()
	}
	return nil
}

func (s *Stream) flushLocked() error {
	if len(s.buf) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.opt.WriteTimeout)
	err := s.conn.Write(ctx, websocket.MessageBinary, s.buf)
	cancel()
	s.buf = s.buf[:0]
	if err != nil {
		s.err = Error(s.opt.Provider, "write", err, true)
		return s.err
	}
	s.sent.Add(1)
	return nil
}

// Results delivers what the provider's loop emits; it is closed when Serve returns.
func (s *Stream) Results() <-chan asr.Result { return s.results }

// Close sends the remaining audio and the end-of-audio message. The server's last results still arrive on
// Results.
func (s *Stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil
	}
	s.closing = true
	if s.err != nil {
		close(s.closed)
		return nil // the reader reports the failure
	}
	err := s.flushLocked()
	// The reader must know the end is coming before the server can answer it.
	close(s.closed)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.opt.WriteTimeout)
	defer cancel()
	if err := s.conn.Write(ctx, websocket.MessageText, s.opt.End); err != nil {
		s.err = Error(s.opt.Provider, "close", err, true)
		return s.err
	}
	return nil
}

// Serve runs loop with the server's text messages and the one error that ends the connection's reader (the
// server's close, a failure, or the context's end), then closes Results and the connection. Run it in the
// stream's own goroutine; loop returns when the stream is over.
func (s *Stream) Serve(loop func(msgs <-chan []byte, errc <-chan error)) {
	defer close(s.results)
	defer s.cancel()
	defer s.conn.CloseNow()

	msgs := make(chan []byte)
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
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
		<-done
	}()
	loop(msgs, errc)
}

// Closed is closed once Close has run: the end of audio is on its way.
func (s *Stream) Closed() <-chan struct{} { return s.closed }

// IsClosing reports whether Close has run.
func (s *Stream) IsClosing() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// Context is the stream's context, cancelled when Serve returns.
func (s *Stream) Context() context.Context { return s.ctx }

// Sent returns how many audio messages were sent.
func (s *Stream) Sent() int64 { return s.sent.Load() }

// Pos returns the duration of the audio written so far.
func (s *Stream) Pos() time.Duration {
	return audio.Format{Rate: s.opt.Rate}.Duration(int(s.samples.Load()))
}

// Emit delivers r on Results; false when the stream's context ended first.
func (s *Stream) Emit(r asr.Result) bool {
	select {
	case s.results <- r:
		return true
	case <-s.ctx.Done():
		return false
	}
}
