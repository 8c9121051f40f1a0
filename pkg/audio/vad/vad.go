// Package vad chooses a voice activity detector by name: the pure-Go energy detector of pkg/audio (the default,
// always there), or a provider that registers itself when a program imports it — WebRTC's (pkg/audio/vad/webrtc,
// build tag webrtcvad) and Silero's (pkg/audio/vad/silero, cgo). Keeping the providers out of this package's
// imports keeps it, and everything that chooses a detector by name, free of cgo. A detector that is known but not
// linked in, or linked in without what it needs, is an error that says what to do, never a silent fallback.
package vad

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/outcall/outcall/pkg/audio"
)

// Detector names, as in the VAD environment variable.
const (
	Energy = "energy"
	WebRTC = "webrtc"
	Silero = "silero"
)

// Sentinel errors.
var (
	// ErrUnknown reports a name that is none of Names.
	ErrUnknown = errors.New("vad: unknown detector")
	// ErrNotLinked reports a known detector whose package the program does not import.
	ErrNotLinked = errors.New("vad: detector not linked into this program")
)

// Opener checks what a detector needs (its library, its model files) and returns a factory of detectors.
type Opener func() (audio.DetectorFactory, error)

var registry struct {
	sync.RWMutex
	open map[string]Opener
}

// packages names the import path of each provider and what it needs, for the error when it is not linked in.
var packages = map[string][2]string{
	WebRTC: {"github.com/outcall/outcall/pkg/audio/vad/webrtc", "and build with -tags webrtcvad"},
	Silero: {"github.com/outcall/outcall/pkg/audio/vad/silero", "a cgo package; then make speech-models"},
}

// Register makes a provider available to Open under name (one of WebRTC, Silero); providers call it from init, so a
// program chooses which exist by importing them (import _ ".../pkg/audio/vad/silero"). A second registration of a
// name replaces the first.
func Register(name string, open Opener) {
	registry.Lock()
	defer registry.Unlock()
	if registry.open == nil {
		registry.open = map[string]Opener{}
	}
	registry.open[strings.ToLower(name)] = open
}

// Names returns the detector names, the default first.
func Names() []string { return []string{Energy, WebRTC, Silero} }

// Linked reports whether the named detector can be opened in this program: the energy detector always, a
// provider when its package is imported (it may still fail to open, for want of its build tag or files).
func Linked(name string) bool {
	name = strings.ToLower(name)
	if name == "" || name == Energy {
		return true
	}
	registry.RLock()
	defer registry.RUnlock()
	return registry.open[name] != nil
}

// Config holds the energy detector's settings; providers take theirs from their own package's defaults.
type Config struct {
	Energy audio.VADConfig
}

// Open returns a factory of the named detector ("" is Energy). It checks now what the detector needs (the build
// tag, the library, the model files), so that a program fails at start with a clear error rather than on a call.
func Open(name string, cfg Config) (audio.DetectorFactory, error) {
	name = strings.ToLower(name)
	if name == "" || name == Energy {
		return audio.EnergyDetector(cfg.Energy), nil
	}
	pkg, known := packages[name]
	if !known {
		return nil, fmt.Errorf("%w %q: want %s", ErrUnknown, name, strings.Join(Names(), ", "))
	}
	registry.RLock()
	open := registry.open[name]
	registry.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("VAD=%s: %w: import _ %q (%s)", name, ErrNotLinked, pkg[0], pkg[1])
	}
	f, err := open()
	if err != nil {
		return nil, fmt.Errorf("VAD=%s: %w", name, err)
	}
	return f, nil
}
