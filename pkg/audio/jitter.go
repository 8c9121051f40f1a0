package audio

import "fmt"

// JitterConfig configures a jitter buffer.
type JitterConfig struct {
	FrameSamples  int // samples per packet and per Pop; default: 160 (20 ms at 8 kHz)
	Depth         int // frames buffered before playout starts, the added delay; default: 3 (60 ms)
	Window        int // how far ahead of the playout point (frames) a packet may be; further resynchronises; default: 64
	ConcealFrames int // lost frames concealed by repeating the last frame with a fade, before silence; default: 4
}

// JitterStatus says what a Pop produced.
type JitterStatus int

// Pop results.
const (
	JitterFrame     JitterStatus = iota + 1 // a received frame
	JitterConcealed                         // a lost frame replaced by a faded repeat of the previous one
	JitterSilence                           // silence: still buffering, or a loss longer than ConcealFrames
)

// JitterInfo describes one popped frame.
type JitterInfo struct {
	Status JitterStatus
	Seq    int64 // extended (wrap-free) sequence number of the slot played, counted from the first packet's 16-bit value (so it can go negative for packets reordered before it); 0 while buffering
	TS     int64 // extended RTP timestamp of the slot played, likewise from the first packet's; estimated for concealed frames
}

// JitterStats counts a jitter buffer's packets.
type JitterStats struct {
	Received  uint64 // packets pushed
	Played    uint64 // received frames played
	Late      uint64 // packets that arrived after their slot was played (dropped)
	Duplicate uint64 // packets received twice (dropped)
	Concealed uint64 // lost frames concealed by repetition
	Silenced  uint64 // lost frames played as silence
	Resyncs   uint64 // jumps beyond Window, and restarts after an underrun, that reset the playout point
	Reordered uint64 // packets that arrived after a higher sequence number
}

// JitterBuffer reorders incoming RTP frames by sequence number and plays them out one frame per Pop, concealing
// losses. Sequence numbers (16-bit) and timestamps (32-bit) are extended across wrap-around. It copies pushed
// samples into preallocated slots and allocates nothing per packet. Not safe for concurrent use.
type JitterBuffer struct {
	cfg   JitterConfig
	slots []jitterSlot
	mask  uint64
	pcm   []int16 // slot storage, FrameSamples per slot

	haveSeq   bool
	highSeq   uint64 // highest extended seq received
	highTS    uint64
	started   bool   // playing (Depth reached)
	next      uint64 // extended seq to play next
	playedTo  uint64 // every seq < playedTo has been played or skipped
	lossRun   int
	last      []int16 // last played frame, for concealment
	lastTS    uint64
	buffered  int
	stats     JitterStats
	seqOffset uint64 // added to extended values so they never go below zero
}

type jitterSlot struct {
	valid bool
	seq   uint64
	ts    uint64
}

// NewJitterBuffer returns an empty buffer.
func NewJitterBuffer(cfg JitterConfig) *JitterBuffer {
	if cfg.FrameSamples <= 0 {
		cfg.FrameSamples = 160
	}
	if cfg.Depth <= 0 {
		cfg.Depth = 3
	}
	if cfg.Window <= 0 {
		cfg.Window = 64
	}
	if cfg.Window < cfg.Depth {
		cfg.Window = cfg.Depth
	}
	if cfg.ConcealFrames <= 0 {
		cfg.ConcealFrames = 4
	}
	size := 1
	for size < cfg.Window+1 {
		size <<= 1
	}
	return &JitterBuffer{
		cfg:   cfg,
		slots: make([]jitterSlot, size),
		mask:  uint64(size - 1),
		pcm:   make([]int16, size*cfg.FrameSamples),
		last:  make([]int16, cfg.FrameSamples),
	}
}

// Push stores one packet's decoded samples (at most FrameSamples; a shorter payload is padded with silence).
// Late and duplicate packets are dropped and counted, not reported as errors.
func (j *JitterBuffer) Push(seq uint16, ts uint32, samples []int16) error {
	if len(samples) > j.cfg.FrameSamples {
		return fmt.Errorf("jitter buffer: %d samples in a packet, frame is %d: %w", len(samples), j.cfg.FrameSamples, ErrFormat)
	}
	j.stats.Received++
	var ext, extTS uint64
	if !j.haveSeq {
		// Start high enough that earlier (reordered) packets still extend to positive values.
		ext = 1<<32 + uint64(seq)
		extTS = 1<<40 + uint64(ts)
		j.haveSeq = true
		j.highSeq, j.highTS = ext, extTS
	} else {
		ext = uint64(int64(j.highSeq) + int64(int16(seq-uint16(j.highSeq))))
		extTS = uint64(int64(j.highTS) + int64(int32(ts-uint32(j.highTS))))
		if ext > j.highSeq {
			j.highSeq, j.highTS = ext, extTS
		} else if ext < j.highSeq {
			j.stats.Reordered++
		}
	}
	// A jump of a whole window or more either way from the playout point means the sender restarted or a long
	// outage: start over from this packet.
	if anchor, ok := j.anchor(); ok && (ext+uint64(j.cfg.Window) <= anchor || ext >= anchor+uint64(j.cfg.Window)) {
		j.resync()
		j.highSeq, j.highTS = ext, extTS
	}
	if ext < j.playedTo {
		j.stats.Late++
		return nil
	}
	if !j.started && (j.buffered == 0 || ext < j.next) {
		j.next = ext
	}
	sl := &j.slots[ext&j.mask]
	if sl.valid && sl.seq == ext {
		j.stats.Duplicate++
		return nil
	}
	if sl.valid {
		j.buffered-- // an older, unplayable entry is overwritten
	}
	*sl = jitterSlot{valid: true, seq: ext, ts: extTS}
	buf := j.slotPCM(ext)
	n := copy(buf, samples)
	clear(buf[n:])
	j.buffered++
	if !j.started && j.buffered >= j.cfg.Depth {
		j.started = true
	}
	return nil
}

// anchor is the playout point new packets are judged against: the next slot to play, or, between an underrun and
// the next packet, the slot after the last one played.
func (j *JitterBuffer) anchor() (uint64, bool) {
	if j.started || j.buffered > 0 {
		return j.next, true
	}
	return j.playedTo, j.playedTo > 0
}

func (j *JitterBuffer) slotPCM(ext uint64) []int16 {
	i := int(ext&j.mask) * j.cfg.FrameSamples
	return j.pcm[i : i+j.cfg.FrameSamples]
}

func (j *JitterBuffer) resync() {
	clear(j.slots)
	j.buffered = 0
	j.started = false
	j.playedTo = 0
	j.lossRun = 0
	j.stats.Resyncs++
}

// Pop returns the next frame of exactly FrameSamples samples in dst (resliced; it allocates only when dst is too
// small) and what it is. Call it once per frame time.
func (j *JitterBuffer) Pop(dst []int16) ([]int16, JitterInfo) {
	dst = growInt16(dst, j.cfg.FrameSamples)
	if !j.started {
		clear(dst)
		return dst, JitterInfo{Status: JitterSilence}
	}
	seq := j.next
	j.next++
	j.playedTo = j.next
	sl := &j.slots[seq&j.mask]
	if sl.valid && sl.seq == seq {
		copy(dst, j.slotPCM(seq))
		copy(j.last, dst)
		sl.valid = false
		j.buffered--
		j.lossRun = 0
		j.lastTS = sl.ts
		j.stats.Played++
		return dst, JitterInfo{Status: JitterFrame, Seq: int64(seq) - 1<<32, TS: int64(sl.ts) - 1<<40}
	}
	// Lost (or not yet arrived, which is the same at play time).
	j.lossRun++
	j.lastTS += uint64(j.cfg.FrameSamples)
	info := JitterInfo{Seq: int64(seq) - 1<<32, TS: int64(j.lastTS) - 1<<40}
	if j.lossRun <= j.cfg.ConcealFrames {
		// Repeat the last frame: the first repeat at full level, then fading linearly to silence by the end of
		// frame ConcealFrames.
		g0, g1 := concealGain(j.lossRun-1, j.cfg.ConcealFrames), concealGain(j.lossRun, j.cfg.ConcealFrames)
		for i, v := range j.last {
			g := g0 + (g1-g0)*float64(i+1)/float64(len(j.last))
			dst[i] = int16(float64(v) * g)
		}
		j.stats.Concealed++
		info.Status = JitterConcealed
	} else {
		clear(dst)
		j.stats.Silenced++
		info.Status = JitterSilence
	}
	if j.buffered == 0 && j.lossRun >= j.cfg.ConcealFrames {
		// Underrun with nothing queued: rebuffer to Depth before playing again. The slots concealed since the last
		// real frame never arrived; RTP keeps counting sequence numbers across a silence (only the timestamp jumps),
		// so the next talk spurt starts right after the last packet received. Rewind the playout point to there, so
		// that spurt's first packets are played rather than dropped as late.
		j.next -= uint64(j.lossRun)
		j.playedTo = j.next
		j.lossRun = 0
		j.started = false
		j.stats.Resyncs++
	}
	return dst, info
}

// Stats returns the packet counters.
func (j *JitterBuffer) Stats() JitterStats {
	return j.stats
}

// concealGain is the repeat gain at the end of lost frame k of a run (k = 0 is the last good frame).
func concealGain(k, n int) float64 {
	if k <= 1 || n <= 1 {
		if k <= 1 {
			return 1
		}
		return 0
	}
	return max(0, float64(n-k)/float64(n-1))
}

// Waiting reports whether the next Pop would conceal a frame that may just be late: playout is running, the next
// frame has not arrived and nothing after it has either (a sender that stalled, or one that went quiet). A paced
// reader may hold its Pop for a little while, so that a stalled sender's packets are played rather than dropped.
func (j *JitterBuffer) Waiting() bool {
	if !j.started || j.buffered > 0 {
		return false
	}
	sl := &j.slots[j.next&j.mask]
	return !(sl.valid && sl.seq == j.next)
}

// Buffered returns how many received frames wait to be played.
func (j *JitterBuffer) Buffered() int { return j.buffered }
