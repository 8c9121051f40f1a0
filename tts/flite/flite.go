// Package flite is a tts.Synthesizer for English on flite (Debian's flite, CMU's Festival-lite), run as a
// subprocess. Its default voice, kal, speaks at 8 kHz natively: the telephone's own rate, with no resampling.
package flite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
)

// Sentinel errors.
var (
	ErrNotInstalled = errors.New("flite: program not found")
	ErrFailed       = errors.New("flite: synthesis failed")
	ErrFormat       = errors.New("flite: unexpected audio format")
	ErrLanguage     = errors.New("flite: speaks English only")
	ErrVoice        = errors.New("flite: unknown voice")
)

// Config configures a Synthesizer.
type Config struct {
	Binary string          // flite program; default "flite" on PATH
	Voice  string          // default voice; default "kal" (8 kHz). Others: kal16, awb, rms, slt (16 kHz)
	Logger *zerolog.Logger // default zerolog.Nop(); texts are never logged, only their length
}

// Synthesizer speaks English text with flite. It is safe for concurrent use; each Synthesize runs its own
// process, which renders the whole text (far faster than real time) before the first frame is read.
type Synthesizer struct {
	cfg    Config
	log    zerolog.Logger
	voices map[string]bool // built into the program (flite -lv)
}

// New checks that flite is installed and returns a Synthesizer.
func New(cfg Config) (*Synthesizer, error) {
	if cfg.Binary == "" {
		cfg.Binary = "flite"
	}
	if cfg.Voice == "" {
		cfg.Voice = "kal"
	}
	log := zerolog.Nop()
	if cfg.Logger != nil {
		log = *cfg.Logger
	}
	bin, err := exec.LookPath(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v (Debian package flite)", ErrNotInstalled, cfg.Binary, err)
	}
	cfg.Binary = bin
	// flite takes an unknown voice name silently for its default, and a path or URL for a voice file to load: only
	// the voices built into the program are accepted.
	b, err := exec.Command(bin, "-lv").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%w: %s -lv: %v: %s", ErrNotInstalled, bin, err, b)
	}
	_, list, _ := strings.Cut(string(b), ":")
	voices := map[string]bool{}
	for _, v := range strings.Fields(list) {
		voices[v] = true
	}
	s := &Synthesizer{cfg: cfg, log: log.With().Str("tts", "flite").Logger(), voices: voices}
	if !voices[cfg.Voice] {
		return nil, fmt.Errorf("%w: voice %q (have %s)", ErrVoice, cfg.Voice, strings.TrimSpace(list))
	}
	return s, nil
}

// Voices returns the names of the voices built into flite.
func (s *Synthesizer) Voices() []string {
	var vs []string
	for v := range s.voices {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	return vs
}

// Name returns "flite", the provider name for a prompt cache.
func (s *Synthesizer) Name() string { return "flite" }

// Synthesize renders r (Language "en"; any other, including the default "zh", is ErrLanguage) and returns it in
// 20 ms frames at r.Rate (0: the voice's native rate; otherwise 8, 16, 24 or 48 kHz). The Source knows its
// Duration (tts.Sized).
func (s *Synthesizer) Synthesize(ctx context.Context, r tts.Request) (audio.Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("flite: %w", err)
	}
	if !strings.HasPrefix(r.Language, "en") {
		return nil, fmt.Errorf("%w: language %q (use tts/espeak)", ErrLanguage, r.Language)
	}
	voice := r.Voice
	if voice == "" {
		voice = s.cfg.Voice
	}
	if !s.voices[voice] {
		return nil, fmt.Errorf("%w: %q (have %s)", ErrVoice, voice, strings.Join(s.Voices(), " "))
	}
	speed := r.Speed
	if speed == 0 {
		speed = 1
	}
	speed = min(max(speed, 0.5), 2)
	text := strings.Join(strings.Fields(r.Text), " ")
	dir, err := os.MkdirTemp("", "outcall-flite-")
	if err != nil {
		return nil, fmt.Errorf("flite: %w", err)
	}
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "text.txt"), filepath.Join(dir, "speech.wav")
	// The text goes in a file: no length limit, and text starting with "-" is never taken for an option.
	if err := os.WriteFile(in, []byte(text+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("flite: %w", err)
	}
	cmd := exec.CommandContext(ctx, s.cfg.Binary, "-voice", voice, "--setf",
		"duration_stretch="+strconv.FormatFloat(1/speed, 'f', 3, 64), "-f", in, "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("flite: %w", ctx.Err())
		}
		return nil, fmt.Errorf("%w: %v: %s", ErrFailed, err, strings.TrimSpace(string(b)))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFailed, err)
	}
	w, err := audio.DecodeWAV(b)
	if err != nil || w.Channels != 1 {
		return nil, fmt.Errorf("%w: %v (%d channels)", ErrFormat, err, w.Channels)
	}
	samples, rate := w.Samples, w.Rate
	if r.Rate != 0 && r.Rate != rate {
		rs, err := audio.NewResampler(rate, r.Rate)
		if err != nil {
			return nil, fmt.Errorf("%w: %d Hz from the voice's %d Hz: %v", ErrFormat, r.Rate, rate, err)
		}
		samples, rate = rs.Process(nil, samples), r.Rate
	}
	s.log.Debug().Str("voice", voice).Int("rate", rate).Int("text_bytes", len(text)).Msg("synthesize")
	return audio.NewSampleSource(audio.Format{Rate: rate}, samples), nil
}
