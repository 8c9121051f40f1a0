package asr

import (
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// SegmenterConfig configures a Segmenter.
type SegmenterConfig struct {
	VAD          audio.VADConfig // the voice activity detector's settings; default: audio.NewVAD's defaults
	PreRoll      time.Duration   // audio kept before the detected start of speech; default 300ms
	PostRoll     time.Duration   // audio kept after the detected end of speech (at most the VAD's hangover); default 200ms
	MinUtterance time.Duration   // speech shorter than this is dropped as noise; default 200ms
	MaxUtterance time.Duration   // longer speech is cut into pieces of this length; default 15s
}

// Utterance is one stretch of speech cut out of a stream, with its place in the stream.
type Utterance struct {
	Rate       int
	Samples    []int16       // PCM16 mono at Rate, pre- and post-roll included
	Start, End time.Duration // offsets of Samples' first and last sample from the stream's first frame
}

// Segmenter cuts a stream of frames into utterances with a VAD, for engines that recognise whole utterances (such
// as OpenAI transcription). It keeps at most PreRoll plus a detection margin of audio while nobody speaks. Not safe
// for concurrent use.
type Segmenter struct {
	cfg  SegmenterConfig
	vad  *audio.VAD
	rate int

	buf      []int16 // audio from bufStart on
	bufStart int64   // sample position of buf[0]
	pos      int64   // samples seen
	speaking bool
	uttStart int64 // sample position where the current utterance's audio begins
	speechAt int64 // sample position where the VAD put the start of speech
}

// keepMargin is audio kept beyond PreRoll while silent: the VAD dates a start back to the beginning of the run of
// voiced frames that led to it, which may begin well before it is confirmed.
const keepMargin = 2 * time.Second

// NewSegmenter returns a Segmenter with c's zero fields set to their defaults.
func NewSegmenter(c SegmenterConfig) *Segmenter {
	if c.PreRoll <= 0 {
		c.PreRoll = 300 * time.Millisecond
	}
	if c.PostRoll <= 0 {
		c.PostRoll = 200 * time.Millisecond
	}
	if c.MinUtterance <= 0 {
		c.MinUtterance = 200 * time.Millisecond
	}
	if c.MaxUtterance <= 0 {
		c.MaxUtterance = 15 * time.Second
	}
	return &Segmenter{cfg: c, vad: audio.NewVAD(c.VAD)}
}

// Speaking reports whether an utterance is in progress.
func (s *Segmenter) Speaking() bool { return s.speaking }

// Push adds one frame and returns an utterance if the frame completed one. A change of rate ends the utterance in
// progress (dropped) and starts afresh.
func (s *Segmenter) Push(f audio.Frame) (Utterance, bool) {
	if len(f.Samples) == 0 || f.Rate <= 0 {
		return Utterance{}, false
	}
	if f.Rate != s.rate {
		*s = Segmenter{cfg: s.cfg, vad: audio.NewVAD(s.cfg.VAD), rate: f.Rate}
	}
	fm := audio.Format{Rate: s.rate}
	s.buf = append(s.buf, f.Samples...)
	s.pos += int64(len(f.Samples))
	ev, ok := s.vad.Process(f)
	if ok && ev.Kind == audio.SpeechStart && !s.speaking {
		s.speaking = true
		s.speechAt = int64(fm.Samples(ev.At))
		s.uttStart = max(s.speechAt-int64(fm.Samples(s.cfg.PreRoll)), s.bufStart)
		s.trim(s.uttStart)
		return Utterance{}, false
	}
	if ok && ev.Kind == audio.SpeechEnd && s.speaking {
		s.speaking = false
		voiceEnd := int64(fm.Samples(ev.At))
		end := min(voiceEnd+int64(fm.Samples(s.cfg.PostRoll)), s.pos)
		u, keep := s.cut(end, voiceEnd-s.speechAt >= int64(fm.Samples(s.cfg.MinUtterance)))
		s.trim(end)
		return u, keep
	}
	if s.speaking {
		if s.pos-s.uttStart >= int64(fm.Samples(s.cfg.MaxUtterance)) {
			u, _ := s.cut(s.pos, true)
			s.uttStart, s.speechAt = s.pos, s.pos
			s.trim(s.pos)
			return u, true
		}
		return Utterance{}, false
	}
	// While silent, trim only when the buffer holds twice what it must keep, so the copying is amortised.
	if keep := int64(fm.Samples(s.cfg.PreRoll + keepMargin)); s.pos-s.bufStart > 2*keep {
		s.trim(s.pos - keep)
	}
	return Utterance{}, false
}

// Flush ends the stream: it returns the utterance in progress, if any is long enough, and resets the Segmenter.
func (s *Segmenter) Flush() (Utterance, bool) {
	var u Utterance
	var ok bool
	if s.speaking {
		u, ok = s.cut(s.pos, s.pos-s.speechAt >= int64(audio.Format{Rate: s.rate}.Samples(s.cfg.MinUtterance)))
	}
	*s = Segmenter{cfg: s.cfg, vad: audio.NewVAD(s.cfg.VAD)}
	return u, ok
}

// cut copies the audio from the utterance start to end.
func (s *Segmenter) cut(end int64, keep bool) (Utterance, bool) {
	if !keep || end <= s.uttStart {
		return Utterance{}, false
	}
	fm := audio.Format{Rate: s.rate}
	a, b := s.uttStart-s.bufStart, end-s.bufStart
	u := Utterance{
		Rate:    s.rate,
		Samples: append([]int16(nil), s.buf[a:b]...),
		Start:   fm.Duration(int(s.uttStart)),
		End:     fm.Duration(int(end)),
	}
	return u, true
}

// trim drops buffered audio before sample position p.
func (s *Segmenter) trim(p int64) {
	if p <= s.bufStart {
		return
	}
	n := min(p-s.bufStart, int64(len(s.buf)))
	// Shift in place rather than reslice, so the buffer does not creep through memory.
	s.buf = s.buf[:copy(s.buf, s.buf[n:])]
	s.bufStart += n
}
