package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/openai"
	"github.com/outcall/outcall/pkg/audio"
)

// request is what the fake server saw in one transcription request.
type request struct {
	path, auth                           string
	model, prompt, language, format, tmp string
	filename                             string
	wav                                  *audio.WAV
}

// fakeAPI implements POST /v1/audio/transcriptions: multipart form with file, model, prompt, language and
// response_format, answered with {"text": ...}.
type fakeAPI struct {
	t      *testing.T
	ts     *httptest.Server
	answer func(n int) (status int, body string, delay time.Duration)

	mu   sync.Mutex
	reqs []request
}

func newAPI(t *testing.T, answer func(n int) (int, string, time.Duration)) *fakeAPI {
	f := &fakeAPI{t: t, answer: answer}
	f.ts = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.ts.Close)
	return f
}

func (f *fakeAPI) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if err := r.ParseMultipartForm(10 << 20); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || r.Context().Err() != nil {
			return // the client gave up mid-upload (a cancelled stream), or the test closed the connections
		}
		f.t.Errorf("server: not a multipart form: %v", err)
		http.Error(w, err.Error(), 400)
		return
	}
	req := request{path: r.URL.Path, auth: r.Header.Get("Authorization"), model: r.FormValue("model"),
		prompt: r.FormValue("prompt"), language: r.FormValue("language"), format: r.FormValue("response_format"),
		tmp: r.FormValue("temperature")}
	file, hdr, err := r.FormFile("file")
	if err != nil {
		f.t.Errorf("server: no file: %v", err)
		http.Error(w, err.Error(), 400)
		return
	}
	req.filename = hdr.Filename
	b, _ := io.ReadAll(file)
	if req.wav, err = audio.DecodeWAV(b); err != nil {
		f.t.Errorf("server: file is not a WAV: %v", err)
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	n := len(f.reqs)
	f.mu.Unlock()
	status, body, delay := f.answer(n)
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *fakeAPI) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

func text(s string) string {
	b, _ := json.Marshal(map[string]string{"text": s})
	return string(b)
}

// speech renders texts with espeak-ng, each followed by a second of low noise, at rate.
func speech(t *testing.T, rate int, texts ...string) []int16 {
	t.Helper()
	dir := t.TempDir()
	sil := filepath.Join(dir, "sil.wav")
	// espeak-ng writes 22050 Hz; the parts share that rate and the result is converted to rate.
	run(t, "sox", "-n", "-r", "22050", "-c", "1", "-b", "16", sil, "synth", "1.0", "whitenoise", "vol", "0.002")
	parts := []string{sil}
	for i, s := range texts {
		raw := filepath.Join(dir, "raw"+strconv.Itoa(i)+".wav")
		run(t, "espeak-ng", "-v", "en", "-w", raw, s)
		parts = append(parts, raw, sil)
	}
	out := filepath.Join(dir, "all.wav")
	args := []string{"--combine", "concatenate"}
	for _, p := range parts {
		args = append(args, p)
	}
	args = append(args, "-r", strconv.Itoa(rate), "-c", "1", "-b", "16", out)
	run(t, "sox", args...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	w, err := audio.DecodeWAV(b)
	if err != nil {
		t.Fatal(err)
	}
	return w.Samples
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func feed(t *testing.T, s asr.Stream, rate int, pcm []int16) {
	t.Helper()
	n := rate / 50
	for i := 0; i+n <= len(pcm); i += n {
		if err := s.Write(audio.Frame{Rate: rate, Samples: pcm[i : i+n]}); err != nil {
			t.Fatal(err)
		}
	}
}

func collect(t *testing.T, s asr.Stream) []asr.Result {
	t.Helper()
	var out []asr.Result
	to := time.After(20 * time.Second)
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

func TestUtterancesTranscribedInOrder(t *testing.T) {
	api := newAPI(t, func(n int) (int, string, time.Duration) {
		return 200, text([]string{"", " I want to pay my bill ", "yes"}[n]), 0
	})
	rec, err := openai.New(openai.Config{APIKey: "sk-test", BaseURL: api.ts.URL + "/v1", Prompt: "Billing call."})
	if err != nil {
		t.Fatal(err)
	}
	s, err := rec.Start(t.Context(), asr.Config{Language: "en", SampleRate: 8000, Hotwords: []string{"Outcall", "autopay"}})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s, 8000, speech(t, 8000, "I want to pay my bill", "yes"))
	s.Close()
	got := collect(t, s)
	if len(got) != 2 || got[0].Text != "I want to pay my bill" || got[1].Text != "yes" {
		t.Fatalf("results = %+v", got)
	}
	for i, r := range got {
		if !r.Final || r.Err != nil || r.Language != "en" || r.End <= r.Start {
			t.Errorf("result %d = %+v", i, r)
		}
	}
	if got[1].Start < got[0].End {
		t.Errorf("second utterance %v starts before the first ends %v", got[1].Start, got[0].End)
	}
	reqs := api.requests()
	for i, q := range reqs {
		if q.auth != "Bearer sk-test" || q.model != "whisper-1" || q.language != "en" || q.format != "json" {
			t.Errorf("request %d: %+v", i, q)
		}
		if q.prompt != "Billing call. Outcall, autopay" {
			t.Errorf("prompt %q", q.prompt)
		}
		if q.wav == nil || q.wav.Rate != 16000 || q.wav.Channels != 1 {
			t.Fatalf("request %d: audio %+v, want 16 kHz mono", i, q.wav)
		}
		d := audio.Wideband.Duration(len(q.wav.Samples))
		span := got[i].End - got[i].Start
		if d < span-40*time.Millisecond || d > span+40*time.Millisecond {
			t.Errorf("request %d: %v of audio for a %v utterance", i, d, span)
		}
		if filepath.Ext(q.filename) != ".wav" {
			t.Errorf("file name %q", q.filename)
		}
	}
}

func TestRetriesAndFailures(t *testing.T) {
	// Utterance 1: 503 then success. Utterance 2: 401 (not retried). Utterance 3: success.
	api := newAPI(t, func(n int) (int, string, time.Duration) {
		switch n {
		case 1:
			return 503, `{"error":{"message":"overloaded","type":"server_error"}}`, 0
		case 3:
			return 401, `{"error":{"message":"bad key","type":"invalid_request_error"}}`, 0
		}
		return 200, text("ok " + strconv.Itoa(n)), 0
	})
	rec, _ := openai.New(openai.Config{BaseURL: api.ts.URL + "/v1", Model: "gpt-4o-transcribe"})
	s, err := rec.Start(t.Context(), asr.Config{Hotwords: []string{"账单", "分期"}})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s, 16000, speech(t, 16000, "hello there", "no thanks", "goodbye now"))
	s.Close()
	got := collect(t, s)
	if len(got) != 3 {
		t.Fatalf("results = %+v", got)
	}
	if got[0].Text != "ok 2" || got[0].Err != nil {
		t.Errorf("retried utterance: %+v", got[0])
	}
	var e *asr.Error
	if !errors.As(got[1].Err, &e) || e.Provider != "openai" || e.Transient || !got[1].Final {
		t.Errorf("401 utterance: %+v", got[1])
	}
	if got[2].Text != "ok 4" || got[2].Err != nil {
		t.Errorf("utterance after failure: %+v", got[2])
	}
	reqs := api.requests()
	if len(reqs) != 4 || reqs[0].model != "gpt-4o-transcribe" || reqs[0].language != "zh" || reqs[0].prompt != "账单、分期" {
		t.Errorf("requests: %d, first %+v", len(reqs), reqs[0])
	}
}

func TestRequestTimeout(t *testing.T) {
	api := newAPI(t, func(int) (int, string, time.Duration) { return 200, text("late"), 5 * time.Second })
	rec, _ := openai.New(openai.Config{BaseURL: api.ts.URL + "/v1", RequestTimeout: 100 * time.Millisecond, Retries: -1})
	s, err := rec.Start(t.Context(), asr.Config{})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s, 16000, speech(t, 16000, "hello"))
	s.Close()
	got := collect(t, s)
	if len(got) != 1 || got[0].Err == nil || !asr.IsTransient(got[0].Err) || !errors.Is(got[0].Err, context.DeadlineExceeded) {
		t.Errorf("results = %+v", got)
	}
}

func TestCloseTranscribesUtteranceInProgress(t *testing.T) {
	api := newAPI(t, func(int) (int, string, time.Duration) { return 200, text("cut short"), 0 })
	rec, _ := openai.New(openai.Config{BaseURL: api.ts.URL + "/v1"})
	s, _ := rec.Start(t.Context(), asr.Config{})
	pcm := speech(t, 16000, "this sentence is interrupted by the end of the call")
	feed(t, s, 16000, pcm[:len(pcm)/2])
	s.Close()
	if err := s.Write(audio.Frame{Rate: 16000, Samples: make([]int16, 320)}); err == nil {
		t.Error("Write after Close accepted")
	}
	got := collect(t, s)
	if len(got) != 1 || got[0].Text != "cut short" {
		t.Errorf("results = %+v", got)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := openai.New(openai.Config{BaseURL: "ftp://x"}); !errors.Is(err, openai.ErrConfig) {
		t.Errorf("bad base URL: %v", err)
	}
	rec, _ := openai.New(openai.Config{})
	if _, err := rec.Start(t.Context(), asr.Config{SampleRate: 11025}); !errors.Is(err, openai.ErrConfig) {
		t.Errorf("bad rate: %v", err)
	}
	s, _ := rec.Start(t.Context(), asr.Config{})
	if err := s.Write(audio.Frame{Rate: 8000, Samples: make([]int16, 160)}); !errors.Is(err, openai.ErrConfig) {
		t.Errorf("wrong frame rate: %v", err)
	}
	s.Close()
	if got := collect(t, s); len(got) != 0 {
		t.Errorf("results from no speech: %+v", got)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	api := newAPI(t, func(int) (int, string, time.Duration) { return 200, text("x"), 50 * time.Millisecond })
	rec, _ := openai.New(openai.Config{BaseURL: api.ts.URL + "/v1"})
	pcm := speech(t, 16000, "hello")
	before := runtime.NumGoroutine()
	for i := range 10 {
		ctx, cancel := context.WithCancel(t.Context())
		s, _ := rec.Start(ctx, asr.Config{})
		feed(t, s, 16000, pcm)
		if i%2 == 0 {
			s.Close()
		} else {
			cancel() // abandoned mid-request
		}
		collect(t, s)
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
