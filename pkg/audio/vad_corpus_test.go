package audio

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The VAD corpus: espeak-ng sentences (Mandarin and English) padded with silence, mixed by sox with white and
// babble noise at known SNRs. Truth boundaries come from the clean speech.

var corpusSentences = []struct{ voice, text string }{
	{"en", "Hello this is a courtesy call about the parcel you ordered last week"},
	{"cmn", "您好 我是快递公司的客服 想跟您确认一下明天的送货时间"},
	{"en", "Please tell me whether the delivery time tomorrow morning works for you"},
	{"cmn", "如果您现在不方便 我们可以换一个时间再联系您"},
}

// Babble talkers read other sentences so the noise never correlates with the test speech.
var babbleSentences = []struct{ voice, text string }{
	{"en+f3", "The meeting has been moved to the third floor conference room after lunch"},
	{"cmn", "今天下午的天气不错 我们一起去公园散步吧 顺便买点水果回来"},
	{"en+m3", "Our quarterly numbers look better than expected in almost every region"},
	{"cmn", "请把这份文件复印三份 然后放到经理的办公桌上"},
	{"en+f2", "Could you pass me the salt and pepper and maybe a glass of water too"},
	{"cmn", "地铁二号线今天早上出现故障 很多人上班都迟到了"},
}

const corpusRate = 8000

type corpusClip struct {
	name  string
	clean []int16  // speech with 1 s of silence either side
	truth [][2]int // speech segments in frames [start, end)
	mixes sync.Map // "white/10" → []int16
	power float64  // active speech power
	dir   string
}

type vadCorpus struct {
	dir    string
	clips  []*corpusClip
	white  []int16 // 40 s
	babble []int16 // 40 s
}

func needTools(t testing.TB) {
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian packages espeak-ng and sox; `make deps`): %v", tool, err)
		}
	}
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func readWAVFile(path string) ([]int16, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	w, err := DecodeWAV(b)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if w.Channels != 1 {
		return nil, 0, fmt.Errorf("%s: %d channels", path, w.Channels)
	}
	return w.Samples, w.Rate, nil
}

// speak renders text with espeak-ng and converts it with sox to 8 kHz mono 16-bit.
func speak(dir, name, voice, text string) ([]int16, error) {
	raw := filepath.Join(dir, name+".raw.wav")
	out := filepath.Join(dir, name+".wav")
	if err := run("espeak-ng", "-v", voice, "-w", raw, text); err != nil {
		return nil, err
	}
	if err := run("sox", raw, "-r", "8000", "-c", "1", "-b", "16", out); err != nil {
		return nil, err
	}
	s, _, err := readWAVFile(out)
	return s, err
}

// loadCorpus generates the corpus in the test's temporary directory (removed afterwards).
func loadCorpus(t testing.TB) *vadCorpus {
	needTools(t)
	start := time.Now()
	c, err := buildCorpus(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, clip := range c.clips {
		t.Logf("clip %s: %v of speech in %v", clip.name, time.Duration(len(clip.clean)-2*corpusRate)*time.Second/corpusRate, time.Duration(len(clip.clean))*time.Second/corpusRate)
	}
	t.Logf("corpus generated in %v", time.Since(start))
	return c
}

func buildCorpus(dir string) (*vadCorpus, error) {
	c := &vadCorpus{dir: dir}
	errs := make([]error, len(corpusSentences)+len(babbleSentences))
	clean := make([][]int16, len(corpusSentences))
	talk := make([][]int16, len(babbleSentences))
	var wg sync.WaitGroup
	for i, s := range corpusSentences {
		wg.Go(func() { clean[i], errs[i] = speak(dir, fmt.Sprintf("clip%d", i), s.voice, s.text) })
	}
	for i, s := range babbleSentences {
		wg.Go(func() {
			talk[i], errs[len(corpusSentences)+i] = speak(dir, fmt.Sprintf("talker%d", i), s.voice, s.text)
		})
	}
	white := filepath.Join(dir, "white.wav")
	var werr error
	wg.Go(func() {
		werr = run("sox", "-R", "-n", "-r", "8000", "-c", "1", "-b", "16", white, "synth", "40", "whitenoise", "vol", "0.3")
	})
	wg.Wait()
	for _, err := range append(errs, werr) {
		if err != nil {
			return nil, err
		}
	}
	var err error
	if c.white, _, err = readWAVFile(white); err != nil {
		return nil, err
	}
	c.babble = makeBabble(talk, 40*corpusRate)
	for i, s := range clean {
		pad := make([]int16, corpusRate)
		clip := &corpusClip{name: fmt.Sprintf("%s%d", corpusSentences[i].voice, i), dir: dir}
		clip.clean = append(append(append([]int16{}, pad...), s...), pad...)
		clip.truth, clip.power = truthSegments(clip.clean)
		c.clips = append(c.clips, clip)
	}
	return c, nil
}

// makeBabble sums six talkers, each reading all babble sentences back to back from a different starting point,
// into n samples: a crowd whose level fluctuates far less than one voice's.
func makeBabble(talk [][]int16, n int) []int16 {
	var track []int16
	for _, s := range talk {
		track = append(track, s...)
	}
	acc := make([]float64, n)
	for k := range len(talk) {
		off := k * len(track) / len(talk)
		for i := range acc {
			acc[i] += float64(track[(off+i)%len(track)])
		}
	}
	out := make([]int16, n)
	for i, v := range acc {
		out[i] = int16(math.Max(-32768, math.Min(32767, v/3)))
	}
	return out
}

// truthSegments labels 20 ms frames of clean speech: a frame is active when its energy is within 40 dB of the
// loudest frame; active runs separated by less than 300 ms are one segment. It also returns the mean power of
// the active frames (the speech level for SNR).
func truthSegments(s []int16) ([][2]int, float64) {
	const fs = corpusRate / 50
	nf := len(s) / fs
	e := make([]float64, nf)
	peak := 0.0
	for i := range nf {
		for _, v := range s[i*fs : (i+1)*fs] {
			e[i] += float64(v) * float64(v)
		}
		e[i] /= fs
		peak = math.Max(peak, e[i])
	}
	var segs [][2]int
	var psum float64
	var pn int
	for i := range nf {
		if e[i] < peak*1e-4 {
			continue
		}
		psum += e[i]
		pn++
		if len(segs) > 0 && i-segs[len(segs)-1][1] < 15 {
			segs[len(segs)-1][1] = i + 1
		} else {
			segs = append(segs, [2]int{i, i + 1})
		}
	}
	return segs, psum / float64(pn)
}

func meanPower(s []int16) float64 {
	var p float64
	for _, v := range s {
		p += float64(v) * float64(v)
	}
	return p / float64(len(s))
}

// mix has sox add noise to the clip at the given SNR (active speech power over noise power), returning the mix and
// the SNR actually achieved (measured as the mix minus the clean speech).
func (c *vadCorpus) mix(clip *corpusClip, noiseName string, snr float64) ([]int16, float64, error) {
	key := fmt.Sprintf("%s/%g", noiseName, snr)
	if m, ok := clip.mixes.Load(key); ok {
		return m.([]int16), snr, nil
	}
	noise := c.white
	if noiseName == "babble" {
		noise = c.babble
	}
	noise = noise[corpusRate : corpusRate+len(clip.clean)]
	gain := math.Sqrt(clip.power / (meanPower(noise) * math.Pow(10, snr/10)))
	sp := filepath.Join(c.dir, clip.name+".clean.wav")
	np := filepath.Join(c.dir, fmt.Sprintf("%s.%s.noise.wav", clip.name, noiseName))
	out := filepath.Join(c.dir, fmt.Sprintf("%s.%s.%g.wav", clip.name, noiseName, snr))
	for _, f := range []struct {
		path string
		s    []int16
	}{{sp, clip.clean}, {np, noise}} {
		b, err := EncodeWAV(corpusRate, 1, WAVPCM16, f.s)
		if err != nil {
			return nil, 0, err
		}
		if err := os.WriteFile(f.path, b, 0o600); err != nil {
			return nil, 0, err
		}
	}
	if err := run("sox", "-D", "-m", "-v", "1", sp, "-v", fmt.Sprintf("%.6f", gain), np, out); err != nil {
		return nil, 0, err
	}
	m, _, err := readWAVFile(out)
	if err != nil {
		return nil, 0, err
	}
	if len(m) != len(clip.clean) {
		return nil, 0, fmt.Errorf("sox mix has %d samples, want %d", len(m), len(clip.clean))
	}
	var np2 float64
	for i := range m {
		d := float64(m[i]) - float64(clip.clean[i])
		np2 += d * d
	}
	got := 10 * math.Log10(clip.power/(np2/float64(len(m))))
	clip.mixes.Store(key, m)
	return m, got, nil
}

// runVAD feeds s through a detector in 20 ms frames and returns the detected segments in frames and the events.
func runVAD(cfg VADConfig, s []int16) ([][2]int, []VADEvent) {
	v := NewVAD(cfg)
	const fs = corpusRate / 50
	var evs []VADEvent
	for i := 0; i+fs <= len(s); i += fs {
		if ev, ok := v.Process(Frame{Rate: corpusRate, Samples: s[i : i+fs]}); ok {
			evs = append(evs, ev)
		}
	}
	var segs [][2]int
	for _, ev := range evs {
		fr := int(ev.At / FrameDuration)
		if ev.Kind == SpeechStart {
			segs = append(segs, [2]int{fr, len(s) / fs})
		} else if len(segs) > 0 {
			segs[len(segs)-1][1] = fr
		}
	}
	return segs, evs
}

func labels(segs [][2]int, n int) []bool {
	l := make([]bool, n)
	for _, sg := range segs {
		for i := max(0, sg[0]); i < min(n, sg[1]); i++ {
			l[i] = true
		}
	}
	return l
}

type vadScore struct {
	frames, correct int
	onsetMax        time.Duration // largest (detected start − true start) over utterances
	onsetEarly      time.Duration // largest amount a start came before the truth
	latencyMax      time.Duration // largest (emission − true start)
	missed          int           // true segments with no detected start overlapping them
	extra           int           // detected segments overlapping no true segment
	snrErr          float64       // largest |achieved − requested| SNR
}

func (s vadScore) accuracy() float64 { return float64(s.correct) / float64(s.frames) }

func scoreClip(sc *vadScore, truth, got [][2]int, evs []VADEvent, nf int) {
	lt, lg := labels(truth, nf), labels(got, nf)
	for i := range nf {
		sc.frames++
		if lt[i] == lg[i] {
			sc.correct++
		}
	}
	for _, tr := range truth {
		found := false
		for _, ev := range evs {
			if ev.Kind != SpeechStart {
				continue
			}
			fr := int(ev.At / FrameDuration)
			if fr < tr[1] && fr >= tr[0]-10 {
				d := ev.At - time.Duration(tr[0])*FrameDuration
				sc.onsetMax = max(sc.onsetMax, d)
				sc.onsetEarly = max(sc.onsetEarly, -d)
				sc.latencyMax = max(sc.latencyMax, ev.Detected-time.Duration(tr[0])*FrameDuration)
				found = true
				break
			}
		}
		if !found {
			sc.missed++
		}
	}
	for _, g := range got {
		hit := false
		for _, tr := range truth {
			if g[0] < tr[1] && tr[0] < g[1] {
				hit = true
			}
		}
		if !hit {
			sc.extra++
		}
	}
}

// TestVADCorpus evaluates the detector on the generated corpus and checks the targets at 10 dB SNR:
// frame accuracy ≥ 95 %, onset ≤ 60 ms after the true onset, and no false start in 30 s of noise alone.
func TestVADCorpus(t *testing.T) {
	c := loadCorpus(t)
	var table strings.Builder
	fmt.Fprintf(&table, "| noise | SNR dB | frame accuracy | worst onset delay | worst early onset | worst detection latency | missed | extra |\n|---|---|---|---|---|---|---|---|\n")
	for _, noise := range []string{"white", "babble"} {
		for _, snr := range []float64{20, 10, 5} {
			var sc vadScore
			for _, clip := range c.clips {
				m, got, err := c.mix(clip, noise, snr)
				if err != nil {
					t.Fatal(err)
				}
				sc.snrErr = math.Max(sc.snrErr, math.Abs(got-snr))
				segs, evs := runVAD(VADConfig{}, m)
				scoreClip(&sc, clip.truth, segs, evs, len(m)/(corpusRate/50))
			}
			fmt.Fprintf(&table, "| %s | %g | %.1f %% | %v | %v | %v | %d | %d |\n", noise, snr, 100*sc.accuracy(),
				sc.onsetMax, sc.onsetEarly, sc.latencyMax, sc.missed, sc.extra)
			if sc.snrErr > 0.5 {
				t.Errorf("%s %g dB: sox mix missed the SNR by %.2f dB", noise, snr, sc.snrErr)
			}
			if snr >= 10 {
				if a := sc.accuracy(); a < 0.95 {
					t.Errorf("%s %g dB: frame accuracy %.1f %% < 95 %%", noise, snr, 100*a)
				}
				if sc.onsetMax > 60*time.Millisecond {
					t.Errorf("%s %g dB: onset %v after the true onset (> 60 ms)", noise, snr, sc.onsetMax)
				}
				if sc.missed > 0 || sc.extra > 0 {
					t.Errorf("%s %g dB: %d utterances missed, %d false segments", noise, snr, sc.missed, sc.extra)
				}
			}
		}
	}
	// Noise alone for 30 s at the level of the 10 dB mixes.
	for _, noise := range []struct {
		name string
		s    []int16
	}{{"white", c.white}, {"babble", c.babble}} {
		seg := noise.s[5*corpusRate : 35*corpusRate]
		gain := math.Sqrt(c.clips[0].power / (meanPower(seg) * 10))
		scaled := make([]int16, len(seg))
		for i, v := range seg {
			scaled[i] = int16(math.Max(-32768, math.Min(32767, float64(v)*gain)))
		}
		_, evs := runVAD(VADConfig{}, scaled)
		fmt.Fprintf(&table, "| %s alone, 30 s | (10 dB level) | false starts: %d | | | | | |\n", noise.name, len(evs))
		if len(evs) > 0 {
			t.Errorf("%s noise alone: %d false events, first %+v", noise.name, len(evs), evs[0])
		}
	}
	t.Log("\n" + table.String())
	if p := os.Getenv("OUTCALL_VAD_TABLE"); p != "" {
		os.WriteFile(p, []byte(table.String()), 0o644)
	}
}
