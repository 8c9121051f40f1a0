//go:build webrtcvad

package webrtc

/*
#cgo pkg-config: webrtc-audio-processing
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

// libwebrtc-audio-processing exports the VAD's C API without installing its header (webrtc_vad.h); these are its
// prototypes as built in Debian's 0.3.
typedef struct WebRtcVadInst VadInst;
VadInst* WebRtcVad_Create(void);
void WebRtcVad_Free(VadInst* handle);
int WebRtcVad_Init(VadInst* handle);
int WebRtcVad_set_mode(VadInst* handle, int mode);
int WebRtcVad_Process(VadInst* handle, int fs, const int16_t* audio_frame, size_t frame_length);
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/outcall/outcall/pkg/audio"
)

// Built reports whether this binary has the WebRTC detector (the webrtcvad build tag).
const Built = true

// chunk is the length the library is given at a time.
const chunk = 20 // ms

// Detector is a WebRTC voice activity detector for one stream. It takes frames of any length at 8, 16, 32 or
// 48 kHz, buffers them into 20 ms chunks and allocates nothing per frame; frames at another rate are not
// analysed (Err says so). Close frees the library's state (a finalizer does too). Not safe for concurrent use.
type Detector struct {
	gate *audio.SpeechGate
	inst *C.VadInst
	mode int
	rate int
	buf  []int16 // samples not yet analysed, less than a chunk
	err  error
}

var _ audio.SpeechDetector = (*Detector)(nil)

// New returns a detector with cfg.
func New(cfg Config) (*Detector, error) {
	if cfg.Aggressiveness < 0 || cfg.Aggressiveness > 3 {
		return nil, fmt.Errorf("%w: %d", ErrMode, cfg.Aggressiveness)
	}
	d := &Detector{gate: audio.NewSpeechGate(cfg.Gate), mode: cfg.Aggressiveness}
	if err := d.init(); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(d, (*Detector).Close)
	return d, nil
}

func (d *Detector) init() error {
	if d.inst == nil {
		d.inst = C.WebRtcVad_Create()
		if d.inst == nil {
			return ErrInit
		}
	}
	if C.WebRtcVad_Init(d.inst) != 0 || C.WebRtcVad_set_mode(d.inst, C.int(d.mode)) != 0 {
		return ErrInit
	}
	return nil
}

// Close frees the detector's library state; it is not usable afterwards.
func (d *Detector) Close() {
	if d.inst != nil {
		C.WebRtcVad_Free(d.inst)
		d.inst = nil
	}
	runtime.SetFinalizer(d, nil)
}

// Probability returns the last chunk's decision: 1 for voice, 0 for none.
func (d *Detector) Probability() float64 { return d.gate.Probability() }

// Loud reports whether the last chunk was voice.
func (d *Detector) Loud() bool { return d.gate.Loud() }

// Voiced reports whether the last chunk was voice.
func (d *Detector) Voiced() bool { return d.gate.Voiced() }

// Speaking reports whether the detector is inside speech.
func (d *Detector) Speaking() bool { return d.gate.Speaking() }

// Err reports a frame the detector could not analyse (an unsupported rate), or nil.
func (d *Detector) Err() error { return d.err }

// Reset forgets all state, as for a new stream.
func (d *Detector) Reset() {
	d.gate.Reset()
	d.buf, d.rate, d.err = d.buf[:0], 0, nil
	if d.inst != nil {
		if err := d.init(); err != nil {
			d.err = err
		}
	}
}

// Process analyses one frame and returns the event it completes, if any. The probability and the events advance
// per 20 ms chunk, so a frame shorter than that may complete none.
func (d *Detector) Process(f audio.Frame) (audio.VADEvent, bool) {
	if len(f.Samples) == 0 || d.inst == nil {
		return audio.VADEvent{}, false
	}
	if f.Rate != d.rate {
		switch f.Rate {
		case 8000, 16000, 32000, 48000:
		default:
			d.err = fmt.Errorf("webrtc: %d Hz frame (want 8, 16, 32 or 48 kHz): %w", f.Rate, audio.ErrFormat)
			return audio.VADEvent{}, false
		}
		if d.rate != 0 {
			d.Reset()
		}
		d.rate = f.Rate
		if n := f.Rate * chunk / 1000; cap(d.buf) < n {
			d.buf = make([]int16, 0, n)
		}
	}
	n := d.rate * chunk / 1000
	s := f.Samples
	var ev audio.VADEvent
	var ok bool
	for len(s) > 0 {
		var c []int16
		if len(d.buf) == 0 && len(s) >= n {
			c, s = s[:n], s[n:]
		} else {
			k := min(n-len(d.buf), len(s))
			d.buf = append(d.buf, s[:k]...)
			s = s[k:]
			if len(d.buf) < n {
				break
			}
			c = d.buf
		}
		r := C.WebRtcVad_Process(d.inst, C.int(d.rate), (*C.int16_t)(unsafe.Pointer(&c[0])), C.size_t(n))
		d.buf = d.buf[:0]
		p := 0.0
		switch {
		case r == 1:
			p = 1
		case r < 0:
			d.err = fmt.Errorf("webrtc: the library refused a %d-sample chunk at %d Hz: %w", n, d.rate, audio.ErrFormat)
		}
		if e, eok := d.gate.Step(p, n, d.rate); eok {
			ev, ok = e, true
		}
	}
	return ev, ok
}
