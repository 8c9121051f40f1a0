// Package webrtc is an audio.SpeechDetector on the WebRTC voice activity detector (the GMM detector of Google's
// WebRTC, from Debian's libwebrtc-audio-processing), through cgo.
//
// It is built only with the build tag webrtcvad (and the Debian package libwebrtc-audio-processing-dev):
//
//	go test -tags webrtcvad ./pkg/audio/vad/webrtc
//
// Without the tag, New returns ErrNotBuilt and Built is false, so a program can say what to rebuild with. Importing
// the package registers it with pkg/audio/vad under the name "webrtc" (vad.Open, the examples' VAD=webrtc).
// The detector decides yes or no per 10, 20 or 30 ms at 8, 16, 32 or 48 kHz, at about 3-5 µs per 20 ms frame;
// its probability is that decision (0 or 1), and an audio.SpeechGate turns it into speech start and end events.
package webrtc

import (
	"errors"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/audio/vad"
)

func init() {
	vad.Register(vad.WebRTC, func() (audio.DetectorFactory, error) { return Open(Config{}) })
}

// Tag is the build tag that compiles the detector in.
const Tag = "webrtcvad"

// Sentinel errors.
var (
	// ErrNotBuilt is returned by New in a binary built without the webrtcvad tag.
	ErrNotBuilt = errors.New("webrtc: VAD not built in (rebuild with -tags " + Tag + " and libwebrtc-audio-processing-dev)")
	// ErrMode reports an aggressiveness outside 0-3.
	ErrMode = errors.New("webrtc: aggressiveness must be 0-3")
	// ErrInit reports that the library refused to create or set up a detector.
	ErrInit = errors.New("webrtc: cannot create the detector")
)

// Config configures a Detector.
type Config struct {
	// Aggressiveness is WebRTC's mode, 0 (least, the library's default) to 3 (most ready to call a frame noise).
	Aggressiveness int
	// Gate holds the speech start and end timing; zero fields take audio.SpeechGate's defaults (60 ms to start,
	// 300 ms hangover). Its probability thresholds apply to 0 or 1.
	Gate audio.GateConfig
}

// Open makes one detector with cfg to check that the library works, and returns Factory(cfg).
func Open(cfg Config) (audio.DetectorFactory, error) {
	d, err := New(cfg)
	if err != nil {
		return nil, err
	}
	d.Close()
	return Factory(cfg), nil
}

// Factory returns an audio.DetectorFactory of detectors with cfg.
func Factory(cfg Config) audio.DetectorFactory {
	return func() (audio.SpeechDetector, error) {
		d, err := New(cfg)
		if err != nil {
			return nil, err
		}
		return d, nil
	}
}
