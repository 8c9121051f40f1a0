package vosk_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/vosk"
	"github.com/outcall/outcall/pkg/audio"
)

// fakeServer answers like vosk-server's asr_server.py: nothing for the config message, one JSON answer per audio
// message (a partial, or a final when an utterance ends), the final result for {"eof" : 1}, then a normal close.
type fakeServer struct {
	t  *testing.T
	ts *httptest.Server

	script    []string // answer for audio message i; past the end: {"partial": ""}
	eofAnswer string   // answer to the EOF
	dropAt    int      // close abruptly on receiving audio message dropAt (1-based; 0: never)
	noEOF     bool     // ignore the EOF (a stalled server)

	mu     sync.Mutex
	config map[string]any
	audio  []byte
	sizes  []int
	eofRaw string
}

func newFake(t *testing.T) *fakeServer {
	f := &fakeServer{t: t}
	f.ts = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.ts.Close)
	return f
}

func (f *fakeServer) url() string { return "ws" + strings.TrimPrefix(f.ts.URL, "http") }

func (f *fakeServer) handle(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	n := 0
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		if typ == websocket.MessageText && strings.Contains(string(b), "config") {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				f.t.Errorf("config is not JSON: %q", b)
			}
			f.mu.Lock()
			f.config, _ = m["config"].(map[string]any)
			f.mu.Unlock()
			continue
		}
		if typ == websocket.MessageText {
			f.mu.Lock()
			f.eofRaw = string(b)
			f.mu.Unlock()
			if string(b) != `{"eof" : 1}` {
				f.t.Errorf("text message %q is neither config nor the exact EOF", b)
			}
			if f.noEOF {
				continue
			}
			c.Write(ctx, websocket.MessageText, []byte(f.eofAnswer))
			c.Close(websocket.StatusNormalClosure, "")
			return
		}
		n++
		f.mu.Lock()
		f.audio = append(f.audio, b...)
		f.sizes = append(f.sizes, len(b))
		f.mu.Unlock()
		if n == f.dropAt {
			return // CloseNow: the connection drops without a close frame
		}
		ans := `{"partial" : ""}`
		if n <= len(f.script) {
			ans = f.script[n-1]
		}
		c.Write(ctx, websocket.MessageText, []byte(ans))
	}
}

func frames(rate, n int) []audio.Frame {
	out := make([]audio.Frame, n)
	k := 0
	for i := range out {
		s := make([]int16, rate/50)
		for j := range s {
			s[j] = int16(k*13 - 9000)
			k++
		}
		out[i] = audio.Frame{Rate: rate, Samples: s}
	}
	return out
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

func TestPartialsAndFinals(t *testing.T) {
	f := newFake(t)
	f.script = []string{
		`{"partial" : ""}`,
		`{"partial" : "hello"}`,
		`{"partial" : "hello"}`, // repeated: not passed on
		`{"result" : [{"conf" : 1.0, "end" : 0.48, "start" : 0.12, "word" : "hello"}, {"conf" : 0.5, "end" : 0.9, "start" : 0.5, "word" : "there"}], "text" : "hello there"}`,
		`{"partial" : "yes"}`,
	}
	f.eofAnswer = `{"result" : [{"conf" : 0.8, "end" : 1.5, "start" : 1.1, "word" : "yes"}], "text" : "yes"}`
	r, err := vosk.New(vosk.Config{URL: f.url(), Grammar: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Start(t.Context(), asr.Config{SampleRate: 8000, Phrases: []string{"yes", "no"}})
	if err != nil {
		t.Fatal(err)
	}
	fs := frames(8000, 26) // 520 ms: five 100 ms messages and a 20 ms rest
	for _, fr := range fs {
		if err := s.Write(fr); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got := collect(t, s)
	want := []asr.Result{
		{Text: "hello"},
		{Text: "hello there", Final: true, Confidence: 0.75, Start: 120 * time.Millisecond, End: 900 * time.Millisecond},
		{Text: "yes"},
		{Text: "yes", Final: true, Confidence: 0.8, Start: 1100 * time.Millisecond, End: 1500 * time.Millisecond},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("results\n got %+v\nwant %+v", got, want)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.config["sample_rate"] != 8000.0 || f.config["words"] != 1.0 || f.config["max_alternatives"] != 0.0 {
		t.Errorf("config = %v", f.config)
	}
	if fmt.Sprint(f.config["phrase_list"]) != "[yes no [unk]]" {
		t.Errorf("phrase_list = %v", f.config["phrase_list"])
	}
	var sent []byte
	for _, fr := range fs {
		for _, v := range fr.Samples {
			sent = binary.LittleEndian.AppendUint16(sent, uint16(v))
		}
	}
	if string(sent) != string(f.audio) {
		t.Errorf("server got %d bytes that differ from the %d sent", len(f.audio), len(sent))
	}
	if fmt.Sprint(f.sizes) != "[1600 1600 1600 1600 1600 320]" {
		t.Errorf("message sizes %v, want five 100 ms chunks and the rest", f.sizes)
	}
}

func TestAlternatives(t *testing.T) {
	f := newFake(t)
	f.eofAnswer = `{"alternatives" : [{"confidence" : 0.9, "text" : "转账"}, {"confidence" : 0.1, "text" : "专栏"}]}`
	r, _ := vosk.New(vosk.Config{URL: f.url(), MaxAlternatives: 2})
	s, err := r.Start(t.Context(), asr.Config{Phrases: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	s.Write(frames(16000, 1)[0])
	s.Close()
	got := collect(t, s)
	if len(got) != 1 || got[0].Text != "转账" || got[0].Confidence != 0.9 || !got[0].Final {
		t.Errorf("results = %+v", got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.config["max_alternatives"] != 2.0 || f.config["sample_rate"] != 16000.0 {
		t.Errorf("config = %v", f.config)
	}
	if _, ok := f.config["phrase_list"]; ok {
		t.Errorf("phrase_list sent without Grammar: %v", f.config)
	}
}

func TestMidStreamDisconnect(t *testing.T) {
	f := newFake(t)
	f.script = []string{`{"partial" : "我要"}`}
	f.dropAt = 3
	r, _ := vosk.New(vosk.Config{URL: f.url()})
	s, err := r.Start(t.Context(), asr.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for _, fr := range frames(16000, 300) {
		if werr = s.Write(fr); werr != nil {
			break
		}
		time.Sleep(200 * time.Microsecond)
	}
	got := collect(t, s)
	last := got[len(got)-1]
	var e *asr.Error
	if !last.Final || !errors.As(last.Err, &e) || e.Provider != "vosk" || !e.Transient || last.Text != "我要" {
		t.Errorf("last = %+v, want a transient vosk error keeping the partial", last)
	}
	if werr == nil {
		t.Error("Write never reported the lost connection")
	}
	s.Close()
}

func TestStalledServerAfterEOF(t *testing.T) {
	f := newFake(t)
	f.noEOF = true
	r, _ := vosk.New(vosk.Config{URL: f.url(), FinalTimeout: 50 * time.Millisecond})
	s, err := r.Start(t.Context(), asr.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	got := collect(t, s)
	if len(got) != 1 || got[0].Err == nil || !strings.Contains(got[0].Err.Error(), "asr vosk") {
		t.Errorf("results = %+v", got)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := vosk.New(vosk.Config{URL: "localhost:2700"}); !errors.Is(err, vosk.ErrConfig) {
		t.Errorf("bad URL: %v", err)
	}
	r, _ := vosk.New(vosk.Config{URL: "ws://127.0.0.1:1"})
	if _, err := r.Start(t.Context(), asr.Config{SampleRate: 100}); !errors.Is(err, vosk.ErrConfig) {
		t.Errorf("bad rate: %v", err)
	}
	if _, err := r.Start(t.Context(), asr.Config{}); err == nil || !asr.IsTransient(err) {
		t.Errorf("refused: %v", err)
	}
	f := newFake(t)
	f.script = []string{`{"nonsense": 1}`}
	r, _ = vosk.New(vosk.Config{URL: f.url(), ChunkDuration: 20 * time.Millisecond})
	s, err := r.Start(t.Context(), asr.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.Write(frames(16000, 1)[0])
	got := collect(t, s)
	if len(got) != 1 || !errors.Is(got[0].Err, vosk.ErrProtocol) {
		t.Errorf("results = %+v", got)
	}
	if err := s.Write(frames(16000, 1)[0]); err == nil {
		t.Log("write after failure accepted by the socket buffer; the Results error is the signal")
	}
	s.Close()
}

func TestNoGoroutineLeak(t *testing.T) {
	f := newFake(t)
	f.eofAnswer = `{"text" : ""}`
	before := runtime.NumGoroutine()
	r, _ := vosk.New(vosk.Config{URL: f.url()})
	for i := range 30 {
		ctx, cancel := context.WithCancel(t.Context())
		s, err := r.Start(ctx, asr.Config{})
		if err != nil {
			t.Fatal(err)
		}
		for _, fr := range frames(16000, 7) {
			s.Write(fr)
		}
		if i%2 == 0 {
			s.Close()
		} else {
			cancel()
		}
		collect(t, s)
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

// BenchmarkWrite measures one 20 ms frame through Write, including its share of a WebSocket message to a local
// server and of reading the server's answer (one of each per 100 ms).
func BenchmarkWrite(b *testing.B) {
	f := &fakeServer{t: &testing.T{}, eofAnswer: `{"text" : ""}`}
	f.ts = httptest.NewServer(http.HandlerFunc(f.handle))
	defer f.ts.Close()
	r, _ := vosk.New(vosk.Config{URL: f.url()})
	s, err := r.Start(b.Context(), asr.Config{})
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for range s.Results() {
		}
	}()
	fr := frames(16000, 1)[0]
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(fr); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	s.Close()
}
