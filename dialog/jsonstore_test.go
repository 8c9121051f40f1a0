package dialog_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/internal/redistest"
	"github.com/outcall/outcall/pkg/store"
)

// roundTrips counts commands and pipelines sent to Redis: each is one network round trip.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

func loadFinance(t *testing.T) *dialog.Script {
	t.Helper()
	s, err := dialog.LoadFile("../examples/finance-overdue/script.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func stores(t *testing.T) map[string]func() dialog.Store {
	srv := redistest.Start(t)
	mem := store.NewMemory()
	return map[string]func() dialog.Store{
		// Each call of "memory" is another view of one store, as each of "redis" is another client of one server.
		"memory": func() dialog.Store { return dialog.NewStore(mem) },
		"redis": func() dialog.Store {
			return dialog.NewStore(store.NewRedis(srv.Client(t), store.RedisConfig{TTL: time.Hour}))
		},
	}
}

// runTurn steps the conversation and saves the turn, as dialog.Run does.
func runTurn(t *testing.T, st dialog.Store, c *dialog.Conversation, prev dialog.Reply, in dialog.Input) dialog.Reply {
	t.Helper()
	r, err := c.Step(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveTurn(t.Context(), c.State(), dialog.TurnOf(prev, in, r, c.State(), time.Now())); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestJSONStoreResumeAndJournal(t *testing.T) {
	s := loadFinance(t)
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk()
			ctx := t.Context()
			if _, err := st.Load(ctx, "c1"); !errors.Is(err, dialog.ErrNotFound) {
				t.Fatalf("Load of unknown call: %v", err)
			}
			vars := map[string]any{"name": "李四", "overdue_days": 10, "amount": 2000.0}
			c, open, err := dialog.Start(s, "c1", vars, dialog.Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := runTurn(t, st, c, open, dialog.Say("我会尽快处理"))
			if r.Node != "ask_promise" {
				t.Fatalf("node %q", r.Node)
			}
			// Another process (for Redis: another client, another connection) loads the state and continues
			// from its node.
			st = mk()
			saved, err := st.Load(ctx, "c1")
			if err != nil {
				t.Fatal(err)
			}
			c2, err := dialog.Resume(s, saved, dialog.Options{})
			if err != nil {
				t.Fatal(err)
			}
			r2 := runTurn(t, st, c2, r, dialog.Say("明天还1500"))
			r2 = runTurn(t, st, c2, r2, dialog.Say("对的")) // the read-back before the promise
			if !r2.Done || c2.State().Outcome.Node != "promise" || c2.State().Slots["pay_amount"] != 1500.0 {
				t.Fatalf("resumed call: %+v slots %v", r2, c2.State().Slots)
			}
			// The first process is now stale: its next write is refused.
			if _, err := c.Step(ctx, dialog.Say("明天还")); err != nil {
				t.Fatal(err)
			}
			err = st.SaveTurn(ctx, c.State(), dialog.Turn{Seq: c.State().Turn})
			if !errors.Is(err, dialog.ErrConflict) {
				t.Fatalf("stale writer: %v", err)
			}
			j, err := st.Journal(ctx, "c1")
			if err != nil {
				t.Fatal(err)
			}
			if len(j) != 3 || j[0].Transcript != "我会尽快处理" || j[1].Slots["pay_amount"] != 1500.0 || j[1].NextNode != "promise" {
				t.Fatalf("journal: %+v", j)
			}
			type outcomer interface {
				Outcome(context.Context, string) (dialog.Outcome, error)
			}
			o, err := st.(outcomer).Outcome(ctx, "c1")
			if err != nil || !o.Has("promise_to_pay") {
				t.Fatalf("outcome %+v %v", o, err)
			}
		})
	}
}

func TestJSONStoreOneRedisRoundTripPerTurn(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	h := &roundTrips{}
	// Warm the connection: its handshake (HELLO, CLIENT SETINFO) is not part of a turn.
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	c.AddHook(h)
	rs := store.NewRedis(c, store.RedisConfig{TTL: 90 * time.Second, MaxJournal: 100})
	st := dialog.NewStore(rs)
	s := loadFinance(t)
	conv, open, err := dialog.Start(s, "rt-1", map[string]any{"name": "王", "overdue_days": 5, "amount": 900.0}, dialog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	prev := open
	for i, in := range []dialog.Input{dialog.Say("什么"), dialog.Silence(), dialog.Say("好的分期吧"), dialog.Say("下周一"), dialog.Say("对的")} {
		before := h.n.Load()
		prev = runTurn(t, st, conv, prev, in)
		if d := h.n.Load() - before; d != 1 {
			t.Fatalf("turn %d took %d round trips", i, d)
		}
	}
	if !conv.Done() {
		t.Fatalf("not done at %s", conv.State().Node)
	}
	ttl, err := rs.TTL(t.Context(), "rt-1")
	if err != nil || ttl <= 0 || ttl > 90*time.Second {
		t.Fatalf("ttl %v %v", ttl, err)
	}
	keys, err := c.Keys(t.Context(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if want := "outcall:dialog:{rt-1}:"; len(k) < len(want) || k[:len(want)] != want {
			t.Errorf("key %q lacks the {callID} hash tag", k)
		}
	}
	if len(keys) != 3 {
		t.Errorf("keys %v", keys)
	}
}

func TestJSONStoreConcurrentWriters(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk()
			const calls, turns, writers = 8, 20, 3
			var wg sync.WaitGroup
			var won, lost atomic.Int64
			for w := 0; w < writers; w++ {
				for c := 0; c < calls; c++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						id := fmt.Sprintf("cc-%d", c)
						for turn := 1; turn <= turns; turn++ {
							s := &dialog.State{CallID: id, Node: "n", Turn: turn, Vars: map[string]any{"w": w}}
							err := st.SaveTurn(context.Background(), s, dialog.Turn{Seq: turn, Transcript: fmt.Sprint(w)})
							switch {
							case err == nil:
								won.Add(1)
							case errors.Is(err, dialog.ErrConflict):
								lost.Add(1)
							default:
								t.Error(err)
								return
							}
						}
					}()
				}
			}
			wg.Wait()
			// Every turn number is written exactly once per call, whoever won it, and the journal holds exactly the
			// accepted writes in turn order.
			if won.Load() != calls*turns || won.Load()+lost.Load() != calls*turns*writers {
				t.Fatalf("won %d lost %d", won.Load(), lost.Load())
			}
			for c := 0; c < calls; c++ {
				id := fmt.Sprintf("cc-%d", c)
				j, err := st.Journal(t.Context(), id)
				if err != nil {
					t.Fatal(err)
				}
				if len(j) != turns {
					t.Fatalf("%s journal has %d turns", id, len(j))
				}
				for i, tr := range j {
					if tr.Seq != i+1 {
						t.Fatalf("%s journal[%d].Seq = %d", id, i, tr.Seq)
					}
				}
				s, err := st.Load(t.Context(), id)
				if err != nil || s.Turn != turns {
					t.Fatalf("%s state turn %v %v", id, s, err)
				}
			}
		})
	}
}

func TestJSONStoreBadInput(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			if err := mk().SaveTurn(t.Context(), &dialog.State{}, dialog.Turn{}); err == nil {
				t.Fatal("state without call id accepted")
			}
		})
	}
}
