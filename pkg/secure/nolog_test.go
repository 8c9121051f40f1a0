package secure_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/aritest"
	aridriver "github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/internal/redistest"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/store"
	"github.com/outcall/outcall/tts/ttstest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const noLogScript = `name: nolog
start: ask
variables: {name: {type: string, required: true}, card: {type: string}}
intents: [{name: yes, keywords: [可以, 好的]}]
nodes:
  ask:
    say: ["{{.name}}您好，您尾号{{.card}}的卡已逾期，方便今天处理吗？"]
    routes: [{intent: yes, goto: bye}]
  bye: {say: ["好的，再见。"], end: {tags: [ok]}}
`

// TestFullCallLogsNoPII runs a whole simulated call at debug level — ARI client, driver, RTP media, dialog, Redis
// store, the simulator — with every logger writing to one buffer, and checks that the callee's number, the ARI
// password, the Redis address's credentials and the contact's name never appear in clear.
func TestFullCallLogsNoPII(t *testing.T) {
	const (
		number   = "13912345678"
		password = "s3cret-ari-pass"
		name     = "欧阳娜娜"
	)
	var logs syncBuffer
	log := zerolog.New(&logs).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	sim := aritest.Start(t, aritest.Config{TTS: &ttstest.Synthesizer{}, Password: password, Username: "outcall", Logger: log})
	if err := sim.AddCallee(number, callee.Script{Steps: []callee.Step{
		{Action: callee.Say, When: callee.AfterBot, Text: "可以，我的手机是13912345678"}}}); err != nil {
		t.Fatal(err)
	}
	client, err := ari.New(ari.Config{URL: sim.URL(), Username: "outcall", Password: password, App: "nolog", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	if err := client.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	drv, err := aridriver.New(client, aridriver.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drv.Close() })
	s, err := dialog.Load([]byte(noLogScript), "nolog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs := redistest.Start(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := drv.Dial(ctx, call.Request{Endpoint: "PJSIP/" + number + "@trunk", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res, err := dialog.Run(ctx, c, s, dialog.Deps{ASR: &asrtest.Recognizer{}, TTS: &ttstest.Synthesizer{},
		Store: dialog.NewStore(store.NewRedis(rs.Client(t), store.RedisConfig{})), Logger: &log,
		Vars: map[string]any{"name": name, "card": "6222021234567890128"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Outcome.Has("ok") {
		t.Fatalf("call outcome %+v", res.Outcome)
	}
	_ = c.Hangup(ctx, call.CauseNormal)
	out := logs.String()
	if len(out) < 200 {
		t.Fatalf("only %d bytes of logs: the test would prove nothing", len(out))
	}
	for _, secret := range []string{number, password, name, "6222021234567890128"} {
		if strings.Contains(out, secret) {
			i := strings.Index(out, secret)
			t.Errorf("logs contain %q in clear: ...%s...", secret, out[max(0, i-120):min(len(out), i+60)])
		}
	}
}
