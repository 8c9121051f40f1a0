package campaign_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/aritest"
	aridriver "github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/internal/redistest"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/campaign"
)

// redisAddr is the Redis server of the examples, started by TestMain.
var redisAddr string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "campaign-example")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv, err := redistest.Launch(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err) // the examples that need Redis fail; the rest still run
	} else {
		redisAddr = srv.Addr
	}
	code := m.Run()
	if srv != nil {
		srv.Stop()
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// A Runner dials a campaign's contacts from one process; start the same Runner in more processes (another Owner)
// to share the campaign through Redis. Here the PBX is the Asterisk simulator, with one callee who answers and one
// busy line, and the Handler only notes the answer (a real one classifies it and runs dialog.Run).
func ExampleRunner() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr}) // e.g. 127.0.0.1:6379
	defer rdb.Close()

	pbx, err := aritest.New(aritest.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pbx.Close()
	_ = pbx.AddCallee("8613800000001", callee.Script{AnswerAfter: 100 * time.Millisecond})
	_ = pbx.AddCallee("8613800000002", callee.Script{Answer: callee.Busy})
	client, err := ari.New(ari.Config{URL: pbx.URL(), Username: pbx.Username(), Password: pbx.Password(), App: "outcall"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	if err := client.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	drv, err := aridriver.New(client, aridriver.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer drv.Close()

	r, err := campaign.NewRunner(campaign.RunnerConfig{
		Campaign: campaign.Config{ID: fmt.Sprint("reminders-", time.Now().UnixNano()), Endpoint: "PJSIP/{number}@trunk",
			MaxConcurrent: 10, CPS: 5, TimeZone: "Asia/Shanghai", MaxAttempts: 1,
			Windows: []campaign.Window{{Days: campaign.EveryDay, Start: "00:00", End: "24:00"}}},
		Redis: rdb, Dialer: drv, Owner: "worker-1", DNC: campaign.NewMemoryDNC(), Poll: 50 * time.Millisecond,
		Handler: func(ctx context.Context, c call.Call, a campaign.Attempt) (campaign.CallResult, error) {
			return campaign.CallResult{Outcome: "answered"}, nil // the runner hangs up after the handler
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	contacts := []campaign.Contact{{ID: "c1", Phone: "+8613800000001"}, {ID: "c2", Phone: "+8613800000002"}}
	if _, err := r.Store().Load(ctx, contacts, time.Now()); err != nil {
		fmt.Println(err)
		return
	}
	if err := r.Run(ctx); err != nil { // returns once every contact is done
		fmt.Println(err)
		return
	}
	results, err := r.Store().Results(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	sort.Slice(results, func(i, j int) bool { return results[i].Contact < results[j].Contact })
	for _, e := range results {
		fmt.Println(e.Contact, e.Outcome, e.Terminal)
	}
	// Output:
	// c1 answered true
	// c2 busy true
}
