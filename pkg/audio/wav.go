package audio

import (
	"encoding/binary"
	"fmt"
	"io"
)

// WAVEncoding is a WAV sample encoding.
type WAVEncoding uint16

// WAV encodings (the fmt chunk's format tag).
const (
	WAVPCM16 WAVEncoding = 1 // signed 16-bit little-endian linear PCM
	WAVALaw  WAVEncoding = 6 // G.711 A-law, 8 bits per sample
	WAVULaw  WAVEncoding = 7 // G.711 µ-law, 8 bits per sample
)

// WAV is a decoded WAV file: interleaved PCM16 samples.
type WAV struct {
	Rate     int         // samples per second per channel
	Channels int         // 1 (mono) or 2 (stereo: left, right interleaved)
	Encoding WAVEncoding // encoding the file used
	Samples  []int16     // interleaved by channel
}

// Frames returns the number of sample frames (samples per channel).
func (w *WAV) Frames() int {
	if w.Channels == 0 {
		return 0
	}
	return len(w.Samples) / w.Channels
}

// maxWAVData bounds the data chunk DecodeWAV accepts (1 GiB), so a forged size cannot exhaust memory.
const maxWAVData = 1 << 30

// DecodeWAV parses a RIFF/WAVE file holding PCM16, µ-law or A-law audio, 1 or 2 channels. Chunks other than fmt
// and data are skipped. A data chunk whose declared size runs past the end of the file (as streaming writers
// leave it) is read to the end of the file. Errors wrap ErrWAV.
func DecodeWAV(b []byte) (*WAV, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: not a RIFF/WAVE file", ErrWAV)
	}
	var w WAV
	var bits int
	haveFmt := false
	for off := 12; ; {
		if len(b)-off < 8 {
			return nil, fmt.Errorf("%w: no data chunk", ErrWAV)
		}
		id := string(b[off : off+4])
		size := int64(binary.LittleEndian.Uint32(b[off+4:]))
		body := off + 8
		switch id {
		case "fmt ":
			if size < 16 || int64(len(b)-body) < 16 {
				return nil, fmt.Errorf("%w: fmt chunk of %d bytes", ErrWAV, size)
			}
			f := b[body:]
			w.Encoding = WAVEncoding(binary.LittleEndian.Uint16(f[0:]))
			w.Channels = int(binary.LittleEndian.Uint16(f[2:]))
			w.Rate = int(binary.LittleEndian.Uint32(f[4:]))
			bits = int(binary.LittleEndian.Uint16(f[14:]))
			if w.Encoding == 0xFFFE && size >= 40 && int64(len(b)-body) >= 40 { // WAVE_FORMAT_EXTENSIBLE
				w.Encoding = WAVEncoding(binary.LittleEndian.Uint16(f[24:]))
			}
			if err := checkWAVFormat(w.Encoding, w.Channels, w.Rate, bits); err != nil {
				return nil, err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrWAV)
			}
			end := int64(body) + size
			if end > int64(len(b)) {
				end = int64(len(b))
			}
			if end-int64(body) > maxWAVData {
				return nil, fmt.Errorf("%w: data chunk of %d bytes exceeds %d", ErrWAV, end-int64(body), maxWAVData)
			}
			data := b[body:end]
			switch w.Encoding {
			case WAVPCM16:
				w.Samples = PCM16LE(nil, data)
			case WAVULaw:
				w.Samples = DecodeULaw(nil, data)
			case WAVALaw:
				w.Samples = DecodeALaw(nil, data)
			}
			w.Samples = w.Samples[:len(w.Samples)/w.Channels*w.Channels] // whole sample frames only
			return &w, nil
		}
		next := int64(body) + size + size&1 // chunks are padded to even length
		if next > int64(len(b)) {
			return nil, fmt.Errorf("%w: chunk %q of %d bytes runs past end of file", ErrWAV, id, size)
		}
		off = int(next)
	}
}

func checkWAVFormat(enc WAVEncoding, channels, rate, bits int) error {
	switch {
	case enc == WAVPCM16 && bits != 16:
		return fmt.Errorf("%w: %d-bit PCM (only 16-bit)", ErrWAV, bits)
	case (enc == WAVULaw || enc == WAVALaw) && bits != 8:
		return fmt.Errorf("%w: %d-bit G.711 (want 8)", ErrWAV, bits)
	case enc != WAVPCM16 && enc != WAVULaw && enc != WAVALaw:
		return fmt.Errorf("%w: format tag %d (want PCM, µ-law or A-law)", ErrWAV, enc)
	case channels != 1 && channels != 2:
		return fmt.Errorf("%w: %d channels (want 1 or 2)", ErrWAV, channels)
	case rate <= 0 || rate > 384000:
		return fmt.Errorf("%w: sample rate %d", ErrWAV, rate)
	}
	return nil
}

// ReadWAV reads a whole WAV stream (see DecodeWAV).
func ReadWAV(r io.Reader) (*WAV, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxWAVData+1<<20))
	if err != nil {
		return nil, fmt.Errorf("read wav: %w", err)
	}
	return DecodeWAV(b)
}

// EncodeWAV returns a WAV file holding interleaved samples in the given encoding (PCM16, µ-law or A-law).
func EncodeWAV(rate, channels int, enc WAVEncoding, samples []int16) ([]byte, error) {
	bits := 16
	if enc != WAVPCM16 {
		bits = 8
	}
	if err := checkWAVFormat(enc, channels, rate, bits); err != nil {
		return nil, err
	}
	dataLen := len(samples) * bits / 8
	b := make([]byte, 0, 44+dataLen+1)
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(36+dataLen+dataLen&1))
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, uint16(enc))
	b = binary.LittleEndian.AppendUint16(b, uint16(channels))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate*channels*bits/8)) // byte rate
	b = binary.LittleEndian.AppendUint16(b, uint16(channels*bits/8))      // block align
	b = binary.LittleEndian.AppendUint16(b, uint16(bits))
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(dataLen))
	switch enc {
	case WAVPCM16:
		b = AppendPCM16LE(b, samples)
	case WAVULaw:
		b = append(b, EncodeULaw(nil, samples)...)
	case WAVALaw:
		b = append(b, EncodeALaw(nil, samples)...)
	}
	if dataLen&1 == 1 {
		b = append(b, 0)
	}
	return b, nil
}

// WriteWAV writes a WAV file holding interleaved samples (see EncodeWAV).
func WriteWAV(w io.Writer, rate, channels int, enc WAVEncoding, samples []int16) error {
	b, err := EncodeWAV(rate, channels, enc, samples)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write wav: %w", err)
	}
	return nil
}
