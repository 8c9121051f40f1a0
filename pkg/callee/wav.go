package callee

import (
	"encoding/binary"
	"fmt"
	"os"
)

// SaveWAV writes the call as a stereo 16-bit PCM WAV file at Rate: the person (callee) on the left channel, the
// bot on the right, aligned in time from the answer. It fails when Config.DiscardAudio is set.
func (p *Person) SaveWAV(path string) error {
	p.mu.Lock()
	if p.cfg.DiscardAudio {
		p.mu.Unlock()
		return fmt.Errorf("callee: save %s: audio was discarded (Config.DiscardAudio)", path)
	}
	left, right, rate := p.self.samples(), p.bot.samples(), p.cfg.Rate
	n := max(len(left), len(right))
	data := make([]byte, 44+4*n)
	for i := range n {
		var l, r int16
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		binary.LittleEndian.PutUint16(data[44+4*i:], uint16(l))
		binary.LittleEndian.PutUint16(data[46+4*i:], uint16(r))
	}
	p.mu.Unlock()
	putWAVHeader(data[:44], rate, 2, 4*n)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("callee: save wav: %w", err)
	}
	return nil
}

// putWAVHeader writes a 44-byte RIFF/WAVE header for 16-bit PCM.
func putWAVHeader(h []byte, rate, channels, dataLen int) {
	le := binary.LittleEndian
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], uint32(36+dataLen))
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)
	le.PutUint16(h[20:], 1) // PCM
	le.PutUint16(h[22:], uint16(channels))
	le.PutUint32(h[24:], uint32(rate))
	le.PutUint32(h[28:], uint32(rate*channels*2))
	le.PutUint16(h[32:], uint16(channels*2))
	le.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	le.PutUint32(h[40:], uint32(dataLen))
}
