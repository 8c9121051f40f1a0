package rtp

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		p    Packet
	}{
		{"pcmu", Packet{Header: Header{PayloadType: 0, SequenceNumber: 65535, Timestamp: 0xfffffff0, SSRC: 0xdeadbeef, Marker: true}, Payload: bytes.Repeat([]byte{0xff}, 160)}},
		{"slin16", Packet{Header: Header{PayloadType: 118, SequenceNumber: 1, Timestamp: 320, SSRC: 7}, Payload: make([]byte, 640)}},
		{"csrc", Packet{Header: Header{PayloadType: 8, CSRC: []uint32{1, 2, 3}}, Payload: []byte{1, 2, 3}}},
		{"extension", Packet{Header: Header{PayloadType: 96, Extension: true, ExtensionProfile: 0xbede, ExtensionPayload: []byte{1, 2, 3, 4, 5, 6, 7, 8}}, Payload: []byte{9}}},
		{"empty extension", Packet{Header: Header{PayloadType: 96, Extension: true, ExtensionProfile: 1}, Payload: []byte{9}}},
		{"padding", Packet{Header: Header{PayloadType: 0}, Payload: []byte{1, 2, 3}, PaddingSize: 5}},
		{"empty payload", Packet{Header: Header{PayloadType: 13}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, tc.p.MarshalSize())
			n, err := tc.p.MarshalTo(buf)
			if err != nil || n != len(buf) {
				t.Fatalf("MarshalTo = %d, %v; want %d", n, err, len(buf))
			}
			if buf[0]>>6 != 2 {
				t.Fatalf("version bits %d", buf[0]>>6)
			}
			var got Packet
			if n, err := got.Unmarshal(buf); err != nil || n != len(buf) {
				t.Fatalf("Unmarshal = %d, %v", n, err)
			}
			w := tc.p
			if got.PayloadType != w.PayloadType || got.SequenceNumber != w.SequenceNumber || got.Timestamp != w.Timestamp ||
				got.SSRC != w.SSRC || got.Marker != w.Marker || got.Extension != w.Extension ||
				got.ExtensionProfile != w.ExtensionProfile || got.PaddingSize != w.PaddingSize || got.Padding != (w.PaddingSize > 0) {
				t.Fatalf("header mismatch:\n got %+v\nwant %+v", got, w)
			}
			if !slices.Equal(got.CSRC, w.CSRC) && !(len(got.CSRC) == 0 && len(w.CSRC) == 0) {
				t.Fatalf("CSRC %v, want %v", got.CSRC, w.CSRC)
			}
			if !bytes.Equal(got.ExtensionPayload, w.ExtensionPayload) || !bytes.Equal(got.Payload, w.Payload) {
				t.Fatalf("payload mismatch")
			}
		})
	}
}

func TestHeaderWireBytes(t *testing.T) {
	// A PCMU packet as Asterisk sends it: V=2, M=1, PT=0, seq 0x1234, ts 0x01020304, SSRC 0xa1b2c3d4.
	wire := []byte{0x80, 0x80, 0x12, 0x34, 1, 2, 3, 4, 0xa1, 0xb2, 0xc3, 0xd4, 0xff, 0x7f}
	var p Packet
	if _, err := p.Unmarshal(wire); err != nil {
		t.Fatal(err)
	}
	if !p.Marker || p.PayloadType != 0 || p.SequenceNumber != 0x1234 || p.Timestamp != 0x01020304 || p.SSRC != 0xa1b2c3d4 {
		t.Fatalf("decoded %+v", p.Header)
	}
	if !bytes.Equal(p.Payload, []byte{0xff, 0x7f}) {
		t.Fatalf("payload %x", p.Payload)
	}
	out := make([]byte, p.MarshalSize())
	if _, err := p.MarshalTo(out); err != nil || !bytes.Equal(out, wire) {
		t.Fatalf("re-marshal %x, %v; want %x", out, err, wire)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		buf  []byte
		want error
	}{
		{"empty", nil, ErrShortPacket},
		{"11 bytes", make([]byte, 11), ErrShortPacket},
		{"version 1", append([]byte{0x40}, make([]byte, 11)...), ErrVersion},
		{"version 0", make([]byte, 12), ErrVersion},
		{"csrc beyond end", append([]byte{0x82}, make([]byte, 15)...), ErrShortPacket},
		{"extension header missing", append([]byte{0x90}, make([]byte, 13)...), ErrShortPacket},
		{"extension words beyond end", append([]byte{0x90}, append(make([]byte, 11), 0, 0, 0, 2, 1, 2, 3, 4)...), ErrShortPacket},
		{"padding on empty", append([]byte{0xa0}, make([]byte, 11)...), ErrPadding},
		{"padding zero", append([]byte{0xa0}, append(make([]byte, 11), 1, 0)...), ErrPadding},
		{"padding too long", append([]byte{0xa0}, append(make([]byte, 11), 1, 9)...), ErrPadding},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Packet
			n, err := p.Unmarshal(tc.buf)
			if !errors.Is(err, tc.want) || n != 0 {
				t.Fatalf("Unmarshal = %d, %v; want %v", n, err, tc.want)
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	h := Header{CSRC: make([]uint32, 16)}
	if _, err := h.MarshalTo(make([]byte, 100)); !errors.Is(err, ErrTooManyCSRC) {
		t.Fatalf("16 CSRC: %v", err)
	}
	h = Header{Extension: true, ExtensionPayload: []byte{1, 2, 3}}
	if _, err := h.MarshalTo(make([]byte, 100)); !errors.Is(err, ErrExtensionSize) {
		t.Fatalf("odd extension: %v", err)
	}
	p := Packet{Payload: make([]byte, 10)}
	if _, err := p.MarshalTo(make([]byte, 21)); !errors.Is(err, ErrShortBuffer) {
		t.Fatalf("short buffer: %v", err)
	}
}

func TestUnmarshalReuseDoesNotAllocate(t *testing.T) {
	src := Packet{Header: Header{CSRC: []uint32{1, 2}}, Payload: make([]byte, 160)}
	buf := make([]byte, src.MarshalSize())
	if _, err := src.MarshalTo(buf); err != nil {
		t.Fatal(err)
	}
	var p Packet
	if _, err := p.Unmarshal(buf); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() { _, _ = p.Unmarshal(buf) }); a != 0 {
		t.Fatalf("Unmarshal allocates %v times", a)
	}
}

func TestSequencer(t *testing.T) {
	q := NewSequencer(0)
	var p Packet
	var prev Header
	for i := range 3 {
		pkt := q.Append(nil, make([]byte, 160), 160)
		if _, err := p.Unmarshal(pkt); err != nil {
			t.Fatal(err)
		}
		if p.Marker != (i == 0) || p.SSRC != q.SSRC() || len(p.Payload) != 160 {
			t.Fatalf("packet %d: %+v", i, p.Header)
		}
		if i > 0 && (p.SequenceNumber != prev.SequenceNumber+1 || p.Timestamp != prev.Timestamp+160) {
			t.Fatalf("packet %d: seq %d ts %d after %d %d", i, p.SequenceNumber, p.Timestamp, prev.SequenceNumber, prev.Timestamp)
		}
		prev = p.Header
	}
	q.Skip(800)
	pkt := q.Append(make([]byte, 0, 200), []byte{1}, 160)
	if _, err := p.Unmarshal(pkt); err != nil {
		t.Fatal(err)
	}
	if !p.Marker || p.Timestamp != prev.Timestamp+160+800 || p.SequenceNumber != prev.SequenceNumber+1 {
		t.Fatalf("after skip: %+v", p.Header)
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte{0x80, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 1, 0xff})
	f.Add([]byte{0x92, 0x80, 0, 1, 0, 0, 0, 160, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xbe, 0xde, 0, 1, 1, 2, 3, 4, 9})
	f.Add([]byte{0xa0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 3})
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Packet
		n, err := p.Unmarshal(b)
		if err != nil {
			return
		}
		if n != len(b) {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		// What parses must re-encode to the same bytes, except padding content (re-marshalled as zeros).
		out := make([]byte, p.MarshalSize())
		m, err := p.MarshalTo(out)
		if err != nil {
			t.Fatalf("re-marshal: %v", err)
		}
		if m != len(b) {
			t.Fatalf("re-marshal size %d, input %d", m, len(b))
		}
		hl := p.Header.MarshalSize()
		if !bytes.Equal(out[:hl+len(p.Payload)], b[:hl+len(p.Payload)]) {
			t.Fatalf("re-marshal differs:\n%x\n%x", out, b)
		}
	})
}

func BenchmarkUnmarshal(b *testing.B) {
	src := Packet{Header: Header{PayloadType: 0, SSRC: 1}, Payload: make([]byte, 160)}
	buf := make([]byte, src.MarshalSize())
	_, _ = src.MarshalTo(buf)
	var p Packet
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Unmarshal(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSequencerAppend(b *testing.B) {
	q := NewSequencer(0)
	payload := make([]byte, 160)
	buf := make([]byte, 0, 200)
	b.ReportAllocs()
	for b.Loop() {
		buf = q.Append(buf[:0], payload, 160)
	}
}
