package dialog_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/internal/redistest"
	"github.com/outcall/outcall/pkg/store"
)

// TestSpoolRedisDownMidCalls: ten calls journal their turns through a Spool over the Redis store; redis-server
// is SIGKILLed after each call's third turn and kept away 10 s (REDIS_DOWN overrides) while the calls take five
// more turns, then restarted on the same port (its append-only file keeps what it acknowledged). The calls end;
// Close flushes; every call's journal holds every turn in order and its state is the last one: 0 turns lost.
func TestSpoolRedisDownMidCalls(t *testing.T) {
	down := 10 * time.Second
	if v := os.Getenv("REDIS_DOWN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("REDIS_DOWN=%q: %v", v, err)
		}
		down = d
	}
	srv := redistest.StartPersistent(t)
	sp := dialog.NewSpool(dialog.NewStore(store.NewRedis(srv.Client(t), store.RedisConfig{TTL: time.Hour})), dialog.SpoolConfig{})
	ctx := context.Background()
	const calls, turns = 10, 12
	var before, during sync.WaitGroup
	before.Add(calls)
	during.Add(calls)
	isDown, isUp := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < calls; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := &dialog.State{CallID: fmt.Sprintf("call-%d", c), Node: "n", Vars: map[string]any{}}
			for turn := 0; turn <= turns; turn++ {
				switch turn {
				case 3:
					before.Done()
					<-isDown
				case 8:
					during.Done()
					<-isUp
				}
				st.Turn = turn
				st.Vars["last"] = turn
				st.Done = turn == turns
				if err := sp.SaveTurn(ctx, st, dialog.Turn{Seq: turn, Input: "utterance", Transcript: fmt.Sprint(turn)}); err != nil {
					t.Errorf("call %d turn %d: %v", c, turn, err)
				}
			}
		}()
	}
	before.Wait()
	srv.Kill()
	wentDown := time.Now()
	close(isDown)
	during.Wait()
	held := sp.Held()
	time.Sleep(time.Until(wentDown.Add(down))) // the outage itself, not a synchronisation
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	close(isUp)
	wg.Wait()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := sp.Close(cctx); err != nil {
		t.Fatal(err)
	}
	direct := dialog.NewStore(store.NewRedis(srv.Client(t), store.RedisConfig{TTL: time.Hour}))
	lost := 0
	for c := 0; c < calls; c++ {
		id := fmt.Sprintf("call-%d", c)
		j, err := direct.Journal(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for i, turn := range j {
			if turn.Seq != i {
				t.Fatalf("call %s journal out of order at %d: %+v", id, i, j)
			}
		}
		lost += turns + 1 - len(j)
		if st, err := direct.Load(ctx, id); err != nil || st.Turn != turns || !st.Done {
			t.Errorf("call %s state %+v, %v; want turn %d, done", id, st, err, turns)
		}
	}
	if lost != 0 {
		t.Errorf("%d turns lost", lost)
	}
	t.Logf("Redis down %v; %d turns held during the outage, all written after it; %d lost", down, held, lost)
}
