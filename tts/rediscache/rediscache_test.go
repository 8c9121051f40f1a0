package rediscache_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/outcall/outcall/internal/redistest"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/rediscache"
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

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestCacheRedisAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	reqs := []tts.Request{
		{Text: "您好，请问是张先生吗？", Rate: 8000},
		{Text: "Thank you for your time.", Language: "en", Rate: 16000},
		{Text: "再见。", Rate: 8000},
	}
	a := tts.NewCache(&ttstest.Synthesizer{}, tts.CacheConfig{Shared: rediscache.New(rdb, rediscache.Config{TTL: time.Hour}), Provider: "fake"})
	if err := a.Prewarm(ctx, reqs); err != nil {
		t.Fatal(err)
	}
	if st := a.Stats(); st.Misses != 3 || st.Entries != 3 {
		t.Errorf("after Prewarm: %+v", st)
	}
	keys, err := rdb.Keys(ctx, "outcall:tts:*").Result()
	if err != nil || len(keys) != 3 {
		t.Fatalf("Redis keys %v, %v; want 3", keys, err)
	}
	if ttl := rdb.TTL(ctx, keys[0]).Val(); ttl <= 50*time.Minute || ttl > time.Hour {
		t.Errorf("TTL %v, want about 1h", ttl)
	}
	// A second process: a new cache whose provider is down still plays every prompt, from Redis.
	down := &ttstest.Synthesizer{Err: errors.New("provider down")}
	b := tts.NewCache(down, tts.CacheConfig{Shared: rediscache.New(rdb, rediscache.Config{TTL: time.Hour}), Provider: "fake"})
	for _, r := range reqs {
		got, err := modem.Decode(readAll(t, must(b.Synthesize(ctx, r))), r.Rate)
		if err != nil || got != r.Text {
			t.Errorf("from Redis: %q, %v; want %q", got, err, r.Text)
		}
	}
	readAll(t, must(b.Synthesize(ctx, reqs[0])))
	if st := b.Stats(); st.SharedHits != 3 || st.Hits != 1 || st.Misses != 0 || down.Calls() != 0 {
		t.Errorf("second cache: %+v, provider calls %d", st, down.Calls())
	}
	// Another provider name never shares entries.
	other := tts.NewCache(&ttstest.Synthesizer{}, tts.CacheConfig{Shared: rediscache.New(rdb, rediscache.Config{}), Provider: "other"})
	readAll(t, must(other.Synthesize(ctx, reqs[0])))
	if st := other.Stats(); st.Misses != 1 {
		t.Errorf("other provider: %+v", st)
	}
	// A corrupt value is ignored and replaced by a fresh rendering.
	if err := rdb.Set(ctx, keys[0], "garbage", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c := tts.NewCache(&ttstest.Synthesizer{}, tts.CacheConfig{Shared: rediscache.New(rdb, rediscache.Config{}), Provider: "fake"})
	for _, r := range reqs {
		readAll(t, must(c.Synthesize(ctx, r)))
	}
	if st := c.Stats(); st.SharedHits != 2 || st.Misses != 1 || st.SharedErrors != 1 {
		t.Errorf("with a corrupt value: %+v", st)
	}
}

func TestCacheRedisDown(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	srv.Kill()
	next := &ttstest.Synthesizer{}
	c := tts.NewCache(next, tts.CacheConfig{Shared: rediscache.New(rdb, rediscache.Config{}), SharedTimeout: 100 * time.Millisecond})
	r := tts.Request{Text: "Redis is down but the call goes on", Rate: 8000}
	for range 2 {
		got, err := modem.Decode(readAll(t, must(c.Synthesize(ctx, r))), 8000)
		if err != nil || got != r.Text {
			t.Fatalf("%q, %v", got, err)
		}
	}
	if st := c.Stats(); st.Hits != 1 || st.Misses != 1 || st.SharedErrors < 2 {
		t.Errorf("stats %+v", st)
	}
}

// BenchmarkCacheRedisHitFirstFrame measures a Redis hit (a fresh process) on a local redis-server.
func BenchmarkCacheRedisHitFirstFrame(b *testing.B) {
	ctx := context.Background()
	srv := redistest.Start(b)
	rdb := srv.Client(b)
	r := tts.Request{Text: "您好，这里是某某银行信用卡中心，请问您是张先生吗？", Rate: 16000}
	if err := tts.NewCache(&ttstest.Synthesizer{}, tts.CacheConfig{Shared: rediscache.New(rdb, rediscache.Config{})}).Prewarm(ctx, []tts.Request{r}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c := tts.NewCache(&ttstest.Synthesizer{}, tts.CacheConfig{Shared: rediscache.New(rdb, rediscache.Config{}), MaxBytes: -1})
		src, _ := c.Synthesize(ctx, r)
		if _, err := src.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
