package tts_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/ttstest"
	"github.com/outcall/outcall/tts/ttstest/modem"
)

func readAll(t testing.TB, src audio.Source) []int16 {
	t.Helper()
	var pcm []int16
	for {
		f, err := src.Read(context.Background())
		if err == io.EOF {
			return pcm
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		pcm = append(pcm, f.Samples...)
	}
}

func TestCacheHitMiss(t *testing.T) {
	ctx := context.Background()
	next := &ttstest.Synthesizer{}
	c := tts.NewCache(next, tts.CacheConfig{Provider: "fake"})
	r := tts.Request{Text: "您好，这里是客服中心。", Rate: 8000}
	first := readAll(t, must(c.Synthesize(ctx, r)))
	second := readAll(t, must(c.Synthesize(ctx, r)))
	if next.Calls() != 1 {
		t.Errorf("wrapped Synthesizer called %d times, want 1", next.Calls())
	}
	if !slices.Equal(first, second) {
		t.Error("cached audio differs from the rendering")
	}
	if got, err := modem.Decode(second, 8000); err != nil || got != r.Text {
		t.Errorf("cached audio decodes to %q, %v", got, err)
	}
	// Same text, other rate, speed or language: other entries. Defaults spelled out: the same entry.
	for _, o := range []tts.Request{
		{Text: r.Text, Rate: 16000},
		{Text: r.Text, Rate: 8000, Speed: 1.2},
		{Text: r.Text, Rate: 8000, Language: "en"},
		{Text: r.Text, Rate: 8000, Voice: "other"},
	} {
		readAll(t, must(c.Synthesize(ctx, o)))
	}
	readAll(t, must(c.Synthesize(ctx, tts.Request{Text: r.Text, Rate: 8000, Language: "zh", Speed: 1})))
	st := c.Stats()
	if st.Hits != 2 || st.Misses != 5 || st.Entries != 5 || next.Calls() != 5 {
		t.Errorf("stats %+v, calls %d; want 2 hits, 5 misses, 5 entries", st, next.Calls())
	}
	if c.Key(r) == c.Key(tts.Request{Text: r.Text + " ", Rate: 8000}) {
		t.Error("keys of different texts collide")
	}
}

func TestCacheIncompleteNotStored(t *testing.T) {
	ctx := context.Background()
	next := &ttstest.Synthesizer{FailAfter: 5}
	c := tts.NewCache(next, tts.CacheConfig{})
	r := tts.Request{Text: "this rendering fails half way", Rate: 8000}
	src := must(c.Synthesize(ctx, r))
	var err error
	for err == nil {
		_, err = src.Read(ctx)
	}
	if !errors.Is(err, ttstest.ErrInjected) {
		t.Fatalf("Read: %v", err)
	}
	// A source the caller abandons is not stored either.
	ok := &ttstest.Synthesizer{}
	c2 := tts.NewCache(ok, tts.CacheConfig{})
	src = must(c2.Synthesize(ctx, r))
	_, _ = src.Read(ctx)
	_ = src.(io.Closer).Close()
	if c.Stats().Entries != 0 || c2.Stats().Entries != 0 {
		t.Errorf("entries %d, %d; want failed and abandoned renderings left out", c.Stats().Entries, c2.Stats().Entries)
	}
	if _, err := tts.NewCache(&ttstest.Synthesizer{Err: io.ErrUnexpectedEOF}, tts.CacheConfig{}).Synthesize(ctx, r); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("wrapped error: %v", err)
	}
}

func TestCacheEviction(t *testing.T) {
	ctx := context.Background()
	next := &ttstest.Synthesizer{}
	one := int64(2 * len(must(ttstest.Render("prompt 0", 8000))))
	c := tts.NewCache(next, tts.CacheConfig{MaxBytes: 3 * one})
	req := func(i int) tts.Request { return tts.Request{Text: "prompt " + string(rune('0'+i)), Rate: 8000} }
	for i := range 3 {
		readAll(t, must(c.Synthesize(ctx, req(i))))
	}
	readAll(t, must(c.Synthesize(ctx, req(0)))) // 0 is now most recent; 1 is the oldest
	readAll(t, must(c.Synthesize(ctx, req(3)))) // evicts 1
	st := c.Stats()
	if st.Entries != 3 || st.Evictions != 1 || st.Bytes > 3*one {
		t.Fatalf("stats %+v", st)
	}
	calls := next.Calls()
	readAll(t, must(c.Synthesize(ctx, req(0))))
	readAll(t, must(c.Synthesize(ctx, req(2))))
	if next.Calls() != calls {
		t.Error("recent entries were evicted")
	}
	readAll(t, must(c.Synthesize(ctx, req(1))))
	if next.Calls() != calls+1 {
		t.Error("least recently used entry was not evicted")
	}
	// An entry larger than the whole budget is played but not kept.
	big := tts.NewCache(next, tts.CacheConfig{MaxBytes: one / 2})
	readAll(t, must(big.Synthesize(ctx, req(0))))
	if big.Stats().Entries != 0 {
		t.Error("oversized entry kept")
	}
}

func TestPrewarmErrors(t *testing.T) {
	c := tts.NewCache(&ttstest.Synthesizer{FailAfter: 2}, tts.CacheConfig{})
	err := c.Prewarm(context.Background(), []tts.Request{{Text: "a long enough prompt"}, {Text: "another prompt"}})
	if !errors.Is(err, ttstest.ErrInjected) {
		t.Fatalf("Prewarm: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Prewarm(ctx, []tts.Request{{Text: "x"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Prewarm: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// BenchmarkCacheHitFirstFrame measures a memory hit: from Synthesize to the first 20 ms frame in hand.
func BenchmarkCacheHitFirstFrame(b *testing.B) {
	ctx := context.Background()
	c := tts.NewCache(&ttstest.Synthesizer{}, tts.CacheConfig{})
	r := tts.Request{Text: "您好，这里是某某银行信用卡中心，请问您是张先生吗？", Rate: 16000}
	readAll(b, must(c.Synthesize(ctx, r)))
	b.ReportAllocs()
	for b.Loop() {
		src, _ := c.Synthesize(ctx, r)
		if _, err := src.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCacheConcurrent: many callers at once on a few prompts, with eviction churn, get the right audio.
func TestCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	one := int64(2 * len(must(ttstest.Render("prompt 0", 8000))))
	c := tts.NewCache(&ttstest.Synthesizer{}, tts.CacheConfig{MaxBytes: 2 * one})
	errs := make(chan error, 16)
	for g := range 16 {
		go func() {
			for i := range 20 {
				r := tts.Request{Text: "prompt " + string(rune('0'+(g+i)%4)), Rate: 8000}
				src, err := c.Synthesize(ctx, r)
				if err != nil {
					errs <- err
					return
				}
				var pcm []int16
				for {
					f, err := src.Read(ctx)
					if err != nil {
						break
					}
					pcm = append(pcm, f.Samples...)
				}
				if got, err := modem.Decode(pcm, 8000); err != nil || got != r.Text {
					errs <- errors.Join(err, errors.New("got "+got+", want "+r.Text))
					return
				}
			}
			errs <- nil
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if st := c.Stats(); st.Hits+st.Misses != 320 || st.Bytes > 2*one || st.Evictions == 0 {
		t.Errorf("stats %+v", st)
	}
}
