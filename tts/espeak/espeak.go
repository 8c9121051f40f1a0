// Package espeak is a tts.Synthesizer that runs espeak-ng as a subprocess and streams its audio as it is made.
package espeak

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
)

// Sentinel errors.
var (
	ErrNotInstalled = errors.New("espeak: program not found")
	ErrFailed       = errors.New("espeak: synthesis failed")
	ErrFormat       = errors.New("espeak: unexpected audio format")
	ErrClosed       = errors.New("espeak: source closed")
)

// NativeRate is the sample rate espeak-ng's own voices produce.
const NativeRate = 22050

// Config configures a Synthesizer.
type Config struct {
	Binary         string          // espeak-ng program; default "espeak-ng" on PATH
	Sox            string          // sox program, which converts 22050 Hz to the requested Rate; default "sox" on PATH
	VoiceZH        string          // voice for Language "zh"; default "cmn"
	VoiceEN        string          // voice for Language "en"; default "en-us"
	WordsPerMinute int             // speaking rate at Speed 1.0; default 175 (espeak-ng's own default)
	Amplitude      int             // espeak-ng -a, 0-200; default 100
	Buffer         int             // frames read ahead of the consumer; default 10 (200 ms)
	Logger         *zerolog.Logger // default zerolog.Nop(); texts are never logged, only their length
}

// Synthesizer speaks text with espeak-ng. It is safe for concurrent use; each Synthesize runs its own process.
type Synthesizer struct {
	cfg Config
	log zerolog.Logger
}

// New checks that espeak-ng (and sox, needed for rates other than 22050 Hz) are installed and returns a
// Synthesizer. A missing sox is an error only when a Request asks for such a rate.
func New(cfg Config) (*Synthesizer, error) {
	if cfg.Binary == "" {
		cfg.Binary = "espeak-ng"
	}
	if cfg.Sox == "" {
		cfg.Sox = "sox"
	}
	if cfg.VoiceZH == "" {
		cfg.VoiceZH = "cmn"
	}
	if cfg.VoiceEN == "" {
		cfg.VoiceEN = "en-us"
	}
	if cfg.WordsPerMinute == 0 {
		cfg.WordsPerMinute = 175
	}
	if cfg.Amplitude == 0 {
		cfg.Amplitude = 100
	}
	if cfg.Buffer == 0 {
		cfg.Buffer = 10
	}
	log := zerolog.Nop()
	if cfg.Logger != nil {
		log = *cfg.Logger
	}
	bin, err := exec.LookPath(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotInstalled, cfg.Binary, err)
	}
	cfg.Binary = bin
	return &Synthesizer{cfg: cfg, log: log.With().Str("tts", "espeak").Logger()}, nil
}

// Name returns "espeak", the provider name for tts.CacheConfig.
func (s *Synthesizer) Name() string { return "espeak" }

// Synthesize starts espeak-ng for r and returns its audio as it is produced, in 20 ms frames at r.Rate (0:
// NativeRate). Cancelling ctx, or closing the Source (it is an io.Closer), kills the processes; a consumer that
// stops reading early must do one or the other.
func (s *Synthesizer) Synthesize(ctx context.Context, r tts.Request) (audio.Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("espeak: %w", err)
	}
	voice := r.Voice
	if voice == "" {
		voice = s.cfg.VoiceZH
		if strings.HasPrefix(r.Language, "en") {
			voice = s.cfg.VoiceEN
		}
	}
	speed := r.Speed
	if speed == 0 {
		speed = 1
	}
	wpm := min(max(int(float64(s.cfg.WordsPerMinute)*speed), 80), 500)
	rate := r.Rate
	if rate == 0 {
		rate = NativeRate
	}
	if rate < 8000 || rate > 48000 {
		return nil, fmt.Errorf("%w: rate %d Hz", ErrFormat, rate)
	}
	// One line of UTF-8 text on stdin: no length limit, and text starting with "-" is never taken for an option.
	text := strings.Join(strings.Fields(r.Text), " ")

	pctx, cancel := context.WithCancel(ctx)
	src := &source{format: audio.Format{Rate: rate}, frames: make(chan audio.Frame, s.cfg.Buffer), ctx: pctx, cancel: cancel,
		done: make(chan struct{})}
	esp := exec.CommandContext(pctx, s.cfg.Binary, "--stdout", "-b", "1", "-v", voice, "-s", strconv.Itoa(wpm),
		"-a", strconv.Itoa(s.cfg.Amplitude))
	esp.Stdin = strings.NewReader(text + "\n")
	esp.Stderr = &src.stderr
	procs := []*exec.Cmd{esp}
	var out io.ReadCloser
	var err error
	if rate == NativeRate {
		out, err = esp.StdoutPipe()
		if err != nil {
			cancel()
			return nil, fmt.Errorf("espeak: %w", err)
		}
	} else {
		sox, err := exec.LookPath(s.cfg.Sox)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("%w: %s (needed for %d Hz): %v", ErrNotInstalled, s.cfg.Sox, rate, err)
		}
		// A small sox buffer keeps its added latency to a few ms of audio.
		conv := exec.CommandContext(pctx, sox, "-V1", "--buffer", "1024", "-t", "wav", "-", "-t", "raw",
			"-e", "signed-integer", "-b", "16", "-c", "1", "-L", "-r", strconv.Itoa(rate), "-", "rate", "-m")
		pr, pw, err := os.Pipe()
		if err != nil {
			cancel()
			return nil, fmt.Errorf("espeak: %w", err)
		}
		esp.Stdout, conv.Stdin = pw, pr
		conv.Stderr = &src.stderr
		if out, err = conv.StdoutPipe(); err != nil {
			cancel()
			return nil, fmt.Errorf("espeak: %w", err)
		}
		if err := conv.Start(); err != nil {
			cancel()
			_ = pr.Close()
			_ = pw.Close()
			return nil, fmt.Errorf("espeak: start sox: %w", err)
		}
		_ = pr.Close()
		defer func() { _ = pw.Close() }() // after espeak-ng started: the child holds its own copy
		procs = append(procs, conv)
	}
	if err := esp.Start(); err != nil {
		cancel()
		for _, p := range procs[1:] {
			_ = p.Wait()
		}
		return nil, fmt.Errorf("espeak: start %s: %w", s.cfg.Binary, err)
	}
	s.log.Debug().Str("voice", voice).Int("wpm", wpm).Int("rate", rate).Int("text_bytes", len(text)).Msg("synthesize")
	go src.run(out, procs, rate == NativeRate)
	return src, nil
}

// source streams one rendering.
type source struct {
	format audio.Format
	frames chan audio.Frame
	ctx    context.Context // the processes' context
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned and err is set
	err    error         // why the stream ended: nil for a clean end
	stderr limitedBuffer
	once   sync.Once
}

// Format returns the rate of the frames.
func (s *source) Format() audio.Format { return s.format }

// Read returns the next 20 ms frame, io.EOF after the last, or the error that ended synthesis.
func (s *source) Read(ctx context.Context) (audio.Frame, error) {
	select {
	case f, ok := <-s.frames:
		if ok {
			return f, nil
		}
		<-s.done
		if s.err != nil {
			return audio.Frame{}, s.err
		}
		return audio.Frame{}, io.EOF
	case <-ctx.Done():
		return audio.Frame{}, ctx.Err()
	}
}

// Close kills the processes if they still run and waits for them.
func (s *source) Close() error {
	s.once.Do(s.cancel)
	for range s.frames { // let run finish sending
	}
	<-s.done
	if errors.Is(s.err, context.Canceled) {
		return nil
	}
	return s.err
}

// run reads the audio, cuts it into frames and reaps the processes.
func (s *source) run(out io.ReadCloser, procs []*exec.Cmd, wav bool) {
	defer close(s.done)
	err := s.pump(out, wav)
	_ = out.Close() // a kill or an early error must not leave a writer blocked on a full pipe
	close(s.frames)
	var waitErr error
	for _, p := range procs {
		if werr := p.Wait(); werr != nil && waitErr == nil {
			waitErr = werr
		}
	}
	ctxErr := s.ctx.Err() // a kill we asked for, not a crash
	s.cancel()
	switch {
	case ctxErr != nil && (err != nil || waitErr != nil):
		s.err = fmt.Errorf("espeak: %w", ctxErr)
	case waitErr != nil:
		s.err = fmt.Errorf("%w: %v: %s", ErrFailed, waitErr, strings.TrimSpace(s.stderr.String()))
	case err != nil:
		s.err = fmt.Errorf("espeak: %w", err)
	}
}

// pump reads PCM16 from out (after a WAV header when wav is set) and sends whole 20 ms frames.
func (s *source) pump(out io.Reader, wav bool) error {
	if wav {
		if err := readWAVHeader(out, s.format.Rate); err != nil {
			return err
		}
	}
	n := s.format.FrameSamples()
	buf := make([]byte, 2*n)
	for {
		k, err := io.ReadFull(out, buf)
		if k > 0 {
			k &^= 1
			f := audio.Frame{Rate: s.format.Rate, Samples: make([]int16, n)} // a short last frame is padded
			for i := 0; i < k/2; i++ {
				f.Samples[i] = int16(binary.LittleEndian.Uint16(buf[2*i:]))
			}
			select {
			case s.frames <- f:
			case <-s.ctx.Done():
				return s.ctx.Err()
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readWAVHeader consumes a RIFF/WAVE header up to the start of the data chunk and checks the format is PCM16 mono
// at rate. espeak-ng writing to a pipe puts a placeholder in the sizes, so they are not trusted.
func readWAVHeader(r io.Reader, rate int) error {
	var riff [12]byte
	if _, err := io.ReadFull(r, riff[:]); err != nil {
		return fmt.Errorf("%w: reading RIFF header: %v", ErrFormat, err)
	}
	if string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		return fmt.Errorf("%w: not a RIFF/WAVE stream (% x)", ErrFormat, riff[:])
	}
	seenFmt := false
	for range 16 {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return fmt.Errorf("%w: reading chunk header: %v", ErrFormat, err)
		}
		id, size := string(ch[0:4]), binary.LittleEndian.Uint32(ch[4:8])
		if id == "data" {
			if !seenFmt {
				return fmt.Errorf("%w: data chunk before fmt chunk", ErrFormat)
			}
			return nil
		}
		if size > 1<<16 {
			return fmt.Errorf("%w: %q chunk of %d bytes in header", ErrFormat, id, size)
		}
		body := make([]byte, size+size&1)
		if _, err := io.ReadFull(r, body); err != nil {
			return fmt.Errorf("%w: reading %q chunk: %v", ErrFormat, id, err)
		}
		if id == "fmt " {
			if size < 16 {
				return fmt.Errorf("%w: fmt chunk of %d bytes", ErrFormat, size)
			}
			tag, ch, sr, bits := binary.LittleEndian.Uint16(body[0:]), binary.LittleEndian.Uint16(body[2:]),
				binary.LittleEndian.Uint32(body[4:]), binary.LittleEndian.Uint16(body[14:])
			if tag != 1 || ch != 1 || bits != 16 || int(sr) != rate {
				return fmt.Errorf("%w: format %d, %d channels, %d bits, %d Hz; want PCM16 mono %d Hz",
					ErrFormat, tag, ch, bits, sr, rate)
			}
			seenFmt = true
		}
	}
	return fmt.Errorf("%w: no data chunk", ErrFormat)
}

// limitedBuffer keeps the first 4 KiB written to it, for error messages; safe for concurrent writers.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 4096 - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
