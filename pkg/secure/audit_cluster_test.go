package secure

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/outcall/outcall/internal/redistest"
)

// TestAuditChainOnRedisCluster: the chain's stream and head share the {Name} hash tag, so its append script runs
// on one node of a cluster; two processes (clients) append concurrently, the chain verifies, and tampering on the
// node that holds it is caught.
func TestAuditChainOnRedisCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	cfg := AuditConfig{Name: "cluster", Key: []byte("0123456789abcdef-audit")}
	a, err := NewAuditLog(cl.Client(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewAuditLog(cl.Client(t), cfg)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w, log := range []*AuditLog{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if _, err := log.Append(ctx, "dial", fmt.Sprint("w", w), "c", ""); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n, err := a.Verify(ctx); err != nil || n != 100 {
		t.Fatalf("Verify = %d, %v; want 100 entries in one chain", n, err)
	}
	rdb := cl.Client(t)
	msgs, err := rdb.XRangeN(ctx, a.stream, "-", "+", 1).Result()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("first entry: %v, %v", msgs, err)
	}
	if err := rdb.XDel(ctx, a.stream, msgs[0].ID).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(ctx); !errors.Is(err, ErrChainBroken) {
		t.Fatalf("Verify after deleting the first entry = %v, want ErrChainBroken", err)
	}
}
