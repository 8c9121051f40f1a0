package funasr_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/funasr"
	"github.com/outcall/outcall/pkg/audio"
)

// TestLiveServer runs against a real FunASR runtime when OUTCALL_FUNASR_URL is set (e.g. ws://127.0.0.1:10095).
func TestLiveServer(t *testing.T) {
	url := os.Getenv("OUTCALL_FUNASR_URL")
	if url == "" {
		t.Skip("OUTCALL_FUNASR_URL not set; no real FunASR server to test against")
	}
	dir := t.TempDir()
	raw, wav := filepath.Join(dir, "raw.wav"), filepath.Join(dir, "16k.wav")
	for _, c := range [][]string{
		{"espeak-ng", "-v", "cmn", "-w", raw, "你好，我想查询一下我的账单"},
		{"sox", raw, "-r", "16000", "-c", "1", "-b", "16", wav, "pad", "0.5", "1.0"},
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
	for _, mode := range []string{funasr.Mode2Pass, funasr.ModeOnline, funasr.ModeOffline} {
		t.Run(mode, func(t *testing.T) {
			r, err := funasr.New(funasr.Config{URL: url, Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			s, err := r.Start(t.Context(), asr.Config{Hotwords: []string{"账单"}})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+320 <= len(w.Samples); i += 320 {
				if err := s.Write(audio.Frame{Rate: 16000, Samples: w.Samples[i : i+320]}); err != nil {
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
					final += res.Text
				}
			}
			t.Logf("%s: %q", mode, final)
			if final == "" {
				t.Error("no final text")
			}
		})
	}
}
