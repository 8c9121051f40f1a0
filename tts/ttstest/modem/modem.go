// Package modem carries text as audio: a data-over-voice MFSK modem that survives the telephone path.
package modem

import (
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"unicode/utf8"
)

// Signal format. A message is a run of 30 ms symbols, each two simultaneous tones that together carry one byte:
// the high nibble picks one of 16 tones in group A (300-1800 Hz) and the low nibble one of 16 in group B
// (1900-3400 Hz), 100 Hz apart, so every tone sits inside the telephone band and on an exact bin of a 20 ms
// analysis window.
//
//	| preamble: 4 symbols | length: 2 bytes, big-endian | UTF-8 text | CRC-32 (IEEE) of length+text, low 16 bits |
//
// The receiver finds the preamble by scanning sample offsets (which absorbs resampler filter delay and frame
// misalignment), then reads each symbol over the middle 20 ms of its 30 ms, so ±5 ms of timing error costs nothing.
// G.711 µ-law quantisation and mild noise leave the strongest tone of each group in place.

// Sentinel errors.
var (
	ErrNoSignal  = errors.New("modem: no preamble found")
	ErrTruncated = errors.New("modem: message truncated")
	ErrChecksum  = errors.New("modem: checksum mismatch")
	ErrTooLong   = errors.New("modem: message too long")
	ErrRate      = errors.New("modem: unsupported sample rate")
)

// Timing and layout constants.
const (
	SymbolMillis = 30   // duration of one symbol
	MaxText      = 4096 // longest text in bytes
	Amplitude    = 5000 // peak amplitude of each of a symbol's two tones (two tones: about -13 dBFS RMS)

	preambleSymbols = 4
	headerSymbols   = 2
	trailerSymbols  = 2
	rampMillis      = 3 // raised-cosine edges of each symbol, to keep the spectrum inside the band
	minRate         = 8000
)

// preamble is four tone pairs that no shift by a whole symbol maps onto itself.
var preamble = [preambleSymbols]byte{0x0F, 0xF0, 0x5A, 0xA5}

// toneHz returns the frequency of tone i of group g (0: A, 1: B).
func toneHz(g, i int) float64 { return float64(300 + 1600*g + 100*i) }

// overhead returns the number of symbols a message adds beyond its text.
func overhead() int { return preambleSymbols + headerSymbols + trailerSymbols }

// Duration returns how long the audio for a text of n bytes lasts, in milliseconds.
func Duration(n int) int { return (n + overhead()) * SymbolMillis }

// Encode renders text as PCM16 mono audio at rate samples per second, padded with silence to a whole number of
// 20 ms frames.
func Encode(text string, rate int) ([]int16, error) {
	if rate < minRate {
		return nil, fmt.Errorf("%w: %d Hz (need at least %d)", ErrRate, rate, minRate)
	}
	if len(text) > MaxText {
		return nil, fmt.Errorf("%w: %d bytes (max %d)", ErrTooLong, len(text), MaxText)
	}
	msg := make([]byte, 0, len(text)+overhead())
	msg = append(msg, preamble[:]...)
	msg = append(msg, byte(len(text)>>8), byte(len(text)))
	msg = append(msg, text...)
	sum := crc32.ChecksumIEEE(msg[preambleSymbols:])
	msg = append(msg, byte(sum>>8), byte(sum))

	end := symbolStart(len(msg), rate)
	frame := rate / 50
	total := (end + frame - 1) / frame * frame
	out := make([]int16, total)
	ramp := rate * rampMillis / 1000
	for k, b := range msg {
		s, e := symbolStart(k, rate), symbolStart(k+1, rate)
		wa := 2 * math.Pi * toneHz(0, int(b>>4)) / float64(rate)
		wb := 2 * math.Pi * toneHz(1, int(b&15)) / float64(rate)
		for n := s; n < e; n++ {
			g := 1.0
			if d := n - s; d < ramp {
				g = 0.5 - 0.5*math.Cos(math.Pi*float64(d)/float64(ramp))
			} else if d := e - 1 - n; d < ramp {
				g = 0.5 - 0.5*math.Cos(math.Pi*float64(d)/float64(ramp))
			}
			v := g * Amplitude * (math.Sin(wa*float64(n)) + math.Sin(wb*float64(n)))
			out[n] = int16(math.Round(v))
		}
	}
	return out, nil
}

// symbolStart returns the first sample of symbol k relative to the message start.
func symbolStart(k, rate int) int { return k * rate * SymbolMillis / 1000 }

// Decoder demodulates one message from audio written to it piece by piece, such as one utterance of a stream.
// It is not safe for concurrent use.
type Decoder struct {
	rate      int // analysis rate: the input rate divided by decim, 8 to 16 kHz
	decim     int // input samples averaged into one analysed sample
	carry     []int16
	win       int // analysis window: 20 ms
	skip      int // window offset inside a symbol: 5 ms
	step      int // preamble search step: 1 ms
	maxSearch int // last offset searched for the preamble; <0: no limit

	coef [2][16]float64
	buf  []int16

	// preamble search
	searched int // next offset to score
	runStart int // first offset of the current run of good scores; -1: none
	locked   bool
	start    int // first sample of the message, once locked
	failed   error

	// payload
	msg     []byte // bytes after the preamble: length, text, checksum
	length  int    // text length once known; -1 before
	quality float64
	done    bool
}

// NewDecoder returns a Decoder for audio at rate that looks for the preamble within the first maxSearch samples of
// what it is given (maxSearch < 0: anywhere).
func NewDecoder(rate, maxSearch int) (*Decoder, error) {
	if rate < minRate {
		return nil, fmt.Errorf("%w: %d Hz (need at least %d)", ErrRate, rate, minRate)
	}
	// Tones end at 3.4 kHz, so analysing at about 8 kHz loses nothing and costs a fraction of higher rates.
	decim := rate / minRate
	if rate%decim != 0 {
		decim = 1
	}
	rate /= decim
	if maxSearch > 0 {
		maxSearch /= decim
	}
	d := &Decoder{rate: rate, decim: decim, win: rate / 50, skip: rate / 200, step: max(rate/500, 1),
		maxSearch: maxSearch, runStart: -1, length: -1, quality: 1}
	for g := range 2 {
		for i := range 16 {
			d.coef[g][i] = 2 * math.Cos(2*math.Pi*toneHz(g, i)/float64(rate))
		}
	}
	return d, nil
}

// Write appends audio and decodes as far as it allows. It returns the error that ends decoding, if any:
// ErrNoSignal when no preamble was found in the search range, ErrChecksum or ErrTooLong for a damaged message.
func (d *Decoder) Write(p []int16) error {
	if d.done || d.failed != nil {
		return d.failed
	}
	d.push(p)
	if !d.locked {
		d.search()
		if !d.locked {
			return d.failed
		}
	}
	d.decode()
	return d.failed
}

// Done reports whether a whole message was decoded and its checksum matched.
func (d *Decoder) Done() bool { return d.done }

// Err returns the error that ended decoding, or nil.
func (d *Decoder) Err() error { return d.failed }

// Locked reports whether the preamble was found.
func (d *Decoder) Locked() bool { return d.locked }

// Text returns the text decoded so far: the whole text once Done, otherwise its longest valid UTF-8 prefix.
func (d *Decoder) Text() string {
	if len(d.msg) <= headerSymbols {
		return ""
	}
	t := d.msg[headerSymbols:]
	if d.length >= 0 && len(t) > d.length {
		t = t[:d.length]
	}
	for len(t) > 0 && !utf8.Valid(t) {
		t = t[:len(t)-1]
	}
	return string(t)
}

// Span returns the first sample of the message and the sample after its last symbol, relative to the first sample
// written; end is 0 until the length is known.
func (d *Decoder) Span() (start, end int) {
	if !d.locked {
		return 0, 0
	}
	if d.length < 0 {
		return d.start * d.decim, 0
	}
	return d.start * d.decim, (d.start + symbolStart(d.length+overhead(), d.rate)) * d.decim
}

// push appends p to the analysis buffer, averaging each run of decim samples (a boxcar low-pass, flat enough up to
// 3.4 kHz) into one.
func (d *Decoder) push(p []int16) {
	if d.decim == 1 {
		d.buf = append(d.buf, p...)
		return
	}
	if len(d.carry) > 0 {
		n := min(d.decim-len(d.carry), len(p))
		d.carry = append(d.carry, p[:n]...)
		p = p[n:]
		if len(d.carry) < d.decim {
			return
		}
		d.buf = append(d.buf, average(d.carry))
		d.carry = d.carry[:0]
	}
	for len(p) >= d.decim {
		d.buf = append(d.buf, average(p[:d.decim]))
		p = p[d.decim:]
	}
	d.carry = append(d.carry, p...)
}

func average(p []int16) int16 {
	var s int
	for _, v := range p {
		s += int(v)
	}
	return int16(s / len(p))
}

// Quality returns the weakest symbol's share of its window's energy in its two tones (0..1): near 1 for a clean
// signal, lower with noise or distortion.
func (d *Decoder) Quality() float64 { return d.quality }

// search scores preamble offsets as far as the buffered audio allows. A run of consecutive good offsets is the
// range of timings that read every preamble symbol cleanly; its middle is the most robust choice.
func (d *Decoder) search() {
	need := symbolStart(preambleSymbols, d.rate)
	for ; d.searched+need <= len(d.buf); d.searched += d.step {
		if d.maxSearch >= 0 && d.searched > d.maxSearch && d.runStart < 0 {
			d.failed = ErrNoSignal
			return
		}
		good := d.preambleScore(d.searched) >= 0.6
		if good && d.runStart < 0 {
			d.runStart = d.searched
		}
		if !good && d.runStart >= 0 {
			d.lock((d.runStart + d.searched - d.step) / 2)
			return
		}
		// A run as wide as a symbol's slack is complete; no need to wait for its end.
		if good && d.searched-d.runStart >= d.rate*10/1000 {
			d.lock((d.runStart + d.searched) / 2)
			return
		}
	}
}

func (d *Decoder) lock(at int) {
	d.locked, d.start = true, at
}

// preambleScore returns the lowest share of window energy in the expected tones over the preamble at offset off.
func (d *Decoder) preambleScore(off int) float64 {
	low := 1.0
	for k, b := range preamble {
		w := d.window(off, k)
		tot := energy(w)
		if tot < float64(d.win)*100*100 { // under about -50 dBFS: not a signal
			return 0
		}
		s := (goertzel(w, d.coef[0][b>>4]) + goertzel(w, d.coef[1][b&15])) / (tot * float64(d.win) / 2)
		low = min(low, s)
		if low < 0.6 {
			return low
		}
	}
	return low
}

// window returns the analysis window of symbol k of a message starting at off.
func (d *Decoder) window(off, k int) []int16 {
	s := off + symbolStart(k, d.rate) + d.skip
	return d.buf[s : s+d.win]
}

// decode reads every symbol whose window is buffered.
func (d *Decoder) decode() {
	for !d.done && d.failed == nil {
		k := preambleSymbols + len(d.msg)
		if d.start+symbolStart(k, d.rate)+d.skip+d.win > len(d.buf) {
			return
		}
		d.msg = append(d.msg, d.symbol(d.window(d.start, k)))
		if len(d.msg) == headerSymbols {
			d.length = int(d.msg[0])<<8 | int(d.msg[1])
			if d.length > MaxText {
				d.failed = fmt.Errorf("%w: header says %d bytes", ErrTooLong, d.length)
			}
		}
		if d.length >= 0 && len(d.msg) == headerSymbols+d.length+trailerSymbols {
			body := d.msg[:headerSymbols+d.length]
			sum := crc32.ChecksumIEEE(body)
			got := uint16(d.msg[len(d.msg)-2])<<8 | uint16(d.msg[len(d.msg)-1])
			if uint16(sum) != got {
				d.failed = fmt.Errorf("%w: got %04x, computed %04x", ErrChecksum, got, uint16(sum))
				return
			}
			d.done = true
		}
	}
}

// symbol returns the byte carried by one window: the strongest tone of each group.
func (d *Decoder) symbol(w []int16) byte {
	var out [2]int
	var best [2]float64
	for g := range 2 {
		for i := 0; i < 16; i += 4 {
			p := goertzel4(w, (*[4]float64)(d.coef[g][i:i+4]))
			for j, v := range p {
				if v > best[g] {
					best[g], out[g] = v, i+j
				}
			}
		}
	}
	if tot := energy(w); tot > 0 {
		d.quality = min(d.quality, (best[0]+best[1])/(tot*float64(d.win)/2))
	}
	return byte(out[0]<<4 | out[1])
}

// Truncated reports whether the decoder is locked but still waiting for symbols.
func (d *Decoder) Truncated() bool { return d.locked && !d.done && d.failed == nil }

// Decode finds and decodes one message anywhere in samples at rate.
func Decode(samples []int16, rate int) (string, error) {
	d, err := NewDecoder(rate, -1)
	if err != nil {
		return "", err
	}
	if err := d.Write(samples); err != nil {
		return "", err
	}
	if !d.locked {
		return "", ErrNoSignal
	}
	if !d.done {
		return "", ErrTruncated
	}
	return d.Text(), nil
}

// goertzel returns the power of w at the frequency whose coefficient is coef (2·cos ω).
func goertzel(w []int16, coef float64) float64 {
	var s1, s2 float64
	for _, v := range w {
		s1, s2 = float64(v)+coef*s1-s2, s1
	}
	return s1*s1 + s2*s2 - coef*s1*s2
}

// goertzel4 is goertzel for four frequencies at once: four independent recurrences keep the CPU's pipelines full.
func goertzel4(w []int16, c *[4]float64) [4]float64 {
	var a1, a2, b1, b2, c1, c2, d1, d2 float64
	for _, v := range w {
		x := float64(v)
		a1, a2 = x+c[0]*a1-a2, a1
		b1, b2 = x+c[1]*b1-b2, b1
		c1, c2 = x+c[2]*c1-c2, c1
		d1, d2 = x+c[3]*d1-d2, d1
	}
	return [4]float64{
		a1*a1 + a2*a2 - c[0]*a1*a2,
		b1*b1 + b2*b2 - c[1]*b1*b2,
		c1*c1 + c2*c2 - c[2]*c1*c2,
		d1*d1 + d2*d2 - c[3]*d1*d2,
	}
}

func energy(w []int16) float64 {
	var e float64
	for _, v := range w {
		e += float64(v) * float64(v)
	}
	return e
}
