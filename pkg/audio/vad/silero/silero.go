//go:build cgo

package silero

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/outcall/outcall/pkg/audio"
)

// Built reports whether this binary has the Silero detector (it was built with cgo).
const Built = true

// stateSize is the length of the network's recurrent state, shape [2, 1, 128].
const stateSize = 2 * 1 * 128

// The ONNX Runtime environment is one per process, on one library.
var ortEnv struct {
	sync.Mutex
	path string
	err  error
}

func initRuntime(path string) error {
	ortEnv.Lock()
	defer ortEnv.Unlock()
	if ortEnv.path != "" {
		if ortEnv.path != path {
			return fmt.Errorf("%w: the runtime is already loaded from %s, not %s", ErrRuntime, ortEnv.path, path)
		}
		return ortEnv.err
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w: %v", ErrFiles, err)
	}
	ort.SetSharedLibraryPath(path)
	ortEnv.path = path
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		ortEnv.err = fmt.Errorf("%w: %v", ErrRuntime, err)
	}
	return ortEnv.err
}

// Model is the loaded network, shared by any number of detectors (ONNX Runtime runs one session from several
// goroutines). Close it when no detector uses it any more.
type Model struct {
	mu     sync.RWMutex
	sess   *ort.DynamicAdvancedSession
	gate   audio.GateConfig
	closed bool
}

// Load loads the runtime (once per process) and the model.
func Load(cfg Config) (*Model, error) {
	cfg = cfg.withDefaults()
	if err := initRuntime(cfg.RuntimePath); err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg.ModelPath); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFiles, err)
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRuntime, err)
	}
	defer opts.Destroy()
	// One frame at a time: threads only add hand-over cost to a network this small.
	if err := errors.Join(opts.SetIntraOpNumThreads(1), opts.SetInterOpNumThreads(1)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRuntime, err)
	}
	sess, err := ort.NewDynamicAdvancedSession(cfg.ModelPath, []string{"input", "state", "sr"},
		[]string{"output", "stateN"}, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: load %s: %v", ErrRuntime, cfg.ModelPath, err)
	}
	return &Model{sess: sess, gate: cfg.Gate}, nil
}

// Close frees the model; detectors made from it fail afterwards (Err says so).
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	return m.sess.Destroy()
}

func (m *Model) run(in, out []ort.Value) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	return m.sess.Run(in, out)
}

// Detector is a Silero voice activity detector for one stream, on a shared Model. It takes frames of any length
// at 8 or 16 kHz and buffers them into the network's windows (32 ms); frames at another rate are not analysed
// (Err says so). Close frees its tensors (a finalizer does too). Not safe for concurrent use.
type Detector struct {
	m      *Model
	gate   *audio.SpeechGate
	rate   int
	window int // new samples per run
	ctx    int // samples of context carried from the previous window
	n      int // samples buffered in the window so far
	in     *ort.Tensor[float32]
	state  *ort.Tensor[float32]
	stateN *ort.Tensor[float32]
	sr     *ort.Scalar[int64]
	out    *ort.Tensor[float32]
	err    error
}

var _ audio.SpeechDetector = (*Detector)(nil)

// NewDetector returns a detector on m.
func (m *Model) NewDetector() (*Detector, error) {
	m.mu.RLock()
	closed := m.closed
	m.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	d := &Detector{m: m, gate: audio.NewSpeechGate(m.gate)}
	var err error
	if d.state, err = ort.NewEmptyTensor[float32](ort.NewShape(2, 1, 128)); err == nil {
		if d.stateN, err = ort.NewEmptyTensor[float32](ort.NewShape(2, 1, 128)); err == nil {
			if d.out, err = ort.NewEmptyTensor[float32](ort.NewShape(1, 1)); err == nil {
				d.sr, err = ort.NewScalar[int64](8000)
			}
		}
	}
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("%w: %v", ErrRuntime, err)
	}
	runtime.SetFinalizer(d, (*Detector).Close)
	return d, nil
}

// Close frees the detector's tensors; it is not usable afterwards.
func (d *Detector) Close() error {
	var errs []error
	for _, t := range []*ort.Tensor[float32]{d.in, d.state, d.stateN, d.out} {
		if t != nil {
			errs = append(errs, t.Destroy())
		}
	}
	if d.sr != nil {
		errs = append(errs, d.sr.Destroy())
	}
	d.in, d.state, d.stateN, d.out, d.sr = nil, nil, nil, nil, nil
	runtime.SetFinalizer(d, nil)
	return errors.Join(errs...)
}

// Probability returns the network's speech probability for the last complete window.
func (d *Detector) Probability() float64 { return d.gate.Probability() }

// Loud reports whether the last window was at the gate's Threshold (default 0.5).
func (d *Detector) Loud() bool { return d.gate.Loud() }

// Voiced reports whether the last window was at the gate's Release (default 0.35).
func (d *Detector) Voiced() bool { return d.gate.Voiced() }

// Speaking reports whether the detector is inside speech.
func (d *Detector) Speaking() bool { return d.gate.Speaking() }

// Err reports a frame the detector could not analyse, or a failed run of the network, or nil.
func (d *Detector) Err() error { return d.err }

// Reset forgets all state, as for a new stream.
func (d *Detector) Reset() {
	d.gate.Reset()
	d.n, d.err = 0, nil
	if d.state != nil {
		clear(d.state.GetData())
	}
	if d.in != nil {
		clear(d.in.GetData())
	}
}

// setRate sizes the window for rate: 256 + 32 samples at 8 kHz, 512 + 64 at 16 kHz.
func (d *Detector) setRate(rate int) error {
	if rate != 8000 && rate != 16000 {
		return fmt.Errorf("silero: %d Hz frame (want 8 or 16 kHz): %w", rate, audio.ErrFormat)
	}
	if d.in != nil {
		d.in.Destroy()
		d.in = nil
	}
	d.Reset()
	d.rate, d.window, d.ctx = rate, rate/8000*256, rate/8000*32
	in, err := ort.NewEmptyTensor[float32](ort.NewShape(1, int64(d.ctx+d.window)))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRuntime, err)
	}
	d.in = in
	// A new scalar rather than Scalar.Set, which in onnxruntime_go v1.27.0 replaces the Go slice but leaves the
	// runtime's tensor on the old value.
	sr, err := ort.NewScalar[int64](int64(rate))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRuntime, err)
	}
	d.sr.Destroy()
	d.sr = sr
	return nil
}

// Process analyses one frame and returns the event it completes, if any. The probability and the events advance
// per window (32 ms), so a 20 ms frame completes at most one.
func (d *Detector) Process(f audio.Frame) (audio.VADEvent, bool) {
	if len(f.Samples) == 0 || d.sr == nil {
		return audio.VADEvent{}, false
	}
	if f.Rate != d.rate {
		if err := d.setRate(f.Rate); err != nil {
			d.err, d.rate = err, 0
			return audio.VADEvent{}, false
		}
	}
	buf := d.in.GetData()
	var ev audio.VADEvent
	var ok bool
	for _, s := range f.Samples {
		buf[d.ctx+d.n] = float32(s) / 32768
		d.n++
		if d.n < d.window {
			continue
		}
		d.n = 0
		if e, eok := d.step(buf); eok {
			ev, ok = e, true
		}
	}
	return ev, ok
}

// step runs the network on a full window and carries its context and state on.
func (d *Detector) step(buf []float32) (audio.VADEvent, bool) {
	p := 0.0
	err := d.m.run([]ort.Value{d.in, d.state, d.sr}, []ort.Value{d.out, d.stateN})
	if err != nil {
		d.err = fmt.Errorf("%w: %v", ErrRuntime, err)
	} else {
		p = float64(d.out.GetData()[0])
		copy(d.state.GetData(), d.stateN.GetData())
	}
	copy(buf[:d.ctx], buf[d.window:])
	return d.gate.Step(p, d.window, d.rate)
}
