package audio

import (
	"context"
	"errors"
	"io"
	"testing"
)

func TestSampleSource(t *testing.T) {
	samples := make([]int16, 400) // 2.5 frames at 8 kHz
	for i := range samples {
		samples[i] = int16(i)
	}
	src := NewSampleSource(Narrowband, samples)
	var lens []int
	for {
		f, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.Rate != 8000 || f.Samples[0] != int16(160*len(lens)) {
			t.Fatalf("frame %d: %+v", len(lens), f.Samples[:1])
		}
		f.Samples[0] = -1 // the caller owns the frame
		lens = append(lens, len(f.Samples))
	}
	if len(lens) != 3 || lens[0] != 160 || lens[2] != 80 || samples[160] != 160 {
		t.Fatalf("frames %v", lens)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewSampleSource(Narrowband, samples).Read(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled read: %v", err)
	}
}
