package outbound_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/internal/redistest"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/campaign"
	"github.com/outcall/outcall/pkg/esl"
	"github.com/outcall/outcall/pkg/outbound"
	"github.com/outcall/outcall/pkg/outbound/outboundtest"
	"github.com/outcall/outcall/tts"
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

func loadScript(t *testing.T, src string) *dialog.Script {
	t.Helper()
	s, err := dialog.Load([]byte(src), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCampaignOnRedis runs the REDIS_URL path: the contacts go through campaign.Runner (leases, gates, pacing) and
// the dialog journal into Redis, with the same classification and dialog as the in-memory path. Each call ends when
// it ends: a contact who answers late ends later than one who answers at once, rather than every call getting the
// end time of the campaign (they were all finished after Runner.Run returned).
func TestCampaignOnRedis(t *testing.T) {
	defer outboundtest.Lock()()
	srv := redistest.Start(t)
	env := outbound.Simulated(outbound.Asterisk)
	env.RedisURL = srv.URL()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	p, err := outbound.Open(ctx, env, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Redis == nil {
		t.Fatal("REDIS_URL did not select Redis")
	}
	late := outbound.Person("喂", "可以")
	late.AnswerAfter = 4 * time.Second
	for number, s := range map[string]callee.Script{"+8613800009001": outbound.Person("喂", "可以"),
		"+8613800009002": outbound.Busy(), "+8613800009003": late} {
		if err := p.AddCallee(number, s); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	recs, err := outbound.Run(ctx, p, outbound.Campaign{ID: "redis-test", Script: loadScript(t, testScript), OutDir: out,
		Contacts: []campaign.Contact{{Phone: "+8613800009001", Name: "张三"}, {Phone: "+8613800009002", Name: "李四"},
			{Phone: "+8613800009003", Name: "王五"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	ok, busy, slow := recs[0], recs[1], recs[2]
	for _, r := range []outbound.Record{ok, slow} {
		if r.Dial != call.Answered || r.Outcome != "confirmed" || r.Result == nil || r.Class == nil || r.Class.Class != campaign.ClassHuman {
			t.Errorf("%s: %+v", r.Contact.ID, r)
		}
	}
	if busy.Dial != call.Busy || busy.Outcome != "busy" || busy.Result != nil || busy.CallID != "" {
		t.Errorf("busy call: %+v", busy)
	}
	if t.Failed() {
		t.FailNow()
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
	// The late answerer's call ended about 3.5 s after the prompt one's; with ends stamped after the campaign both
	// were the same instant.
	if gap := slow.End.Sub(ok.End); gap < time.Second {
		t.Errorf("the late call ended %v after the prompt one (%v → %v): ends are the campaign's, not the calls'", gap, ok.End, slow.End)
	}
	for _, r := range []outbound.Record{ok, slow} {
		if last := r.Result.Turns[len(r.Result.Turns)-1].Time; r.End.Before(last) || r.End.Sub(last) > 3*time.Second {
			t.Errorf("%s: ended %v after its last turn", r.Contact.ID, r.End.Sub(last))
		}
	}
}

// recordingDialer keeps every call it placed, and says when one is answered.
type recordingDialer struct {
	call.Dialer
	mu       sync.Mutex
	calls    []call.Call
	answered chan struct{}
}

func (d *recordingDialer) Dial(ctx context.Context, r call.Request) (call.Call, error) {
	c, err := d.Dialer.Dial(ctx, r)
	if err == nil {
		d.mu.Lock()
		d.calls = append(d.calls, c)
		d.mu.Unlock()
		d.answered <- struct{}{}
	}
	return c, err
}

// TestInterruptHangsUpPromptly: when the run's context ends (Ctrl-C) with calls live, they are hung up by the bot —
// the hang-up confirmed by the PBX, whose events connection outlives the run's context — and Run returns the
// context's error within a couple of seconds. (The events socket used to close with the context: each hang-up then
// waited 5 s for a confirmation that could not come, once in the run and again at Close, and the run reported
// success.)
func TestInterruptHangsUpPromptly(t *testing.T) {
	defer outboundtest.Lock()()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := outbound.Open(ctx, outbound.Simulated(outbound.Asterisk), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	// A callee who stays on the line, silent, well past the test.
	stays := callee.Script{Name: "stays", Steps: []callee.Step{{Action: callee.Silence, When: callee.Now, Duration: time.Minute}}}
	const n = 2
	var contacts []campaign.Contact
	for _, number := range []string{"+8613800009201", "+8613800009202"} {
		if err := p.AddCallee(number, stays); err != nil {
			t.Fatal(err)
		}
		contacts = append(contacts, campaign.Contact{Phone: number, Name: "张三"})
	}
	d := &recordingDialer{Dialer: p.Dialer, answered: make(chan struct{}, n)}
	p.Dialer = d
	type result struct {
		recs []outbound.Record
		err  error
	}
	done := make(chan result, 1)
	go func() {
		recs, err := outbound.Run(ctx, p, outbound.Campaign{Script: loadScript(t, testScript), Contacts: contacts, OutDir: t.TempDir()})
		done <- result{recs, err}
	}()
	for range n {
		select {
		case <-d.answered:
		case <-time.After(20 * time.Second):
			t.Fatal("the calls were not answered")
		}
	}
	cancel()
	t0 := time.Now()
	var res result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return 10 s after its context ended")
	}
	if took := time.Since(t0); took > 3*time.Second {
		t.Errorf("Run returned %v after its context ended, want promptly", took)
	}
	if !errors.Is(res.err, context.Canceled) {
		t.Errorf("Run: %v, want context.Canceled", res.err)
	}
	for _, c := range d.calls {
		if !hungUpByBot(c, 2*time.Second) {
			t.Errorf("call %s: no hang-up by the bot confirmed", c.ID())
		}
	}
	t0 = time.Now()
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if took := time.Since(t0); took > 2*time.Second {
		t.Errorf("Close took %v", took)
	}
}

var (
	ariConfig = ari.Config{URL: "http://127.0.0.1:1", App: "outcall"}
	eslConfig = esl.Config{Addr: "127.0.0.1:1", Password: "ClueCon"}
)

// hungUpByBot reports whether c's events end with the bot's hang-up within d.
func hungUpByBot(c call.Call, d time.Duration) bool {
	limit := time.After(d)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				return false
			}
			if ev.Type == call.EventHangup {
				return !ev.Remote
			}
		case <-limit:
			return false
		}
	}
}

// TestOpenFailsCleanly: an unreachable or malformed PBX or Redis is an error naming the setting, never a panic (Open
// used to call Close on its nil result).
func TestOpenFailsCleanly(t *testing.T) {
	cases := []struct {
		name string
		env  func(*outbound.Env)
		want string
	}{
		{"unreachable asterisk", func(e *outbound.Env) {
			e.ARI = &ariConfig
			e.DialEndpoint = "PJSIP/{number}@trunk"
		}, "http://127.0.0.1:1"},
		{"unreachable redis", func(e *outbound.Env) { e.RedisURL = "redis://127.0.0.1:1/0" }, "Redis at 127.0.0.1:1 does not answer"},
		{"malformed redis url", func(e *outbound.Env) { e.RedisURL = "localhost:6379" }, "REDIS_URL"},
		{"unreachable freeswitch", func(e *outbound.Env) {
			e.PBX, e.ESL = outbound.FreeSWITCH, &eslConfig
			e.DialEndpoint = "sofia/gateway/trunk/{number}"
		}, "127.0.0.1:1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := outbound.Simulated(outbound.Asterisk)
			tc.env(&env)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			p, err := outbound.Open(ctx, env, zerolog.Nop())
			if err == nil || p != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v, %v; want an error holding %q", p, err, tc.want)
			}
			// The same through an App, with contacts since the PBX may be real.
			dir := t.TempDir()
			file := filepath.Join(dir, "c.csv")
			if err := os.WriteFile(file, []byte("phone,name\n13800009301,张三\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			app := outbound.App{Name: "t", Script: []byte(testScript)}
			if _, err := app.Run(ctx, env, outbound.Options{Out: dir, Contacts: file}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("App.Run: %v", err)
			}
		})
	}
}

// TestNotifierConcurrentPrints: SMS lines printed by the calls' goroutines and webhooks printed by the in-process
// receiver share one writer without a data race (seen under -race in the finance example).
func TestNotifierConcurrentPrints(t *testing.T) {
	t.Setenv("WEBHOOK_URL", "")
	t.Setenv("WEBHOOK_SECRET", "")
	var out bytes.Buffer
	n, err := outbound.NewNotifier(&out)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch := "sms"
			if i%2 == 0 {
				ch = "alert"
			}
			if err := n.Notify(context.Background(), dialog.Notification{Channel: ch, To: "team", CallID: "c", Node: "n", Text: "提醒"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if len(n.Sent()) != 8 || len(n.Received()) != 4 {
		t.Errorf("sent %d, received %d", len(n.Sent()), len(n.Received()))
	}
	if got := strings.Count(out.String(), "\n"); got != 8 {
		t.Errorf("%d lines printed:\n%s", got, out.String())
	}
}

// failingTTS fails every prompt that holds one of its words, as a provider outage would.
type failingTTS struct {
	tts.Synthesizer
	words []string
}

func (f failingTTS) Synthesize(ctx context.Context, r tts.Request) (audio.Source, error) {
	for _, w := range f.words {
		if strings.Contains(r.Text, w) {
			return nil, errors.New("tts: connection refused")
		}
	}
	return f.Synthesizer.Synthesize(ctx, r)
}

// TestUnspokenPromptOnACall: on a real call whose closing prompt cannot be rendered, the printed transcript marks
// that prompt as not spoken.
func TestUnspokenPromptOnACall(t *testing.T) {
	defer outboundtest.Lock()()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	p, err := outbound.Open(ctx, outbound.Simulated(outbound.Asterisk), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.TTS = failingTTS{p.TTS, []string{"再见"}}
	if err := p.AddCallee("+8613800009401", outbound.Person("喂", "可以")); err != nil {
		t.Fatal(err)
	}
	recs, err := outbound.Run(ctx, p, outbound.Campaign{Script: loadScript(t, testScript),
		Contacts: []campaign.Contact{{Phone: "+8613800009401", Name: "张三"}}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	outbound.Print(&b, recs)
	if !strings.Contains(b.String(), "prompt (not spoken, TTS failed: tts: connection refused): 好的,再见。") ||
		!strings.Contains(b.String(), "  prompt: 张三您好,明天可以吗?") {
		t.Errorf("transcript:\n%s", b.String())
	}
}

// TestProvidersCheckedAtStart: an unreachable speech or model server stops Open with the setting and the address,
// before any call — the TTS used to be found broken only after every call had been placed (each transferred
// tts_failed), the model never (every reply the fallback, exit 0).
func TestProvidersCheckedAtStart(t *testing.T) {
	refuses := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"invalid api key"}`, http.StatusUnauthorized)
	}))
	defer refuses.Close()
	cases := []struct {
		name string
		env  func(*outbound.Env)
		want []string
	}{
		{"tts", func(e *outbound.Env) { e.TTS, e.OpenAIBase = "openai", "http://127.0.0.1:1/v1" }, []string{"TTS=openai does not work", "127.0.0.1:1"}},
		{"llm", func(e *outbound.Env) { e.LLMModel, e.OpenAIBase = "qwen", "http://127.0.0.1:1/v1" },
			[]string{"LLM_MODEL=qwen", "http://127.0.0.1:1/v1 does not answer"}},
		{"llm key", func(e *outbound.Env) { e.LLMModel, e.OpenAIBase, e.OpenAIKey = "qwen", refuses.URL+"/v1", "sk-bad" },
			[]string{"refuses the key (401 Unauthorized): check OPENAI_API_KEY"}},
		{"vosk", func(e *outbound.Env) { e.ASR, e.VoskURL = "vosk", "ws://127.0.0.1:1" }, []string{"ASR=vosk: VOSK_URL ws://127.0.0.1:1 does not answer"}},
		{"funasr", func(e *outbound.Env) { e.ASR, e.FunASRURL = "funasr", "ws://127.0.0.1:1" }, []string{"ASR=funasr"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := outbound.Simulated(outbound.Asterisk)
			tc.env(&env)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			p, err := outbound.Open(ctx, env, zerolog.Nop())
			if err == nil {
				p.Close()
				t.Fatal("Open succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v\nlacks %q", err, w)
				}
			}
		})
	}
}
