package outbound_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/internal/redistest"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/outbound"
	"github.com/outcall/outcall/pkg/outbound/outboundtest"
)

// TestNoNumberLeaks runs a campaign the way a user does — contacts from a CSV without an id column, real-looking
// numbers, Redis, debug logs — and looks for the numbers everywhere they could end up: every file written (report,
// CSV, recordings and their names), every line printed or logged, every Redis key. Contact ids used to default to
// the number, which then appeared in calls.csv, the report, recording names, call ids in logs and Redis keys.
func TestNoNumberLeaks(t *testing.T) {
	numbers := []string{"13912345678", "18687654321", "15011223344"}
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	env := outbound.Simulated(outbound.Asterisk)
	env.RedisURL = srv.URL()
	dir := t.TempDir()
	contacts := filepath.Join(dir, "contacts.csv")
	csv := "phone,name\n" + numbers[0] + ",张三\n" + numbers[1] + ",李四\n" + numbers[2] + ",王五\n"
	if err := os.WriteFile(contacts, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	app := outbound.App{Name: "leak", Script: []byte(testScript), ScriptFile: "t.yaml",
		Callees: map[string]callee.Script{
			numbers[0]: outbound.Person("喂", "可以"),
			numbers[1]: outbound.Busy(),
			numbers[2]: outbound.Person("喂", "我要转人工"),
		}}
	// Every key written during the run, including those that live only while a call does (keyspace events).
	if err := rdb.ConfigSet(context.Background(), "notify-keyspace-events", "KEA").Err(); err != nil {
		t.Fatal(err)
	}
	sub := rdb.PSubscribe(context.Background(), "__keyevent@*__:*")
	defer sub.Close()
	if _, err := sub.Receive(context.Background()); err != nil { // the subscription is confirmed
		t.Fatal(err)
	}
	touched := map[string]bool{}
	seenEnd, collected := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(collected)
		for m := range sub.Channel() {
			touched[m.Payload] = true
			if m.Payload == "leak-test:end" {
				close(seenEnd)
			}
		}
	}()
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	unlock := outboundtest.Lock()
	res, err := app.Run(ctx, env, outbound.Options{Out: out, Contacts: contacts, Verbose: true}, &stdout, &stderr)
	unlock()
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if len(res.Records) != 3 || res.Records[0].Outcome != "confirmed" || res.Records[2].Outcome != "transferred" {
		t.Fatalf("records %+v", res.Records)
	}
	if !strings.Contains(stderr.String(), "DBG") {
		t.Fatal("no debug logs to look through")
	}
	leaks := func(where, text string) {
		t.Helper()
		for _, n := range numbers {
			if strings.Contains(text, n) {
				i := strings.Index(text, n)
				t.Errorf("%s holds %s: …%s…", where, n, text[max(0, i-60):min(len(text), i+len(n)+20)])
			}
		}
	}
	leaks("stdout", stdout.String())
	leaks("the logs", stderr.String())
	files := 0
	err = filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		leaks("file name "+path, path)
		b, err := os.ReadFile(path)
		leaks(path, string(b))
		return err
	})
	if err != nil || files < 4 { // report.html, calls.csv and two recordings at least
		t.Errorf("%d files, %v", files, err)
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("redis keys: %v %v", keys, err)
	}
	// A last key written after the run: once its event arrives, every event of the run has.
	if err := rdb.Set(ctx, "leak-test:end", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-seenEnd:
	case <-ctx.Done():
		t.Fatal("the keyspace events did not arrive")
	}
	_ = sub.Close()
	<-collected
	for k := range touched {
		keys = append(keys, k)
	}
	if !slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, "outcall:live:") }) {
		t.Error("no live-call lock key was seen: the keyspace events missed the calls")
	}
	leaks("the Redis keys", strings.Join(keys, "\n"))
}
