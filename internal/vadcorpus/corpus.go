// Package vadcorpus builds the voice-activity benchmark corpus from speech nobody here wrote: the LibriVox,
// cards and numbers recordings of Debian's pocketsphinx-testdata (human English) and espeak-ng Mandarin, in the
// telephone band (8 kHz, G.711 µ-law round trip), mixed with white, babble and street-like noise at chosen SNRs,
// with speech/silence labels taken from the clean signal's energy. It scores any audio.SpeechDetector on it.
package vadcorpus

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/outcall/outcall/pkg/audio"
)

// Rate is the corpus's sample rate, and FrameLen its frame length (20 ms).
const (
	Rate     = 8000
	FrameLen = Rate / 50
)

// DataDir is where Debian's pocketsphinx-testdata puts its recordings.
const DataDir = "/usr/share/pocketsphinx/test/data"

// ErrMissing reports that the recordings or a tool are not installed.
var ErrMissing = errors.New("vadcorpus: speech data missing")

// Utterance is one recording at Rate.
type Utterance struct {
	Name    string
	Lang    string // "en" or "zh"
	Samples []int16
}

// humanFiles are the pocketsphinx-testdata recordings that the corpus speaks (16 kHz, 16-bit mono).
var humanFiles = []string{
	"librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
	"librivox/sense_and_sensibility_01_austen_64kb-0880.wav",
	"librivox/sense_and_sensibility_01_austen_64kb-0890.wav",
	"librivox/sense_and_sensibility_01_austen_64kb-0920.wav",
	"librivox/sense_and_sensibility_01_austen_64kb-0930.wav",
	"cards/001.wav", "cards/002.wav", "cards/003.wav", "cards/004.wav", "cards/005.wav",
	"numbers.raw",
}

// talkerFiles are other pocketsphinx-testdata recordings, kept for babble so that it never repeats the speech.
var talkerFiles = []string{"goforward.raw", "something.raw", "tidigits/dhd.2934z.raw"}

// mandarin is what espeak-ng says in Mandarin; mandarinTalkers feed babble.
var mandarin = []string{
	"您好 我是快递公司的客服 想跟您确认一下明天的送货时间",
	"如果您现在不方便 我们可以换一个时间再联系您",
	"请问您的订单号码是多少",
}

var talkerSentences = []struct{ voice, text string }{
	{"cmn", "今天下午的天气不错 我们一起去公园散步吧 顺便买点水果回来"},
	{"en+f3", "The meeting has been moved to the third floor conference room after lunch"},
	{"cmn", "地铁二号线今天早上出现故障 很多人上班都迟到了"},
}

// Available reports why the corpus cannot be built here, or nil.
func Available() error {
	if _, err := os.Stat(filepath.Join(DataDir, humanFiles[0])); err != nil {
		return fmt.Errorf("%w: Debian package pocketsphinx-testdata (%v)", ErrMissing, err)
	}
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %s (Debian packages espeak-ng and sox)", ErrMissing, tool)
		}
	}
	return nil
}

// ReadRecording reads a pocketsphinx-testdata file (WAV, or headerless 16 kHz 16-bit raw) and returns it at Rate.
func ReadRecording(name string) ([]int16, error) {
	b, err := os.ReadFile(filepath.Join(DataDir, name))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMissing, err)
	}
	var s []int16
	rate := 16000
	if strings.HasSuffix(name, ".wav") {
		w, err := audio.DecodeWAV(b)
		if err != nil {
			return nil, err
		}
		s, rate = w.Samples, w.Rate
	} else {
		s = make([]int16, len(b)/2)
		for i := range s {
			s[i] = int16(uint16(b[2*i]) | uint16(b[2*i+1])<<8)
		}
	}
	if rate == Rate {
		return s, nil
	}
	r, err := audio.NewResampler(rate, Rate)
	if err != nil {
		return nil, err
	}
	out := r.Process(nil, s)
	return append(out, r.Process(nil, make([]int16, rate/50))...), nil
}

// Speak renders text with espeak-ng in voice and converts it with sox to Rate, in dir.
func Speak(dir, name, voice, text string) ([]int16, error) {
	raw, out := filepath.Join(dir, name+".raw.wav"), filepath.Join(dir, name+".wav")
	if b, err := exec.Command("espeak-ng", "-v", voice, "-w", raw, text).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("espeak-ng: %v: %s", err, b)
	}
	if b, err := exec.Command("sox", raw, "-r", "8000", "-c", "1", "-b", "16", out).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("sox: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	w, err := audio.DecodeWAV(b)
	if err != nil {
		return nil, err
	}
	return w.Samples, nil
}

// Human returns the pocketsphinx-testdata utterances at Rate.
func Human() ([]Utterance, error) {
	var us []Utterance
	for _, f := range humanFiles {
		s, err := ReadRecording(f)
		if err != nil {
			return nil, err
		}
		us = append(us, Utterance{Name: f, Lang: "en", Samples: s})
	}
	return us, nil
}

// Mandarin returns espeak-ng Mandarin utterances, rendered in dir.
func Mandarin(dir string) ([]Utterance, error) {
	var us []Utterance
	for i, text := range mandarin {
		s, err := Speak(dir, fmt.Sprintf("cmn%d", i), "cmn", text)
		if err != nil {
			return nil, err
		}
		us = append(us, Utterance{Name: fmt.Sprintf("espeak-cmn-%d", i), Lang: "zh", Samples: s})
	}
	return us, nil
}

// Talkers returns the babble talkers' tracks: the other pocketsphinx-testdata recordings and espeak-ng voices.
func Talkers(dir string) ([][]int16, error) {
	var ts [][]int16
	for _, f := range talkerFiles {
		s, err := ReadRecording(f)
		if err != nil {
			return nil, err
		}
		ts = append(ts, s)
	}
	for i, t := range talkerSentences {
		s, err := Speak(dir, fmt.Sprintf("talker%d", i), t.voice, t.text)
		if err != nil {
			return nil, err
		}
		ts = append(ts, s)
	}
	return ts, nil
}

// Labels returns the speech/silence label of each 20 ms frame of one clean utterance. The rule: a frame is speech
// when its level is at least 15 dB above the utterance's noise floor (the 10th percentile of its frame levels) and
// no more than 45 dB below its loudest frame; silences shorter than 200 ms inside speech (stop closures, breaths
// between words) are speech; speech runs shorter than 60 ms are not.
func Labels(s []int16) []bool {
	nf := len(s) / FrameLen
	lv := make([]float64, nf)
	for i := range nf {
		var e float64
		for _, v := range s[i*FrameLen : (i+1)*FrameLen] {
			e += float64(v) * float64(v)
		}
		lv[i] = 10 * math.Log10(e/FrameLen+1e-3)
	}
	sorted := append([]float64(nil), lv...)
	sort.Float64s(sorted)
	if nf == 0 {
		return nil
	}
	floor, peak := sorted[nf/10], sorted[nf-1]
	thr := max(floor+15, peak-45)
	lab := make([]bool, nf)
	for i, l := range lv {
		lab[i] = l >= thr
	}
	fill(lab, false, 10) // gaps under 200 ms
	fill(lab, true, 3)   // runs under 60 ms
	return lab
}

// fill flips inner runs of value v shorter than n frames (with the other value on both sides).
func fill(lab []bool, v bool, n int) {
	for i := 0; i < len(lab); {
		if lab[i] != v {
			i++
			continue
		}
		j := i
		for j < len(lab) && lab[j] == v {
			j++
		}
		if i > 0 && j < len(lab) && j-i < n {
			for k := i; k < j; k++ {
				lab[k] = !v
			}
		}
		i = j
	}
}
