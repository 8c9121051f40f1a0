package campaign

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outcall/outcall/internal/redistest"
)

// flushScripts empties the server's script cache before every pipeline, as a failover to a replica that never
// saw SCRIPT LOAD, or a restart, does between Load's SCRIPT LOAD and its EVALSHAs.
type flushScripts struct{ admin *redis.Client }

func (flushScripts) DialHook(next redis.DialHook) redis.DialHook { return next }
func (flushScripts) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return next
}
func (f flushScripts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := f.admin.ScriptFlush(ctx).Err(); err != nil {
			return err
		}
		return next(ctx, cmds)
	}
}

// TestLoadAfterTheScriptCacheIsLost: Load failed with "NOSCRIPT No matching script" when the node had lost its
// script cache (seen after a cluster failover); it now sends the script's body and loads every contact once.
func TestLoadAfterTheScriptCacheIsLost(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	rdb.AddHook(flushScripts{admin: srv.Client(t)})
	store := NewStore(rdb, "noscript")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	contacts := contactsN(1500) // two pipelines
	n, err := store.Load(ctx, contacts, time.Now())
	if err != nil || n != len(contacts) {
		t.Fatalf("Load = %d, %v; want %d, nil", n, err, len(contacts))
	}
	if n, err := store.Load(ctx, contacts, time.Now()); err != nil || n != 0 {
		t.Fatalf("second Load = %d, %v; want 0 (idempotent), nil", n, err)
	}
	p, err := store.Progress(ctx)
	if err != nil || p.Pending != int64(len(contacts)) {
		t.Fatalf("progress %+v, %v; want %d pending", p, err, len(contacts))
	}
}
