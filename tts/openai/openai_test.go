package openai_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/openai"
)

// fakeAPI implements POST /v1/audio/speech with response_format "pcm": raw 24 kHz 16-bit LE mono, streamed.
type fakeAPI struct {
	t  *testing.T
	ts *httptest.Server

	status  func(n int) int // status of request n (1-based); default 200
	pcm     []byte          // body of a 200 answer
	split   int             // bytes sent before gate is waited for (0: all at once)
	gate    chan struct{}   // closed to let the rest of the body go
	noReply bool            // never answer
	stall   bool            // after split bytes, never send more

	mu   sync.Mutex
	reqs []map[string]any
	auth []string
}

func newAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{t: t, gate: make(chan struct{})}
	f.ts = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.ts.Close)
	return f
}

func (f *fakeAPI) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/speech" {
		http.Error(w, "not found", 404)
		return
	}
	var m map[string]any
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		f.t.Errorf("server: body is not JSON: %v", err)
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, m)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	n := len(f.reqs)
	f.mu.Unlock()
	if f.noReply {
		<-r.Context().Done()
		return
	}
	if f.status != nil {
		if st := f.status(n); st != 200 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(st)
			io.WriteString(w, `{"error":{"message":"nope","type":"server_error"}}`)
			return
		}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	body := f.pcm
	if f.split > 0 {
		w.Write(body[:f.split])
		w.(http.Flusher).Flush()
		if f.stall {
			<-r.Context().Done()
			return
		}
		select {
		case <-f.gate:
		case <-r.Context().Done():
			return
		}
		body = body[f.split:]
	}
	w.Write(body)
}

func (f *fakeAPI) requests() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.reqs...)
}

// tone returns d of a sine at hz, 24 kHz PCM16 LE.
func tone(hz float64, d time.Duration) []byte {
	n := int(d.Seconds() * openai.NativeRate)
	b := make([]byte, 0, 2*n)
	for i := range n {
		v := int16(12000 * math.Sin(2*math.Pi*hz*float64(i)/openai.NativeRate))
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	return b
}

func readAll(t *testing.T, src audio.Source) ([]int16, error) {
	t.Helper()
	var out []int16
	for {
		f, err := src.Read(t.Context())
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if f.Rate != src.Format().Rate || len(f.Samples) != f.Rate/50 {
			t.Fatalf("frame of %d samples at %d Hz, want 20 ms at %d", len(f.Samples), f.Rate, src.Format().Rate)
		}
		out = append(out, f.Samples...)
	}
}

// crossings estimates a tone's frequency from its rising zero crossings.
func crossings(s []int16, rate int) float64 {
	n := 0
	for i := 1; i < len(s); i++ {
		if s[i-1] < 0 && s[i] >= 0 {
			n++
		}
	}
	return float64(n) / (float64(len(s)) / float64(rate))
}

func TestStreamsResampledFrames(t *testing.T) {
	for _, rate := range []int{8000, 16000, 24000, 48000} {
		t.Run(strconv.Itoa(rate), func(t *testing.T) {
			api := newAPI(t)
			api.pcm = tone(440, time.Second)
			s, err := openai.New(openai.Config{APIKey: "sk-x", BaseURL: api.ts.URL + "/v1", Voice: "nova"})
			if err != nil {
				t.Fatal(err)
			}
			src, err := s.Synthesize(t.Context(), tts.Request{Text: "您好，这里是还款提醒。", Rate: rate, Speed: 1.25})
			if err != nil {
				t.Fatal(err)
			}
			pcm, err := readAll(t, src)
			if err != nil {
				t.Fatal(err)
			}
			d := audio.Format{Rate: rate}.Duration(len(pcm))
			if d != time.Second {
				t.Errorf("%v of audio, want 1s", d)
			}
			if hz := crossings(pcm[rate/10:len(pcm)-rate/10], rate); math.Abs(hz-440) > 5 {
				t.Errorf("tone at %.1f Hz after resampling, want 440", hz)
			}
			req := api.requests()[0]
			want := map[string]any{"model": "tts-1", "input": "您好，这里是还款提醒。", "voice": "nova",
				"response_format": "pcm", "speed": 1.25}
			for k, v := range want {
				if req[k] != v {
					t.Errorf("request %s = %v, want %v", k, req[k], v)
				}
			}
			if api.auth[0] != "Bearer sk-x" {
				t.Errorf("auth %q", api.auth[0])
			}
		})
	}
}

func TestFirstFrameBeforeSynthesisCompletes(t *testing.T) {
	api := newAPI(t)
	api.pcm = tone(300, 2*time.Second)
	api.split = 4800 // 100 ms, then the server waits
	s, _ := openai.New(openai.Config{BaseURL: api.ts.URL + "/v1"})
	src, err := s.Synthesize(t.Context(), tts.Request{Text: "hello", Rate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	f, err := src.Read(t.Context())
	if err != nil || len(f.Samples) != 160 {
		t.Fatalf("first frame: %d samples, %v", len(f.Samples), err)
	}
	close(api.gate)
	pcm, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if d := audio.Narrowband.Duration(len(pcm) + 160); d != 2*time.Second {
		t.Errorf("total %v, want 2s", d)
	}
}

func TestRetriesAndErrors(t *testing.T) {
	api := newAPI(t)
	api.pcm = tone(440, 100*time.Millisecond)
	api.status = func(n int) int { return map[int]int{1: 503, 2: 429}[n] + 200*btoi(n > 2) }
	s, _ := openai.New(openai.Config{BaseURL: api.ts.URL + "/v1"})
	src, err := s.Synthesize(t.Context(), tts.Request{Text: "retry me"})
	if err != nil {
		t.Fatalf("after 503 and 429: %v", err)
	}
	if pcm, err := readAll(t, src); err != nil || len(pcm) != 2400 {
		t.Errorf("%d samples, %v", len(pcm), err)
	}
	if n := len(api.requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}

	bad := newAPI(t)
	bad.status = func(int) int { return 400 }
	s, _ = openai.New(openai.Config{BaseURL: bad.ts.URL + "/v1", Model: "gpt-4o-mini-tts"})
	if _, err := s.Synthesize(t.Context(), tts.Request{Text: "x"}); !errors.Is(err, openai.ErrRequest) {
		t.Errorf("400: %v", err)
	}
	if n := len(bad.requests()); n != 1 {
		t.Errorf("400 retried: %d requests", n)
	}

	for name, r := range map[string]tts.Request{
		"empty": {Text: "  "}, "rate": {Text: "x", Rate: 11025}, "speed": {Text: "x", Speed: 9},
	} {
		if _, err := s.Synthesize(t.Context(), r); !errors.Is(err, openai.ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := openai.New(openai.Config{BaseURL: "localhost"}); !errors.Is(err, openai.ErrConfig) {
		t.Errorf("bad base URL: %v", err)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestTimeouts(t *testing.T) {
	api := newAPI(t)
	api.noReply = true
	s, _ := openai.New(openai.Config{BaseURL: api.ts.URL + "/v1", Timeout: 50 * time.Millisecond, Retries: -1})
	start := time.Now()
	_, err := s.Synthesize(t.Context(), tts.Request{Text: "x"})
	if !errors.Is(err, openai.ErrRequest) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("no reply: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %v", time.Since(start))
	}

	stall := newAPI(t)
	stall.pcm = tone(440, time.Second)
	stall.split = 960
	stall.stall = true
	s, _ = openai.New(openai.Config{BaseURL: stall.ts.URL + "/v1", StallTimeout: 50 * time.Millisecond})
	src, err := s.Synthesize(t.Context(), tts.Request{Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := readAll(t, src)
	if !errors.Is(err, openai.ErrStream) || !errors.Is(err, context.DeadlineExceeded) || len(pcm) != 480 {
		t.Errorf("stall: %d samples, %v", len(pcm), err)
	}
}

func TestCancelAndClose(t *testing.T) {
	api := newAPI(t)
	api.pcm = tone(440, time.Second)
	api.split = 960
	api.stall = true
	s, _ := openai.New(openai.Config{BaseURL: api.ts.URL + "/v1"})
	before := runtime.NumGoroutine()
	for i := range 10 {
		ctx, cancel := context.WithCancel(t.Context())
		src, err := s.Synthesize(ctx, tts.Request{Text: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.Read(ctx); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			cancel()
		} else {
			src.(*openai.Source).Close()
		}
		if _, err := src.Read(t.Context()); !errors.Is(err, openai.ErrStream) {
			t.Errorf("read after stop: %v", err)
		}
		cancel()
	}
	api.ts.CloseClientConnections()
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Errorf("goroutines: %d before, %d after", before, n)
	}
}

func BenchmarkSourceRead(b *testing.B) {
	for _, rate := range []int{8000, 24000} {
		b.Run(strconv.Itoa(rate), func(b *testing.B) {
			body := tone(440, 10*time.Second)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body) }))
			defer srv.Close()
			s, _ := openai.New(openai.Config{BaseURL: srv.URL + "/v1"})
			ctx := b.Context()
			var src audio.Source
			b.ReportAllocs()
			for b.Loop() {
				if src == nil {
					var err error
					if src, err = s.Synthesize(ctx, tts.Request{Text: "x", Rate: rate}); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := src.Read(ctx); err == io.EOF {
					src = nil
				} else if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
