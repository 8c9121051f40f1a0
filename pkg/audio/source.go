package audio

import (
	"context"
	"io"
	"time"
)

// SampleSource is a Source over samples in memory (a WAV file's, a test signal's), served as 20 ms frames; the
// last frame may be shorter. Not safe for concurrent use.
type SampleSource struct {
	format  Format
	samples []int16
	pos     int
}

var _ Source = (*SampleSource)(nil)

// NewSampleSource returns a Source that plays samples at format f.
func NewSampleSource(f Format, samples []int16) *SampleSource {
	return &SampleSource{format: f, samples: samples}
}

// Format returns the source's format.
func (s *SampleSource) Format() Format { return s.format }

// Duration returns the length of the whole source.
func (s *SampleSource) Duration() time.Duration { return s.format.Duration(len(s.samples)) }

// Read returns the next frame (a copy the caller owns), io.EOF after the last, or ctx.Err().
func (s *SampleSource) Read(ctx context.Context) (Frame, error) {
	if err := ctx.Err(); err != nil {
		return Frame{}, err
	}
	n := s.format.FrameSamples()
	if n <= 0 || s.pos >= len(s.samples) {
		return Frame{}, io.EOF
	}
	end := min(s.pos+n, len(s.samples))
	out := make([]int16, end-s.pos)
	copy(out, s.samples[s.pos:end])
	s.pos = end
	return Frame{Rate: s.format.Rate, Samples: out}, nil
}
