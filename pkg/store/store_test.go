package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/outcall/outcall/internal/redistest"
)

// backend is what both stores offer.
type backend interface {
	Save(ctx context.Context, callID string, turn int, state, entry, outcome []byte) (bool, error)
	Load(ctx context.Context, callID string) ([]byte, bool, error)
	Journal(ctx context.Context, callID string) ([][]byte, error)
	Outcome(ctx context.Context, callID string) ([]byte, bool, error)
}

func backends(t *testing.T) map[string]backend {
	return map[string]backend{
		"memory":        NewMemory(),
		"redis":         NewRedis(redistest.Start(t).Client(t), RedisConfig{TTL: time.Hour}),
		"redis-cluster": NewRedis(redistest.StartCluster(t, 3).Client(t), RedisConfig{TTL: time.Hour}),
	}
}

func TestStoreFencingJournalOutcome(t *testing.T) {
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			if _, ok, err := b.Load(ctx, "c1"); ok || err != nil {
				t.Fatalf("Load of an unknown call: found %v, %v", ok, err)
			}
			if j, err := b.Journal(ctx, "c1"); len(j) != 0 || err != nil {
				t.Fatalf("Journal of an unknown call: %q, %v", j, err)
			}
			state := []byte(`{"node":"a"}`)
			if ok, err := b.Save(ctx, "c1", 1, state, []byte("t1"), nil); !ok || err != nil {
				t.Fatalf("first save: %v %v", ok, err)
			}
			state[2] = 'X' // the caller's buffer is not the stored one
			if ok, err := b.Save(ctx, "c1", 2, []byte(`{"node":"b"}`), nil, nil); !ok || err != nil {
				t.Fatalf("save without a journal entry: %v %v", ok, err)
			}
			if _, ok, _ := b.Outcome(ctx, "c1"); ok {
				t.Fatal("outcome of a running call")
			}
			if ok, err := b.Save(ctx, "c1", 3, []byte(`{"node":"c"}`), []byte("t3"), []byte("done")); !ok || err != nil {
				t.Fatalf("last save: %v %v", ok, err)
			}
			for _, turn := range []int{3, 2} { // the same turn again, an older one: refused, nothing changes
				if ok, err := b.Save(ctx, "c1", turn, []byte(`{"node":"stale"}`), []byte("stale"), []byte("stale")); ok || err != nil {
					t.Fatalf("stale save of turn %d: stored %v, %v", turn, ok, err)
				}
			}
			got, ok, err := b.Load(ctx, "c1")
			if !ok || err != nil || string(got) != `{"node":"c"}` {
				t.Fatalf("Load: %q %v %v", got, ok, err)
			}
			j, err := b.Journal(ctx, "c1")
			if err != nil || len(j) != 2 || string(j[0]) != "t1" || string(j[1]) != "t3" {
				t.Fatalf("Journal: %q %v", j, err)
			}
			o, ok, err := b.Outcome(ctx, "c1")
			if !ok || err != nil || string(o) != "done" {
				t.Fatalf("Outcome: %q %v %v", o, ok, err)
			}
		})
	}
}

func TestStoreRejectsNoCallID(t *testing.T) {
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			if ok, err := b.Save(t.Context(), "", 1, []byte("{}"), nil, nil); ok || !errors.Is(err, ErrNoCallID) {
				t.Fatalf("save without a call id: %v %v", ok, err)
			}
		})
	}
}
