package audiosocket

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestMessageRoundTrip(t *testing.T) {
	id := NewUUID()
	tests := []struct {
		name string
		m    Message
		wire []byte
	}{
		{"hangup", Message{Kind: KindHangup}, []byte{0x00, 0, 0}},
		{"uuid", Message{Kind: KindUUID, Payload: id[:]}, append([]byte{0x01, 0, 16}, id[:]...)},
		{"dtmf", Message{Kind: KindDTMF, Payload: []byte{'5'}}, []byte{0x03, 0, 1, '5'}},
		{"slin8", Message{Kind: KindSlin8, Payload: []byte{0x01, 0x02}}, []byte{0x10, 0, 2, 0x01, 0x02}},
		{"slin192", Message{Kind: KindSlin192, Payload: make([]byte, 320)}, append([]byte{0x18, 1, 64}, make([]byte, 320)...)},
		{"error", Message{Kind: KindError, Payload: []byte{byte(ErrorHangup)}}, []byte{0xff, 0, 1, 0x01}},
		{"error without code", Message{Kind: KindError}, []byte{0xff, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, tc.m.MarshalSize())
			if n, err := tc.m.MarshalTo(buf); err != nil || n != len(tc.wire) || !bytes.Equal(buf, tc.wire) {
				t.Fatalf("MarshalTo = %x, %v; want %x", buf, err, tc.wire)
			}
			var got Message
			n, err := got.Unmarshal(append(tc.wire, 0xaa)) // trailing byte belongs to the next message
			if err != nil || n != len(tc.wire) || got.Kind != tc.m.Kind || !bytes.Equal(got.Payload, tc.m.Payload) {
				t.Fatalf("Unmarshal = %d %+v %v", n, got, err)
			}
			r, _, err := ReadMessage(bytes.NewReader(tc.wire), nil)
			if err != nil || r.Kind != tc.m.Kind || !bytes.Equal(r.Payload, tc.m.Payload) {
				t.Fatalf("ReadMessage = %+v, %v", r, err)
			}
		})
	}
}

func TestMessageAccessors(t *testing.T) {
	id := NewUUID()
	m := Message{Kind: KindUUID, Payload: id[:]}
	if got, ok := m.UUID(); !ok || got != id {
		t.Fatalf("UUID() = %v %v", got, ok)
	}
	m = Message{Kind: KindDTMF, Payload: []byte{'#'}}
	if d, ok := m.Digit(); !ok || d != '#' {
		t.Fatalf("Digit() = %q %v", d, ok)
	}
	m = Message{Kind: KindError, Payload: []byte{0x04}}
	if c := m.ErrorCode(); c != ErrorMemory || c.String() != "memory error" {
		t.Fatalf("ErrorCode() = %v", c)
	}
	if _, ok := m.Digit(); ok {
		t.Fatal("Digit on an error message")
	}
}

func TestKindRates(t *testing.T) {
	want := map[Kind]int{0x10: 8000, 0x11: 12000, 0x12: 16000, 0x13: 24000, 0x14: 32000, 0x15: 44100, 0x16: 48000, 0x17: 96000, 0x18: 192000}
	for k, r := range want {
		if k.Rate() != r {
			t.Errorf("%s rate %d, want %d", k, k.Rate(), r)
		}
		if got, err := KindForRate(r); err != nil || got != k {
			t.Errorf("KindForRate(%d) = %v, %v", r, got, err)
		}
	}
	if KindDTMF.Rate() != 0 || KindDTMF.IsAudio() {
		t.Error("DTMF is not audio")
	}
	if _, err := KindForRate(11025); !errors.Is(err, ErrRate) {
		t.Errorf("KindForRate(11025): %v", err)
	}
}

func TestMessageErrors(t *testing.T) {
	tests := []struct {
		name string
		buf  []byte
		want error
	}{
		{"empty", nil, ErrShortMessage},
		{"two bytes", []byte{0x10, 0}, ErrShortMessage},
		{"payload cut", []byte{0x10, 0, 4, 1, 2}, ErrShortMessage},
		{"unknown kind", []byte{0x02, 0, 0}, ErrUnknownKind},
		{"uuid 15 bytes", append([]byte{0x01, 0, 15}, make([]byte, 15)...), ErrPayloadSize},
		{"dtmf 2 bytes", []byte{0x03, 0, 2, '1', '2'}, ErrPayloadSize},
		{"odd audio", []byte{0x10, 0, 3, 1, 2, 3}, ErrPayloadSize},
		{"hangup with payload", []byte{0x00, 0, 1, 0}, ErrPayloadSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m Message
			if n, err := m.Unmarshal(tc.buf); !errors.Is(err, tc.want) || n != 0 {
				t.Fatalf("Unmarshal = %d, %v; want %v", n, err, tc.want)
			}
		})
	}
	if _, _, err := ReadMessage(bytes.NewReader([]byte{0x10, 0, 8, 1}), nil); !errors.Is(err, ErrShortMessage) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut stream: %v", err)
	}
	if _, _, err := ReadMessage(bytes.NewReader(nil), nil); err != io.EOF {
		t.Fatalf("empty stream: %v, want io.EOF", err)
	}
	m := Message{Kind: KindSlin8, Payload: make([]byte, 4)}
	if _, err := m.MarshalTo(make([]byte, 5)); !errors.Is(err, ErrShortBuffer) {
		t.Fatalf("short buffer: %v", err)
	}
}

func TestUUID(t *testing.T) {
	u := NewUUID()
	s := u.String()
	if len(s) != 36 || s[14] != '4' {
		t.Fatalf("String() = %q", s)
	}
	for _, in := range []string{s, bytes.NewBufferString(s).String()} {
		if got, err := ParseUUID(in); err != nil || got != u {
			t.Fatalf("ParseUUID(%q) = %v, %v", in, got, err)
		}
	}
	if got, err := ParseUUID("0123456789ABCDEF0123456789abcdef"); err != nil || got[0] != 0x01 || got[15] != 0xef {
		t.Fatalf("bare hex: %v %v", got, err)
	}
	for _, bad := range []string{"", "xyz", "01234567-89ab-cdef-0123-456789abcdeg", "0123456789abcdef0123456789abcdef01", "01234567+89ab-cdef-0123-456789abcdef"} {
		if _, err := ParseUUID(bad); !errors.Is(err, ErrUUID) {
			t.Errorf("ParseUUID(%q): %v", bad, err)
		}
	}
}

func FuzzReadMessage(f *testing.F) {
	id := NewUUID()
	f.Add(append([]byte{0x01, 0, 16}, id[:]...))
	f.Add([]byte{0x10, 0, 4, 1, 2, 3, 4, 0x03, 0, 1, '9', 0x00, 0, 0})
	f.Add([]byte{0xff, 0, 1, 2})
	f.Add([]byte{0x12, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		// The stream reader and the buffer parser agree on every message, and what parses re-encodes exactly.
		r := bytes.NewReader(b)
		rest := b
		var buf []byte
		for {
			m, nb, err := ReadMessage(r, buf)
			buf = nb
			var pm Message
			n, perr := pm.Unmarshal(rest)
			if err != nil {
				if perr == nil {
					t.Fatalf("stream failed (%v) where buffer parsed %+v", err, pm)
				}
				return
			}
			if perr != nil || pm.Kind != m.Kind || !bytes.Equal(pm.Payload, m.Payload) {
				t.Fatalf("stream %+v, buffer %+v %v", m, pm, perr)
			}
			out := make([]byte, m.MarshalSize())
			if k, err := m.MarshalTo(out); err != nil || !bytes.Equal(out[:k], rest[:n]) {
				t.Fatalf("re-encode %x, %v; want %x", out, err, rest[:n])
			}
			rest = rest[n:]
		}
	})
}

func BenchmarkUnmarshal(b *testing.B) {
	wire := append([]byte{0x10, 1, 64}, make([]byte, 320)...)
	var m Message
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Unmarshal(wire); err != nil {
			b.Fatal(err)
		}
	}
}
