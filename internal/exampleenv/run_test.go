package exampleenv

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/internal/redistest"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/campaign"
)

const testScript = `name: t
start: ask
variables: {name: {type: string, required: true}}
intents: [{name: yes, keywords: [可以, 好的]}]
nodes:
  ask:
    say: ["{{.name}}您好,明天可以吗?"]
    routes: [{intent: yes, goto: ok}]
  ok: {say: ["好的,再见。"], end: {tags: [confirmed]}}
`

// TestCampaignOnRedis runs the REDIS_URL path: the contacts go through campaign.Runner (leases, gates, pacing) and
// the dialog journal into Redis, with the same classification and dialog as the in-memory path.
func TestCampaignOnRedis(t *testing.T) {
	defer testLock()()
	srv := redistest.Start(t)
	env := Default()
	env.RedisURL = srv.URL()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	p, err := Open(ctx, env, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Redis == nil {
		t.Fatal("REDIS_URL did not select Redis")
	}
	s, err := dialog.Load([]byte(testScript), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AddCallee("+8613800009001", Person("喂", "可以")); err != nil {
		t.Fatal(err)
	}
	if err := p.AddCallee("+8613800009002", Busy()); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	recs, err := RunCampaign(ctx, p, Campaign{ID: "redis-test", Script: s, OutDir: out, Progress: io.Discard,
		Contacts: []campaign.Contact{{Phone: "+8613800009001", Name: "张三"}, {Phone: "+8613800009002", Name: "李四"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	ok, busy := recs[0], recs[1]
	if ok.Dial != call.Answered || ok.Outcome != "confirmed" || ok.Result == nil || ok.Class == nil || ok.Class.Class != campaign.ClassHuman {
		t.Errorf("first call: %+v", ok)
	}
	if busy.Dial != call.Busy || busy.Outcome != "busy" || busy.Result != nil {
		t.Errorf("second call: %+v", busy)
	}
	// The journal went to Redis.
	turns, err := p.Store.Journal(ctx, ok.Result.CallID)
	if err != nil || len(turns) != 2 {
		t.Errorf("journal in Redis: %d turns, %v", len(turns), err)
	}
	if _, err := os.Stat(ok.Recording); err != nil {
		t.Errorf("recording: %v", err)
	}
	if ok.Contact.ID != "contact-1" {
		t.Errorf("contact ids must not be phone numbers: %q", ok.Contact.ID)
	}
}
