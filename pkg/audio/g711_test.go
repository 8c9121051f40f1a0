package audio

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"testing"
)

func TestULawKnownValues(t *testing.T) {
	// Values from the G.711 µ-law tables: code → decoded linear (16-bit scale).
	cases := []struct {
		name string
		code byte
		want int16
	}{
		{"positive zero", 0xFF, 0},
		{"negative zero", 0x7F, 0},
		{"smallest positive", 0xFE, 8},
		{"smallest negative", 0x7E, -8},
		{"largest positive", 0x80, 32124},
		{"largest negative", 0x00, -32124},
		{"segment 1 start", 0xEF, 132},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ULawToLinear(c.code); got != c.want {
				t.Errorf("ULawToLinear(%#02x) = %d, want %d", c.code, got, c.want)
			}
		})
	}
	enc := []struct {
		name string
		in   int16
		want byte
	}{
		{"zero", 0, 0xFF},
		{"max", 32767, 0x80},
		{"min", -32768, 0x00},
		{"clip just above top", 32200, 0x80},
		{"minus one", -1, 0x7F},
	}
	for _, c := range enc {
		t.Run(c.name, func(t *testing.T) {
			if got := LinearToULaw(c.in); got != c.want {
				t.Errorf("LinearToULaw(%d) = %#02x, want %#02x", c.in, got, c.want)
			}
		})
	}
}

func TestALawKnownValues(t *testing.T) {
	cases := []struct {
		name string
		code byte
		want int16
	}{
		{"smallest positive", 0xD5, 8},
		{"smallest negative", 0x55, -8},
		{"largest positive", 0xAA, 32256},
		{"largest negative", 0x2A, -32256},
		{"segment 1 start", 0xC5, 264},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ALawToLinear(c.code); got != c.want {
				t.Errorf("ALawToLinear(%#02x) = %d, want %d", c.code, got, c.want)
			}
		})
	}
	enc := []struct {
		name string
		in   int16
		want byte
	}{
		{"zero", 0, 0xD5},
		{"minus one", -1, 0x55},
		{"max", 32767, 0xAA},
		{"min", -32768, 0x2A},
	}
	for _, c := range enc {
		t.Run(c.name, func(t *testing.T) {
			if got := LinearToALaw(c.in); got != c.want {
				t.Errorf("LinearToALaw(%d) = %#02x, want %#02x", c.in, got, c.want)
			}
		})
	}
}

// TestG711AllCodesRoundTrip checks that every one of the 256 codes of each law survives decode then encode. The
// only µ-law exception is 0x7F ("negative zero"), which decodes to 0 like 0xFF and so re-encodes as 0xFF.
func TestG711AllCodesRoundTrip(t *testing.T) {
	for c := range 256 {
		code := byte(c)
		u := LinearToULaw(ULawToLinear(code))
		if code == 0x7F {
			if u != 0xFF {
				t.Errorf("µ-law negative zero re-encoded as %#02x, want 0xff", u)
			}
		} else if u != code {
			t.Errorf("µ-law %#02x → %d → %#02x", code, ULawToLinear(code), u)
		}
		if a := LinearToALaw(ALawToLinear(code)); a != code {
			t.Errorf("A-law %#02x → %d → %#02x", code, ALawToLinear(code), a)
		}
	}
}

// TestG711Monotonic checks the encoders quantise to the nearest level's interval: encode is monotonic in the
// input and the decoded value is within half a quantisation step (plus the dropped low bits) of the input.
func TestG711Monotonic(t *testing.T) {
	prevU, prevA := ULawToLinear(LinearToULaw(-32768)), ALawToLinear(LinearToALaw(-32768))
	for s := -32768; s <= 32767; s++ {
		du := ULawToLinear(LinearToULaw(int16(s)))
		da := ALawToLinear(LinearToALaw(int16(s)))
		if du < prevU || da < prevA {
			t.Fatalf("not monotonic at %d: µ %d<%d or A %d<%d", s, du, prevU, da, prevA)
		}
		prevU, prevA = du, da
		// Largest step is 1024 (µ-law top segment at 16-bit scale) and 1024 (A-law); clipped region is wider.
		if s > -32000 && s < 32000 {
			if d := abs32(int32(du) - int32(s)); d > 520 {
				t.Fatalf("µ-law error %d at %d", d, s)
			}
			if d := abs32(int32(da) - int32(s)); d > 520 {
				t.Fatalf("A-law error %d at %d", d, s)
			}
		}
	}
}

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

func TestG711SliceForms(t *testing.T) {
	codes := make([]byte, 256)
	for i := range codes {
		codes[i] = byte(i)
	}
	buf := make([]int16, 0, 256)
	lin := DecodeULaw(buf, codes)
	if len(lin) != 256 || &lin[0] != &buf[:1][0] {
		t.Fatal("DecodeULaw did not reuse dst")
	}
	for i, v := range lin {
		if v != ULawToLinear(byte(i)) {
			t.Fatalf("DecodeULaw[%d]=%d", i, v)
		}
	}
	back := EncodeULaw(nil, lin)
	for i, c := range back {
		if c != LinearToULaw(lin[i]) {
			t.Fatalf("EncodeULaw[%d]", i)
		}
	}
	linA := DecodeALaw(nil, codes)
	if got := EncodeALaw(make([]byte, 3), linA); !bytes.Equal(got, codes) {
		t.Fatal("A-law slice round trip differs")
	}
	if n := testing.AllocsPerRun(100, func() { _ = DecodeULaw(buf, codes); _ = EncodeULaw(back, lin) }); n != 0 {
		t.Fatalf("slice forms allocate: %v", n)
	}
}

func TestPCM16ByteOrder(t *testing.T) {
	src := []int16{0, 1, -1, 32767, -32768, 0x1234}
	be := make([]byte, 2*len(src))
	if n := PutPCM16BE(be, src); n != len(be) {
		t.Fatalf("PutPCM16BE wrote %d", n)
	}
	if !bytes.Equal(be[10:12], []byte{0x12, 0x34}) {
		t.Fatalf("big-endian bytes %x", be[10:12])
	}
	le := make([]byte, 2*len(src))
	PutPCM16LE(le, src)
	if !bytes.Equal(le[10:12], []byte{0x34, 0x12}) {
		t.Fatalf("little-endian bytes %x", le[10:12])
	}
	for i, s := range src {
		if int16(binary.BigEndian.Uint16(be[2*i:])) != s || int16(binary.LittleEndian.Uint16(le[2*i:])) != s {
			t.Fatalf("sample %d", i)
		}
	}
	if got := PCM16BE(nil, be); !equalInt16(got, src) {
		t.Fatalf("PCM16BE = %v", got)
	}
	if got := PCM16LE(nil, le); !equalInt16(got, src) {
		t.Fatalf("PCM16LE = %v", got)
	}
	if got := PCM16LE(nil, le[:5]); len(got) != 2 {
		t.Fatalf("odd byte not ignored: %d samples", len(got))
	}
	short := make([]byte, 3)
	if n := PutPCM16BE(short, src); n != 2 {
		t.Fatalf("short dst: wrote %d, want 2", n)
	}
	if !bytes.Equal(AppendPCM16BE(nil, src), be) || !bytes.Equal(AppendPCM16LE(nil, src), le) {
		t.Fatal("Append forms differ")
	}
}

func equalInt16(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func BenchmarkDecodeULaw160(b *testing.B) {
	src := make([]byte, 160)
	for i := range src {
		src[i] = byte(i * 7)
	}
	dst := make([]int16, 160)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	c0 := threadCPU()
	for b.Loop() {
		dst = DecodeULaw(dst, src)
	}
	b.ReportMetric(float64(threadCPU()-c0)/float64(b.N), "cpu-ns/op")
}

func BenchmarkEncodeULaw160(b *testing.B) {
	src := make([]int16, 160)
	for i := range src {
		src[i] = int16(i * 199)
	}
	dst := make([]byte, 160)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	c0 := threadCPU()
	for b.Loop() {
		dst = EncodeULaw(dst, src)
	}
	b.ReportMetric(float64(threadCPU()-c0)/float64(b.N), "cpu-ns/op")
}
