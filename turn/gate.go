package turn

import (
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// gate passes the call's audio to the recognizer only around speech (Config.GateASR): while closed it keeps
// the last PreRoll of frames, and when the callee's voice appears it opens with them, so the recognizer still gets
// the onset the VAD needed time to confirm; it closes Tail after the voice was last heard.
type gate struct {
	ring  []audio.Frame // pre-roll, oldest first once unwrapped
	head  int           // next slot to overwrite
	n     int           // frames in the ring
	tail  time.Duration
	open  bool
	until time.Duration // position up to which the gate stays open
	fed   time.Duration // audio passed on
}

func newGate(preRoll, tail time.Duration) *gate {
	return &gate{ring: make([]audio.Frame, max(1, int(preRoll/audio.FrameDuration))), tail: tail}
}

// feed takes frame f, which ends at pos, with voice telling whether the VAD hears the callee (speaking, or a loud
// frame that may start speech), and appends the frames to send to the recognizer to out.
func (g *gate) feed(out []audio.Frame, f audio.Frame, pos time.Duration, voice bool) []audio.Frame {
	if voice {
		g.until = pos + g.tail
		if !g.open {
			g.open = true
			for i := range g.n {
				k := (g.head - g.n + i + len(g.ring)) % len(g.ring)
				out = append(out, g.ring[k])
				g.fed += g.ring[k].Duration()
				g.ring[k] = audio.Frame{}
			}
			g.n = 0
		}
	}
	if g.open && pos <= g.until {
		g.fed += f.Duration()
		return append(out, f)
	}
	g.open = false
	g.ring[g.head] = f
	g.head = (g.head + 1) % len(g.ring)
	g.n = min(g.n+1, len(g.ring))
	return out
}
