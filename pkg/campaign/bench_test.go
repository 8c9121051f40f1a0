package campaign

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outcall/outcall/internal/redistest"
)

// roundTrips counts commands and pipelines sent to Redis: each is one network round trip.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { r.n.Add(1); return next(ctx, cmd) }
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { r.n.Add(1); return next(ctx, cmds) }
}

var _ = net.IPv4len

// BenchmarkGateAndClaim measures the Redis bookkeeping of one dial on a real redis-server: claim (in batches of
// 100), the standard gates (do-not-call lookup on Redis, window, caps), Begin (CPS bucket) and Complete. One op
// is one contact; the contacts/s figure is the throughput of one process.
func BenchmarkGateAndClaim(b *testing.B) {
	srv := redistest.Start(b)
	rt := &roundTrips{}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	cfg := testCampaign("bench")
	cfg.MaxConcurrent = 1 << 20
	cfg.CPS = 1e9
	camp := cfg.withDefaults()
	cal, _ := NewCalendar(&camp)
	gates := StandardGates(&camp, cal, NewDNC(rdb, "bench"))
	s := NewStore(rdb, cfg.ID)
	ctx := context.Background()
	now := time.Now()
	if _, err := s.Load(ctx, contactsN(b.N), now); err != nil {
		b.Fatal(err)
	}
	rdb.AddHook(rt)
	b.ResetTimer()
	start := time.Now()
	done := 0
	for done < b.N {
		leases, err := s.Claim(ctx, "bench", 100, camp.MaxConcurrent, time.Minute, now)
		if err != nil {
			b.Fatal(err)
		}
		if len(leases) == 0 {
			b.Fatalf("claimed nothing after %d of %d", done, b.N)
		}
		for _, l := range leases {
			d := CheckAll(ctx, gates, Attempt{Contact: l.Contact, Attempts: l.Attempts, Now: now})
			if !d.Allow {
				b.Fatalf("refused: %+v", d)
			}
			if _, err := s.Begin(ctx, l, camp.CPS, "2026-11-23", time.Minute, now); err != nil {
				b.Fatal(err)
			}
			if err := s.Complete(ctx, l, "bench", Completion{Outcome: "completed", Terminal: true, Counted: true}, now); err != nil {
				b.Fatal(err)
			}
			done++
		}
	}
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "contacts/s")
	b.ReportMetric(float64(rt.n.Load())/float64(b.N), "roundtrips/contact")
}
