package redistest

import (
	"context"
	"fmt"
	"testing"
)

func TestStartServesCommands(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "k").Result()
	if err != nil || got != "v" {
		t.Fatalf("GET k = %q, %v; want v", got, err)
	}
}

func TestClusterServesEverySlotAndMovesOne(t *testing.T) {
	c := StartCluster(t, 3)
	cc := c.Client(t)
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		if err := cc.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	slot, err := c.KeySlot(ctx, "{tag}")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if err := cc.Set(ctx, fmt.Sprintf("{tag}:%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	from, err := c.SlotOwner(ctx, slot)
	if err != nil {
		t.Fatal(err)
	}
	to := (from + 1) % 3
	m, err := c.BeginMove(ctx, slot, to)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := m.Step(ctx, 10); err != nil || n != 10 {
		t.Fatalf("Step = %d, %v; want 10 keys moved", n, err)
	}
	// Mid-move: single-key reads follow ASK to wherever the key is.
	for i := 0; i < 50; i++ {
		if v, err := cc.Get(ctx, fmt.Sprintf("{tag}:%d", i)).Int(); err != nil || v != i {
			t.Fatalf("mid-move GET {tag}:%d = %d, %v", i, v, err)
		}
	}
	if err := m.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if owner, err := c.SlotOwner(ctx, slot); err != nil || owner != to {
		t.Fatalf("slot %d owner = %d, %v; want %d", slot, owner, err, to)
	}
	if n, err := c.node(to).DBSize(ctx).Result(); err != nil || n < 50 {
		t.Fatalf("target holds %d keys, %v; want the 50 moved at least", n, err)
	}
	for i := 0; i < 50; i++ {
		if v, err := cc.Get(ctx, fmt.Sprintf("{tag}:%d", i)).Int(); err != nil || v != i {
			t.Fatalf("after move GET {tag}:%d = %d, %v", i, v, err)
		}
	}
}

func TestRestartKeepsThePort(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	ctx := context.Background()
	s.Kill()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET after restart on %s: %v", s.Addr, err)
	}
}
