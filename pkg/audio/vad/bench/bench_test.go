package bench

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/internal/vadcorpus"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/audio/vad"
	_ "github.com/outcall/outcall/pkg/audio/vad/silero" // registers VAD=silero (cgo)
	"github.com/outcall/outcall/pkg/audio/vad/webrtc"
)

var (
	runBench = flag.Bool("vadbench", false, "run the VAD benchmark on real speech (a few minutes)")
	out      = flag.String("vadbench.out", "", "also write the markdown table to this file")
	modes    = flag.Bool("vadbench.modes", false, "add WebRTC aggressiveness 1-3 (mode 0 is always in)")
)

type contender struct {
	name string
	new  audio.DetectorFactory
}

func contenders(t *testing.T) []contender {
	var cs []contender
	for _, name := range vad.Names() {
		f, err := vad.Open(name, vad.Config{})
		if err != nil {
			t.Logf("left out: %v", err)
			continue
		}
		cs = append(cs, contender{name, f})
	}
	if *modes && webrtc.Built {
		for m := 1; m <= 3; m++ {
			cs = append(cs, contender{fmt.Sprintf("webrtc-%d", m), webrtc.Factory(webrtc.Config{Aggressiveness: m})})
		}
	}
	return cs
}

type condition struct {
	noise string
	snr   float64
}

func (c condition) String() string {
	if c.noise == "" {
		return "clean"
	}
	return fmt.Sprintf("%s %g dB", c.noise, c.snr)
}

func TestVADBench(t *testing.T) {
	if !*runBench {
		t.Skip("the VAD benchmark runs only with -args -vadbench (make vad-bench)")
	}
	if err := vadcorpus.Available(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	human, err := vadcorpus.Human()
	if err != nil {
		t.Fatal(err)
	}
	zh, err := vadcorpus.Mandarin(dir)
	if err != nil {
		t.Fatal(err)
	}
	talkers, err := vadcorpus.Talkers(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := vadcorpus.Build(append(human, zh...))
	speech := 0
	for _, l := range st.Labels {
		if l {
			speech++
		}
	}
	t.Logf("corpus: %d utterances, %v of audio, %v labelled speech", len(st.Utterances),
		time.Duration(len(st.Labels))*20*time.Millisecond, time.Duration(speech)*20*time.Millisecond)

	conds := []condition{{}}
	for _, n := range []string{vadcorpus.White, vadcorpus.Babble, vadcorpus.Street} {
		for _, snr := range []float64{20, 10, 5, 0} {
			conds = append(conds, condition{n, snr})
		}
	}
	cs := contenders(t)
	noises := map[string][]float64{}
	for _, n := range []string{vadcorpus.White, vadcorpus.Babble, vadcorpus.Street} {
		noises[n] = vadcorpus.Noise(n, len(st.Clean), talkers, 1)
	}
	scores := make([][]vadcorpus.Score, len(conds))
	for i, c := range conds {
		mix := st.Mix(noises[c.noise], c.snr)
		scores[i] = make([]vadcorpus.Score, len(cs))
		for j, k := range cs {
			d, err := k.new()
			if err != nil {
				t.Fatal(err)
			}
			scores[i][j] = st.Run(d, mix)
			if cl, ok := d.(interface{ Close() error }); ok {
				cl.Close()
			} else if cl, ok := d.(interface{ Close() }); ok {
				cl.Close()
			}
		}
	}
	cpuPer, wallPer := cpu(t, cs, st.Mix(noises[vadcorpus.Babble], 10))
	table := render(conds, cs, scores, cpuPer, wallPer)
	t.Log("\n" + table)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// cpu measures each detector's time per 20 ms frame on one stream: the process's CPU time (every thread, so a
// runtime's helper threads count) and wall time, the best of three passes each.
func cpu(t *testing.T, cs []contender, s []int16) (cpuPer, wallPer []time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpuPer, wallPer = make([]time.Duration, len(cs)), make([]time.Duration, len(cs))
	n := len(s) / vadcorpus.FrameLen
	for j, k := range cs {
		d, err := k.new()
		if err != nil {
			t.Fatal(err)
		}
		cpuPer[j], wallPer[j] = time.Duration(1<<62), time.Duration(1<<62)
		for range 3 {
			d.Reset()
			t0, c0 := time.Now(), vadcorpus.ProcessCPU()
			for i := range n {
				d.Process(audio.Frame{Rate: vadcorpus.Rate, Samples: s[i*vadcorpus.FrameLen : (i+1)*vadcorpus.FrameLen]})
			}
			cpuPer[j] = min(cpuPer[j], (vadcorpus.ProcessCPU()-c0)/time.Duration(n))
			wallPer[j] = min(wallPer[j], time.Since(t0)/time.Duration(n))
		}
	}
	return cpuPer, wallPer
}

func render(conds []condition, cs []contender, scores [][]vadcorpus.Score, cpuPer, wallPer []time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| condition | VAD | frame acc | state acc | onset median / p90 | missed | false starts/min |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|\n")
	for i, c := range conds {
		for j, k := range cs {
			s := scores[i][j]
			fmt.Fprintf(&b, "| %s | %s | %.1f%% | %.1f%% | %d / %d ms | %d | %.1f |\n", c, k.name, 100*s.FrameAcc,
				100*s.StateAcc, s.OnsetMedian.Milliseconds(), s.OnsetP90.Milliseconds(), s.Missed, s.FalsePerMin)
		}
	}
	fmt.Fprintf(&b, "\n| VAD | CPU per 20 ms frame (process) | wall per frame |\n|---|---|---|\n")
	for j, k := range cs {
		fmt.Fprintf(&b, "| %s | %.2f µs | %.2f µs |\n", k.name, float64(cpuPer[j])/1e3, float64(wallPer[j])/1e3)
	}
	return b.String()
}
