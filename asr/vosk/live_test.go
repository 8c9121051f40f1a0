package vosk_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/vosk"
	"github.com/outcall/outcall/pkg/audio"
)

// TestLiveServer runs against a real vosk-server (English model) when OUTCALL_VOSK_URL is set
// (e.g. ws://127.0.0.1:2700).
func TestLiveServer(t *testing.T) {
	url := os.Getenv("OUTCALL_VOSK_URL")
	if url == "" {
		t.Skip("OUTCALL_VOSK_URL not set; no real vosk-server to test against")
	}
	dir := t.TempDir()
	raw, wav := filepath.Join(dir, "raw.wav"), filepath.Join(dir, "8k.wav")
	for _, c := range [][]string{
		{"espeak-ng", "-v", "en", "-w", raw, "yes I would like to pay my bill"},
		{"sox", raw, "-r", "8000", "-c", "1", "-b", "16", wav, "pad", "0.5", "1.0"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	b, err := os.ReadFile(wav)
	if err != nil {
		t.Fatal(err)
	}
	w, err := audio.DecodeWAV(b)
	if err != nil {
		t.Fatal(err)
	}
	r, err := vosk.New(vosk.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Start(t.Context(), asr.Config{SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+160 <= len(w.Samples); i += 160 {
		if err := s.Write(audio.Frame{Rate: 8000, Samples: w.Samples[i : i+160]}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	var final string
	for res := range s.Results() {
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if res.Final {
			final += res.Text + " "
		}
	}
	t.Logf("heard %q", final)
	if final == "" {
		t.Error("no final text")
	}
}
