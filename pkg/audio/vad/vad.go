// Package vad chooses a voice activity detector by name: the pure-Go energy detector of pkg/audio (the default,
// always built), WebRTC's (pkg/audio/vad/webrtc, build tag webrtcvad) or Silero's (pkg/audio/vad/silero, build
// tag silero). A detector that is not built in is an error naming its tag, never a silent fallback.
package vad

import (
	"errors"
	"fmt"
	"strings"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/audio/vad/silero"
	"github.com/outcall/outcall/pkg/audio/vad/webrtc"
)

// Detector names, as in the VAD environment variable.
const (
	Energy = "energy"
	WebRTC = "webrtc"
	Silero = "silero"
)

// ErrUnknown reports a name that is none of Names.
var ErrUnknown = errors.New("vad: unknown detector")

// Names returns the detector names, the default first.
func Names() []string { return []string{Energy, WebRTC, Silero} }

// Built reports whether the named detector is compiled into this binary.
func Built(name string) bool {
	switch strings.ToLower(name) {
	case "", Energy:
		return true
	case WebRTC:
		return webrtc.Built
	case Silero:
		return silero.Built
	}
	return false
}

// Config holds each detector's settings; zero values take their defaults.
type Config struct {
	Energy audio.VADConfig
	WebRTC webrtc.Config
	Silero silero.Config
}

// Open returns a factory of the named detector ("" is Energy). It checks now what the detector needs (the build
// tag, the library, the model files), so that a program fails at start with a clear error rather than on a call.
func Open(name string, cfg Config) (audio.DetectorFactory, error) {
	switch strings.ToLower(name) {
	case "", Energy:
		return audio.EnergyDetector(cfg.Energy), nil
	case WebRTC:
		d, err := webrtc.New(cfg.WebRTC)
		if err != nil {
			return nil, fmt.Errorf("VAD=webrtc: %w", err)
		}
		d.Close()
		return webrtc.Factory(cfg.WebRTC), nil
	case Silero:
		f, err := silero.Factory(cfg.Silero)
		if err != nil {
			return nil, fmt.Errorf("VAD=silero: %w", err)
		}
		return f, nil
	}
	return nil, fmt.Errorf("%w %q: want %s", ErrUnknown, name, strings.Join(Names(), ", "))
}
