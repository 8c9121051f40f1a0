package turn

import (
	"math"
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// echoGuard tells the callee's own voice from the bleed of the bot's prompt back into the callee's audio (a
// hybrid's or a handset's echo), with the Geigel double-talk rule: a callee frame is the callee talking over the
// bot when it is louder than the loudest of the bot's frames sent within the echo tail, less the echo path's loss.
// An echo is the bot's audio delayed and attenuated by at least that loss, so it never passes; a callee as loud as
// the bot does, and one much quieter passes in the bot's pauses. With no frame of the bot's within the tail (no
// reference was given, or the bot is silent) every frame passes.
type echoGuard struct {
	tail   time.Duration
	lossDB float64     // the echo path's least loss
	sent   []sentFrame // a ring of the bot's latest frames
	next   int
}

// sentFrame is one of the bot's frames: when it went out, on the Taker's clock, and how loud it was.
type sentFrame struct {
	at    time.Duration
	level float64 // dBFS RMS
}

func newEchoGuard(tail time.Duration, lossDB float64) *echoGuard {
	n := max(int(tail/audio.FrameDuration), 1) + 2 // the frames of the tail, and those in flight at its ends
	g := &echoGuard{tail: tail, lossDB: lossDB, sent: make([]sentFrame, n)}
	for i := range g.sent {
		g.sent[i] = sentFrame{at: -1 << 62, level: math.Inf(-1)}
	}
	return g
}

// quietDB is the level the bot's quietest frame counts as, silence included: a callee frame within the echo path's
// loss of it (line noise, the tail of the echo of the bot's last word, which a network detector still hears for a
// few windows) is not the callee talking while the bot talks.
const quietDB = -60

// add records the bot's frame of samples as sent at position at.
func (g *echoGuard) add(at time.Duration, samples []int16) {
	g.sent[g.next] = sentFrame{at: at, level: max(audio.MeasureLevel(samples).RMS, quietDB)}
	g.next = (g.next + 1) % len(g.sent)
}

// over reports whether a callee frame of samples, received at position now, is above what the bot's echo can be.
func (g *echoGuard) over(now time.Duration, samples []int16) bool {
	top := math.Inf(-1)
	for _, f := range g.sent {
		if f.at >= now-g.tail-audio.FrameDuration {
			top = max(top, f.level)
		}
	}
	return math.IsInf(top, -1) || audio.MeasureLevel(samples).RMS > top-g.lossDB
}
