package funasr_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/funasr"
	"github.com/outcall/outcall/pkg/audio"
)

// fakeServer implements the FunASR runtime WebSocket protocol well enough to check a client: it records the first
// message, every audio message and the end flag, and answers with scripted results.
type fakeServer struct {
	t  *testing.T
	ts *httptest.Server

	// behaviour
	pieces     []string // online text pieces, one per piecesEvery bytes of audio
	every      int      // bytes of audio per online piece
	final      string   // offline (sentence) text sent after the end flag
	timestamp  string   // timestamp field of the final result
	dropAfter  int      // close the TCP connection abruptly after this many audio bytes (0: never)
	silent     bool     // never answer after the end flag
	errorFinal string   // answer the end flag with this error text
	python     bool     // behave like funasr_wss_server.py: is_final mirrors is_speaking, no end marker

	mu sync.Mutex
	session
}

// session is what the server saw on one connection; the fake keeps the latest.
type session struct {
	start    map[string]any
	startRaw string
	audio    []byte
	sizes    []int
	endMsg   string
	order    []string // "start", "audio", "end"
	protoSub string
}

func newFake(t *testing.T) *fakeServer {
	f := &fakeServer{t: t}
	f.ts = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.ts.Close)
	return f
}

func (f *fakeServer) url() string { return "ws" + strings.TrimPrefix(f.ts.URL, "http") }

func (f *fakeServer) handle(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"binary"}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	ss := &session{protoSub: c.Subprotocol()}
	publish := func() {
		f.mu.Lock()
		f.session = *ss
		f.mu.Unlock()
	}
	ctx := r.Context()
	mode := ""
	sent := 0
	send := func(m map[string]any) {
		b, _ := json.Marshal(m)
		c.Write(ctx, websocket.MessageText, b)
	}
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		if typ == websocket.MessageText {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				f.t.Errorf("server: text message is not JSON: %q", b)
			}
			if ss.start == nil {
				ss.start, ss.startRaw = m, string(b)
				mode, _ = m["mode"].(string)
				ss.order = append(ss.order, "start")
				publish()
				continue
			}
			ss.endMsg = string(b)
			ss.order = append(ss.order, "end")
			publish()
			if v, ok := m["is_speaking"].(bool); !ok || v {
				f.t.Errorf("server: second text message %q is not the end flag", b)
			}
			if f.silent {
				continue
			}
			if f.errorFinal != "" {
				send(map[string]any{"text": f.errorFinal, "wav_name": ss.start["wav_name"], "is_final": true})
				continue
			}
			switch {
			case f.python:
				send(map[string]any{"mode": "2pass-offline", "text": f.final, "wav_name": ss.start["wav_name"],
					"is_final": false})
			case mode == "2pass":
				send(map[string]any{"mode": "2pass-offline", "text": f.final, "wav_name": ss.start["wav_name"],
					"is_final": true, "timestamp": f.timestamp})
			case mode == "online":
				send(map[string]any{"mode": "online", "text": "", "wav_name": ss.start["wav_name"], "is_final": true})
			case mode == "offline":
				send(map[string]any{"mode": "offline", "text": f.final, "wav_name": ss.start["wav_name"],
					"is_final": false})
			}
			continue
		}
		ss.audio = append(ss.audio, b...)
		ss.sizes = append(ss.sizes, len(b))
		if len(ss.order) == 0 || ss.order[len(ss.order)-1] != "audio" {
			ss.order = append(ss.order, "audio")
		}
		n := len(ss.audio)
		publish()
		if f.dropAfter > 0 && n >= f.dropAfter {
			// An abrupt end, as when the server process dies.
			c.CloseNow()
			return
		}
		for (mode == "2pass" || mode == "online") && f.every > 0 && sent < len(f.pieces) && n >= (sent+1)*f.every {
			m := "online"
			if mode == "2pass" {
				m = "2pass-online"
			}
			send(map[string]any{"mode": m, "text": f.pieces[sent], "wav_name": ss.start["wav_name"], "is_final": f.python})
			sent++
		}
	}
}

func frames(rate, n int) []audio.Frame {
	out := make([]audio.Frame, n)
	k := 0
	for i := range out {
		s := make([]int16, rate/50)
		for j := range s {
			s[j] = int16(k*7 - 3000)
			k++
		}
		out[i] = audio.Frame{Rate: rate, Samples: s}
	}
	return out
}

func pcm(fs []audio.Frame) []byte {
	var b []byte
	for _, f := range fs {
		for _, s := range f.Samples {
			b = binary.LittleEndian.AppendUint16(b, uint16(s))
		}
	}
	return b
}

func collect(t *testing.T, s asr.Stream) []asr.Result {
	t.Helper()
	var out []asr.Result
	to := time.After(10 * time.Second)
	for {
		select {
		case r, ok := <-s.Results():
			if !ok {
				return out
			}
			out = append(out, r)
		case <-to:
			t.Fatalf("Results not closed; got %+v", out)
		}
	}
}

func TestTwoPass(t *testing.T) {
	f := newFake(t)
	f.pieces = []string{"你好", "我想", "查账单"}
	f.every = 1920 * 3
	f.final = "你好，我想查账单。"
	f.timestamp = "[[100,300],[300,500],[880,1240]]"
	r, err := funasr.New(funasr.Config{URL: f.url()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Start(t.Context(), asr.Config{SampleRate: 16000, Hotwords: []string{"阿里巴巴", "账单"}})
	if err != nil {
		t.Fatal(err)
	}
	fs := frames(16000, 31) // 620 ms: 10 chunks of 60 ms and one 20 ms rest
	for _, fr := range fs {
		if err := s.Write(fr); err != nil {
			t.Fatal(err)
		}
	}
	// Partials arrive while audio flows, before the end of audio.
	var got []asr.Result
	for len(got) < 3 {
		select {
		case r := <-s.Results():
			got = append(got, r)
		case <-time.After(5 * time.Second):
			t.Fatalf("partials: got %+v", got)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got = append(got, collect(t, s)...)

	want := []struct {
		text  string
		final bool
	}{{"你好", false}, {"你好我想", false}, {"你好我想查账单", false}, {"你好，我想查账单。", true}}
	if len(got) != len(want) {
		t.Fatalf("results = %+v", got)
	}
	for i, w := range want {
		if got[i].Text != w.text || got[i].Final != w.final || got[i].Err != nil {
			t.Errorf("result %d = %+v, want %q final=%v", i, got[i], w.text, w.final)
		}
	}
	if last := got[3]; last.Start != 100*time.Millisecond || last.End != 1240*time.Millisecond {
		t.Errorf("final span %v-%v, want 100ms-1.24s from timestamp", last.Start, last.End)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.start
	checks := map[string]any{"mode": "2pass", "chunk_interval": 10.0, "audio_fs": 16000.0, "wav_format": "pcm",
		"is_speaking": true, "itn": true}
	for k, v := range checks {
		if st[k] != v {
			t.Errorf("start[%q] = %v, want %v (message %s)", k, st[k], v, f.startRaw)
		}
	}
	if fmt.Sprint(st["chunk_size"]) != "[5 10 5]" {
		t.Errorf("chunk_size = %v", st["chunk_size"])
	}
	if name, _ := st["wav_name"].(string); !strings.HasPrefix(name, "outcall-") {
		t.Errorf("wav_name = %q", st["wav_name"])
	}
	hot, ok := st["hotwords"].(string)
	if !ok {
		t.Fatalf("hotwords must be a JSON string, got %T", st["hotwords"])
	}
	var hm map[string]int
	if err := json.Unmarshal([]byte(hot), &hm); err != nil || hm["阿里巴巴"] != 20 || hm["账单"] != 20 || len(hm) != 2 {
		t.Errorf("hotwords = %q (%v)", hot, err)
	}
	if string(f.audio) != string(pcm(fs)) {
		t.Errorf("server got %d audio bytes that differ from the %d sent", len(f.audio), len(pcm(fs)))
	}
	for i, n := range f.sizes[:len(f.sizes)-1] {
		if n != 1920 {
			t.Errorf("audio message %d is %d bytes, want 1920 (60 ms)", i, n)
		}
	}
	if f.sizes[len(f.sizes)-1] != 640 {
		t.Errorf("last audio message %d bytes, want the 640-byte rest", f.sizes[len(f.sizes)-1])
	}
	if strings.Join(f.order, ",") != "start,audio,end" {
		t.Errorf("message order %v", f.order)
	}
	if f.protoSub != "binary" {
		t.Errorf("subprotocol %q, want binary", f.protoSub)
	}
}

func TestPythonServerFlavour(t *testing.T) {
	f := newFake(t)
	f.python = true
	f.pieces = []string{"喂", "你好"}
	f.every = 1920
	f.final = "喂，你好。"
	r, _ := funasr.New(funasr.Config{URL: f.url(), FinalTimeout: 100 * time.Millisecond, PythonServer: true})
	s, err := r.Start(t.Context(), asr.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range frames(16000, 9) {
		s.Write(fr)
	}
	s.Close()
	got := collect(t, s)
	want := "[{喂 false} {喂你好 false} {喂，你好。 true}]"
	var brief []string
	for _, r := range got {
		brief = append(brief, fmt.Sprintf("{%s %v}", r.Text, r.Final))
	}
	if "["+strings.Join(brief, " ")+"]" != want {
		t.Errorf("results %v, want %s", brief, want)
	}
}

func TestOnlineModeAnd8k(t *testing.T) {
	f := newFake(t)
	f.pieces = []string{"one ", "two"}
	f.every = 960 * 2
	r, err := funasr.New(funasr.Config{URL: f.url(), Mode: funasr.ModeOnline, DisableITN: true, WavName: "t"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Start(t.Context(), asr.Config{SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range frames(8000, 12) {
		if err := s.Write(fr); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	got := collect(t, s)
	if len(got) != 3 || got[0].Text != "one " || got[1].Text != "one two" || got[1].Final ||
		got[2].Text != "one two" || !got[2].Final {
		t.Errorf("results = %+v", got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.start["audio_fs"] != 8000.0 || f.start["itn"] != false || f.start["mode"] != "online" {
		t.Errorf("start = %s", f.startRaw)
	}
	if _, ok := f.start["hotwords"]; !ok {
		t.Errorf("hotwords missing from start: %s", f.startRaw)
	}
	if f.sizes[0] != 960 {
		t.Errorf("8 kHz chunk = %d bytes, want 960", f.sizes[0])
	}
}

func TestOfflineMode(t *testing.T) {
	f := newFake(t)
	f.final = "好的"
	r, _ := funasr.New(funasr.Config{URL: f.url(), Mode: funasr.ModeOffline})
	s, err := r.Start(t.Context(), asr.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range frames(16000, 5) {
		s.Write(fr)
	}
	s.Close()
	got := collect(t, s)
	if len(got) != 1 || got[0].Text != "好的" || !got[0].Final || got[0].Err != nil {
		t.Errorf("results = %+v", got)
	}
}

func TestMidStreamDisconnect(t *testing.T) {
	f := newFake(t)
	f.pieces = []string{"喂"}
	f.every = 1920
	f.dropAfter = 1920 * 4
	r, _ := funasr.New(funasr.Config{URL: f.url()})
	s, err := r.Start(t.Context(), asr.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for _, fr := range frames(16000, 200) {
		if werr = s.Write(fr); werr != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	got := collect(t, s)
	last := got[len(got)-1]
	if !last.Final || last.Err == nil {
		t.Fatalf("last = %+v, want final with Err", last)
	}
	var e *asr.Error
	if !errors.As(last.Err, &e) || e.Provider != "funasr" || !e.Transient {
		t.Errorf("err = %v, want transient funasr error", last.Err)
	}
	if last.Text != "喂" {
		t.Errorf("pending partial text %q lost", last.Text)
	}
	if werr == nil {
		t.Errorf("Write never reported the lost connection")
	}
	s.Close()
}

func TestSilentServerEndsAfterFinalTimeout(t *testing.T) {
	f := newFake(t)
	f.silent = true
	r, _ := funasr.New(funasr.Config{URL: f.url(), FinalTimeout: 50 * time.Millisecond})
	s, err := r.Start(t.Context(), asr.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.Write(frames(16000, 1)[0])
	s.Close()
	if got := collect(t, s); len(got) != 0 {
		t.Errorf("results = %+v", got)
	}
}

func TestServerError(t *testing.T) {
	f := newFake(t)
	f.errorFinal = "ERROR. Real-time transcription service ONLY SUPPORT PCM stream."
	r, _ := funasr.New(funasr.Config{URL: f.url()})
	s, err := r.Start(t.Context(), asr.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	got := collect(t, s)
	if len(got) != 1 || !errors.Is(got[0].Err, funasr.ErrServer) || !strings.Contains(got[0].Err.Error(), "PCM") {
		t.Errorf("results = %+v", got)
	}
}

func TestDialErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r, _ := funasr.New(funasr.Config{URL: "ws://" + addr})
	_, err = r.Start(t.Context(), asr.Config{})
	if err == nil || !asr.IsTransient(err) || !strings.Contains(err.Error(), "funasr") {
		t.Errorf("refused: err = %v, want transient funasr error", err)
	}

	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer forbidden.Close()
	r, _ = funasr.New(funasr.Config{URL: "ws" + strings.TrimPrefix(forbidden.URL, "http")})
	if _, err = r.Start(t.Context(), asr.Config{}); err == nil || asr.IsTransient(err) {
		t.Errorf("403: err = %v, want permanent error", err)
	}

	// A server that accepts TCP but never answers the handshake.
	black, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer black.Close()
	go func() {
		for {
			c, err := black.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	r, _ = funasr.New(funasr.Config{URL: "ws://" + black.Addr().String(), DialTimeout: 50 * time.Millisecond})
	if _, err = r.Start(t.Context(), asr.Config{}); err == nil || !asr.IsTransient(err) {
		t.Errorf("handshake timeout: err = %v, want transient", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, c := range map[string]funasr.Config{
		"no url":     {},
		"http url":   {URL: "http://x"},
		"bad mode":   {URL: "ws://x", Mode: "3pass"},
		"bad chunks": {URL: "ws://x", ChunkSize: [3]int{5, 0, 5}},
	} {
		if _, err := funasr.New(c); !errors.Is(err, funasr.ErrConfig) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	r, _ := funasr.New(funasr.Config{URL: "ws://127.0.0.1:1"})
	if _, err := r.Start(t.Context(), asr.Config{SampleRate: 44100}); !errors.Is(err, funasr.ErrConfig) {
		t.Errorf("44.1 kHz: err = %v", err)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	f := newFake(t)
	f.final = "好"
	before := runtime.NumGoroutine()
	r, _ := funasr.New(funasr.Config{URL: f.url()})
	for i := range 30 {
		ctx, cancel := context.WithCancel(t.Context())
		s, err := r.Start(ctx, asr.Config{})
		if err != nil {
			t.Fatal(err)
		}
		for _, fr := range frames(16000, 4) {
			s.Write(fr)
		}
		if i%2 == 0 {
			s.Close()
			collect(t, s)
		} else {
			cancel() // abandoned stream: ends with its context
			collect(t, s)
		}
		cancel()
	}
	f.ts.CloseClientConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+3 {
		t.Errorf("goroutines: %d before, %d after", before, n)
	}
}

func TestWithResilient(t *testing.T) {
	f := newFake(t)
	f.dropAfter = 1920
	r, _ := funasr.New(funasr.Config{URL: f.url()})
	rr := asr.NewResilient(r, asr.ResilientConfig{Provider: "funasr"})
	s, err := rr.Start(t.Context(), asr.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range frames(16000, 50) {
		if s.Write(fr) != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	got := collect(t, s)
	if len(got) == 0 || got[len(got)-1].Err == nil {
		t.Fatalf("results = %+v, want a final error", got)
	}
	if !strings.HasPrefix(got[len(got)-1].Err.Error(), "asr funasr: ") {
		t.Errorf("error %q does not name the provider", got[len(got)-1].Err)
	}
}

// BenchmarkWrite measures one 20 ms frame through Write, including its share of a WebSocket message to a local
// server (one message per 60 ms).
func BenchmarkWrite(b *testing.B) {
	f := &fakeServer{t: &testing.T{}}
	f.ts = httptest.NewServer(http.HandlerFunc(f.handle))
	defer f.ts.Close()
	r, _ := funasr.New(funasr.Config{URL: f.url()})
	s, err := r.Start(b.Context(), asr.Config{})
	if err != nil {
		b.Fatal(err)
	}
	fr := frames(16000, 1)[0]
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(fr); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	s.Close()
	for range s.Results() {
	}
}

func TestBreakerOpensOnRefusedServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: every dial is refused
	r, _ := funasr.New(funasr.Config{URL: "ws://" + addr})
	rr := asr.NewResilient(r, asr.ResilientConfig{Retries: -1, BreakerFailures: 3, BreakerCooldown: time.Hour})
	for i := range 3 {
		_, err := rr.Start(t.Context(), asr.Config{})
		if err == nil || errors.Is(err, asr.ErrCircuitOpen) {
			t.Fatalf("attempt %d: %v, want a dial error", i, err)
		}
	}
	if rr.State() != asr.BreakerOpen {
		t.Fatalf("state %v after 3 refusals", rr.State())
	}
	_, err = rr.Start(t.Context(), asr.Config{})
	if !errors.Is(err, asr.ErrCircuitOpen) || !strings.HasPrefix(err.Error(), "asr funasr: ") {
		t.Errorf("open breaker: %v", err)
	}
}
