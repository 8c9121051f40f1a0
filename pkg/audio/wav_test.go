package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestWAVRoundTrip(t *testing.T) {
	src := sine(8000, 440, 12000, 800)
	for _, c := range []struct {
		name     string
		enc      WAVEncoding
		channels int
		maxErr   int
	}{
		{"pcm16 mono", WAVPCM16, 1, 0},
		{"pcm16 stereo", WAVPCM16, 2, 0},
		{"ulaw mono", WAVULaw, 1, 512},
		{"alaw stereo", WAVALaw, 2, 512},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteWAV(&buf, 8000, c.channels, c.enc, src); err != nil {
				t.Fatal(err)
			}
			w, err := ReadWAV(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if w.Rate != 8000 || w.Channels != c.channels || w.Encoding != c.enc || len(w.Samples) != len(src) {
				t.Fatalf("got %d Hz %d ch enc %d, %d samples", w.Rate, w.Channels, w.Encoding, len(w.Samples))
			}
			if w.Frames() != len(src)/c.channels {
				t.Fatalf("frames %d", w.Frames())
			}
			for i := range src {
				if d := abs(int(w.Samples[i]) - int(src[i])); d > c.maxErr {
					t.Fatalf("sample %d: %d vs %d", i, w.Samples[i], src[i])
				}
			}
		})
	}
}

// TestWAVSoxInterop checks files against sox in both directions.
func TestWAVSoxInterop(t *testing.T) {
	if _, err := exec.LookPath("sox"); err != nil {
		t.Skip("sox not installed (Debian package sox)")
	}
	dir := t.TempDir()
	ours := filepath.Join(dir, "ours.wav")
	b, _ := EncodeWAV(16000, 1, WAVPCM16, sine(16000, 1000, 10000, 16000))
	os.WriteFile(ours, b, 0o600)
	out, err := exec.Command("sox", "--i", "-r", ours).Output()
	if err != nil || string(bytes.TrimSpace(out)) != "16000" {
		t.Fatalf("sox reads our rate as %q (%v)", out, err)
	}
	for _, enc := range []struct {
		arg  string
		want WAVEncoding
	}{{"signed-integer", WAVPCM16}, {"u-law", WAVULaw}, {"a-law", WAVALaw}} {
		theirs := filepath.Join(dir, enc.arg+".wav")
		bits := "16"
		if enc.want != WAVPCM16 {
			bits = "8"
		}
		if out, err := exec.Command("sox", ours, "-e", enc.arg, "-b", bits, "-r", "8000", theirs).CombinedOutput(); err != nil {
			t.Fatalf("sox: %v %s", err, out)
		}
		data, _ := os.ReadFile(theirs)
		w, err := DecodeWAV(data)
		if err != nil {
			t.Fatalf("%s: %v", enc.arg, err)
		}
		if w.Encoding != enc.want || w.Rate != 8000 || w.Frames() != 8000 {
			t.Fatalf("%s: %+v (%d frames)", enc.arg, w.Encoding, w.Frames())
		}
		if l := MeasureLevel(w.Samples); l.RMS < -15 || l.RMS > -8 {
			t.Fatalf("%s: level %.1f dBFS, want about -13", enc.arg, l.RMS)
		}
	}
}

func TestWAVErrors(t *testing.T) {
	good, _ := EncodeWAV(8000, 1, WAVPCM16, []int16{1, 2, 3})
	fmtAt := 20 // format tag offset
	mutate := func(f func(b []byte) []byte) []byte {
		b := append([]byte(nil), good...)
		return f(b)
	}
	cases := map[string][]byte{
		"empty":         nil,
		"not riff":      mutate(func(b []byte) []byte { copy(b, "RIFX"); return b }),
		"8-bit pcm":     mutate(func(b []byte) []byte { b[34] = 8; return b }),
		"float":         mutate(func(b []byte) []byte { b[fmtAt] = 3; return b }),
		"six channels":  mutate(func(b []byte) []byte { b[22] = 6; return b }),
		"zero rate":     mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[24:], 0); return b }),
		"no data":       good[:36],
		"chunk overrun": mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[16:], 1000); return b }),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeWAV(b); !errors.Is(err, ErrWAV) {
				t.Fatalf("err = %v, want ErrWAV", err)
			}
		})
	}
	// A streaming writer's oversized data length is read to end of file.
	long := mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[40:], 0xFFFFFFFF); return b })
	if w, err := DecodeWAV(long); err != nil || len(w.Samples) != 3 {
		t.Fatalf("oversized data chunk: %v", err)
	}
	if _, err := EncodeWAV(8000, 3, WAVPCM16, nil); !errors.Is(err, ErrWAV) {
		t.Fatalf("3 channels encoded: %v", err)
	}
}

func FuzzDecodeWAV(f *testing.F) {
	for _, enc := range []WAVEncoding{WAVPCM16, WAVULaw, WAVALaw} {
		b, _ := EncodeWAV(8000, 1, enc, []int16{0, 100, -100, 32767})
		f.Add(b)
	}
	st, _ := EncodeWAV(16000, 2, WAVPCM16, []int16{1, 2, 3, 4})
	f.Add(st)
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00"))
	f.Add([]byte("RIFF\x24\x00\x00\x00WAVEdata\x04\x00\x00\x00\x01\x02\x03\x04"))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := DecodeWAV(b)
		if err != nil {
			if !errors.Is(err, ErrWAV) {
				t.Fatalf("error not wrapping ErrWAV: %v", err)
			}
			return
		}
		if w.Channels < 1 || w.Channels > 2 || w.Rate <= 0 || len(w.Samples)%w.Channels != 0 {
			t.Fatalf("accepted inconsistent file: %d ch %d Hz %d samples", w.Channels, w.Rate, len(w.Samples))
		}
		if len(w.Samples) > len(b) {
			t.Fatalf("%d samples from %d bytes", len(w.Samples), len(b))
		}
		// What we decoded, we can write and read back identically (PCM16).
		again, err := EncodeWAV(w.Rate, w.Channels, WAVPCM16, w.Samples)
		if err != nil {
			t.Fatal(err)
		}
		w2, err := DecodeWAV(again)
		if err != nil || !equalInt16(w2.Samples, w.Samples) {
			t.Fatalf("re-encode round trip: %v", err)
		}
	})
}

func TestRecorderAlignsSides(t *testing.T) {
	r, err := NewRecorder(8000)
	if err != nil {
		t.Fatal(err)
	}
	// Bot frames arrive out of order; callee starts later.
	if err := r.Bot(40*time.Millisecond, Frame{Rate: 8000, Samples: pkt(300)}); err != nil {
		t.Fatal(err)
	}
	r.Bot(0, Frame{Rate: 8000, Samples: pkt(100)})
	r.Callee(20*time.Millisecond, Frame{Rate: 8000, Samples: pkt(-50)})
	if d := r.Duration(); d != 60*time.Millisecond {
		t.Fatalf("duration %v", d)
	}
	st := r.Stereo()
	at := func(ms int) (int16, int16) { i := ms * 8; return st[2*i], st[2*i+1] }
	for _, c := range []struct{ ms, l, r int16 }{{0, 0, 100}, {25, -50, 0}, {45, 0, 300}} {
		l, rr := at(int(c.ms))
		if l != c.l || rr != c.r {
			t.Fatalf("at %d ms: L %d R %d, want %d %d", c.ms, l, rr, c.l, c.r)
		}
	}
	var buf bytes.Buffer
	if err := r.WriteWAV(&buf, WAVPCM16); err != nil {
		t.Fatal(err)
	}
	w, err := DecodeWAV(buf.Bytes())
	if err != nil || w.Channels != 2 || w.Frames() != 480 {
		t.Fatalf("wav: %v", err)
	}
	if err := r.Callee(0, Frame{Rate: 16000, Samples: pkt(1)}); !errors.Is(err, ErrFormat) {
		t.Fatalf("wrong rate accepted: %v", err)
	}
	if err := r.Callee(-time.Second, Frame{Rate: 8000, Samples: pkt(1)}); !errors.Is(err, ErrFormat) {
		t.Fatalf("negative offset accepted: %v", err)
	}
	if err := r.Bot(5*time.Hour, Frame{Rate: 8000, Samples: pkt(1)}); !errors.Is(err, ErrFormat) {
		t.Fatalf("offset past MaxRecording accepted: %v", err)
	}
}

func TestMeasureLevel(t *testing.T) {
	cases := []struct {
		name          string
		s             []int16
		rms, peak     float64
		clipped       int
		silentRMSPeak bool
	}{
		{"silence", make([]int16, 160), 0, 0, 0, true},
		{"full-scale sine", sine(8000, 1000, 32767, 8000), -3.01, 0, 1000, false}, // crests land on 32767
		{"-20 dBFS sine", sine(8000, 1000, 3277, 8000), -23.01, -20, 0, false},
		{"square at limits", []int16{32767, -32768, 32767, -32768}, 0, 0, 4, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := MeasureLevel(c.s)
			if c.silentRMSPeak {
				if !math.IsInf(l.RMS, -1) || !math.IsInf(l.Peak, -1) {
					t.Fatalf("silence: %+v", l)
				}
				return
			}
			if math.Abs(l.RMS-c.rms) > 0.05 || math.Abs(l.Peak-c.peak) > 0.05 || l.Clipped != c.clipped {
				t.Fatalf("got %+v, want RMS %.2f peak %.2f clipped %d", l, c.rms, c.peak, c.clipped)
			}
		})
	}
	var m Meter
	m.Add(sine(8000, 1000, 3277, 4000))
	m.Add(sine(8000, 1000, 3277, 4000))
	if l := m.Level(); l.Samples != 8000 || math.Abs(l.RMS+23.01) > 0.05 {
		t.Fatalf("meter %+v", l)
	}
}
