// Command arimedia measures the media path of this project's call drivers on a real PBX: -n concurrent echo
// calls (Local/echo@outcall-test on Asterisk through ari/driver, one run per -transport), each of which plays a
// 1 kHz tone and listens to it come back, for -for. It prints, per transport and size, this process's CPU per
// call-second and the PBX's (from /proc/<pid>/stat), echoed frames lost, the playout clock's send lateness
// p50/p99 (the "playout jitter" of BENCHMARKS.md), the read cadence's p99 gap, goroutines, heap and RSS per call,
// and the load average.
//
//	flock /tmp/asterisk.lock go run ./bench/arimedia -transport rtp -sizes 50,200,500 -for 20s
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outcall/outcall/ari"
	"github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/esl"
)

type options struct {
	PBX                            string // asterisk or freeswitch
	ESLAddr, ESLPass               string
	URL, User, Pass, App, Endpoint string
	Transport                      string
	Window, Settle                 time.Duration
	DialConc                       int
	DialRate                       float64 // call starts per second; 0: as fast as DialConc allows
	PBXPID                         int
}

// result is one transport at one size.
type result struct {
	Transport      string   `json:"transport"`
	Calls          int      `json:"calls"`
	Answered       int      `json:"answered"`
	SetupS         float64  `json:"setup_s"`
	WindowS        float64  `json:"window_s"`
	CPUUsPerCallS  float64  `json:"cpu_us_per_call_s"`   // this process
	PBXUsPerCallS  float64  `json:"pbx_us_per_call_s"`   // the PBX process
	CPUCores       float64  `json:"cpu_cores"`           // this process
	PBXCores       float64  `json:"pbx_cores"`           // the PBX
	Expected       int64    `json:"expected_frames"`     // 50 per call-second of the window
	Heard          int64    `json:"heard_frames"`        // frames read in the window that carried the tone
	Lost           int64    `json:"lost_frames"`         // Expected − Heard (silence or concealment instead)
	LostPct        float64  `json:"lost_pct"`            //
	JitterP50Ms    float64  `json:"jitter_p50_ms"`       // playout clock send lateness
	JitterP99Ms    float64  `json:"jitter_p99_ms"`       //
	SkippedTicks   uint64   `json:"skipped_ticks"`       //
	ReadGapP99Ms   float64  `json:"read_gap_p99_ms"`     // time between two frames read by one call
	GoroutinesCall float64  `json:"goroutines_per_call"` //
	HeapKiBCall    float64  `json:"heap_kib_per_call"`   //
	RSSKiBCall     float64  `json:"rss_kib_per_call"`    //
	Load1          float64  `json:"load1"`               // when the window started
	Errors         []string `json:"errors,omitempty"`
}

func main() {
	var o options
	flag.StringVar(&o.PBX, "pbx", "asterisk", "asterisk (ari/driver) or freeswitch (pkg/esl, unicast media)")
	flag.StringVar(&o.ESLAddr, "esl", "127.0.0.1:8021", "FreeSWITCH event socket (-pbx freeswitch)")
	flag.StringVar(&o.ESLPass, "eslpass", "ClueCon", "event socket password")
	flag.StringVar(&o.URL, "url", "http://127.0.0.1:8088", "ARI base URL")
	flag.StringVar(&o.User, "user", "outcall", "ARI user")
	flag.StringVar(&o.Pass, "pass", "change-me", "ARI password")
	flag.StringVar(&o.App, "app", "outcall-media-bench", "Stasis application")
	flag.StringVar(&o.Endpoint, "endpoint", "", "dial string of an echo line (default: Local/echo@outcall-test; FreeSWITCH: loopback/echo/outcall-test)")
	flag.DurationVar(&o.Window, "for", 20*time.Second, "measurement window")
	flag.DurationVar(&o.Settle, "settle", 2*time.Second, "wait after the last call is up, before the window")
	flag.IntVar(&o.DialConc, "dialconc", 8, "calls being set up at a time")
	flag.Float64Var(&o.DialRate, "dialrate", 0, "call starts per second (default: unpaced on Asterisk, 12 on FreeSWITCH, whose vanilla sessions-per-second is 30 and a loopback call two sessions)")
	flag.IntVar(&o.PBXPID, "pbxpid", 0, "pid of the PBX (default: the process named asterisk)")
	transports := flag.String("transport", "rtp,audiosocket,websocket", "transports, one run each")
	sizes := flag.String("sizes", "50,200,500", "concurrent calls")
	jsonOut := flag.String("json", "", "append the results as JSON lines to this file")
	flag.Parse()
	if o.PBX == "freeswitch" {
		*transports = "unicast"
		if o.DialRate == 0 {
			o.DialRate = 12
		}
		if o.Endpoint == "" {
			o.Endpoint = "loopback/echo/outcall-test"
		}
	} else if o.Endpoint == "" {
		o.Endpoint = "Local/echo@outcall-test"
	}
	if o.PBXPID == 0 {
		o.PBXPID = pidOf(o.PBX)
	}
	var results []result
	for _, tr := range strings.Split(*transports, ",") {
		for _, s := range strings.Split(*sizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n <= 0 {
				fail(fmt.Errorf("bad size %q", s))
			}
			o.Transport = strings.TrimSpace(tr)
			r, err := run(context.Background(), o, n)
			if err != nil {
				fail(fmt.Errorf("%s n=%d: %w", o.Transport, n, err))
			}
			fmt.Fprintf(os.Stderr, "arimedia: %s n=%d: %d answered, %.0f µs/call-s, lost %d, jitter p99 %.2f ms\n",
				r.Transport, n, r.Answered, r.CPUUsPerCallS, r.Lost, r.JitterP99Ms)
			results = append(results, r)
			if *jsonOut != "" {
				appendJSON(*jsonOut, r)
			}
		}
	}
	printTable(os.Stdout, results)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "arimedia:", err)
	os.Exit(1)
}

func appendJSON(path string, v any) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fail(err)
	}
	defer f.Close()
	_ = json.NewEncoder(f).Encode(v)
}

type usage struct {
	goroutines int
	heap, rss  uint64
}

func memUsage() usage {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return usage{goroutines: runtime.NumGoroutine(), heap: ms.HeapInuse, rss: uint64(processRSS())}
}

// run sets up n echo calls on one transport, measures the window, and hangs them up.
func run(ctx context.Context, o options, n int) (result, error) {
	res := result{Transport: o.Transport, Calls: n}
	before := memUsage()
	d, clock, closeAll, err := newDialer(ctx, o)
	if err != nil {
		return res, err
	}
	defer closeAll()
	t0 := time.Now()
	calls, errs := dialAll(ctx, d, o, n)
	res.SetupS, res.Answered, res.Errors = time.Since(t0).Seconds(), len(calls), errs
	if len(calls) == 0 {
		return res, fmt.Errorf("no call answered: %v", errs)
	}
	mctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var measuring atomic.Bool
	var heard atomic.Int64
	gaps := make([][]time.Duration, len(calls))
	tone := toneFrame(8000)
	for i, c := range calls {
		m := c.Media()
		wg.Add(2)
		go func() { // the bot talks: Write blocks on the playout queue, so this is paced by the clock
			defer wg.Done()
			for m.Write(mctx, tone) == nil {
			}
		}()
		go func() { // the bot listens
			defer wg.Done()
			var last time.Time
			for {
				f, err := m.Read(mctx)
				if err != nil {
					return
				}
				now := time.Now()
				if measuring.Load() {
					if isTone(f.Samples, f.Rate) {
						heard.Add(1)
					}
					if !last.IsZero() {
						gaps[i] = append(gaps[i], now.Sub(last))
					}
				}
				last = now
			}
		}()
	}
	time.Sleep(o.Settle) // the echo path fills; a benchmark's settling time, not a test's synchronisation
	mid := memUsage()
	res.Load1 = loadAvg1()
	clock.ResetStats()
	cpu0, pbx0, w0 := processCPU(), procCPU(o.PBXPID), time.Now()
	measuring.Store(true)
	time.Sleep(o.Window)
	measuring.Store(false)
	win := time.Since(w0)
	cpu, pbx := processCPU()-cpu0, procCPU(o.PBXPID)-pbx0
	cs := clock.Stats()
	stop()
	wg.Wait()
	hangupAll(ctx, calls, o.DialConc)

	live := float64(len(calls))
	callS := live * win.Seconds()
	res.WindowS = win.Seconds()
	res.CPUUsPerCallS, res.PBXUsPerCallS = float64(cpu.Microseconds())/callS, float64(pbx.Microseconds())/callS
	res.CPUCores, res.PBXCores = cpu.Seconds()/win.Seconds(), pbx.Seconds()/win.Seconds()
	res.Expected = int64(callS * 50)
	res.Heard = heard.Load()
	res.Lost = max(0, res.Expected-res.Heard)
	res.LostPct = 100 * float64(res.Lost) / float64(res.Expected)
	res.JitterP50Ms, res.JitterP99Ms = ms(cs.P50), ms(cs.P99)
	res.SkippedTicks = cs.Skipped
	res.ReadGapP99Ms = ms(p99(gaps))
	res.GoroutinesCall = float64(mid.goroutines-before.goroutines) / live
	res.HeapKiBCall = (float64(mid.heap) - float64(before.heap)) / 1024 / live
	res.RSSKiBCall = (float64(mid.rss) - float64(before.rss)) / 1024 / live
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

func p99(per [][]time.Duration) time.Duration {
	var all []time.Duration
	for _, g := range per {
		all = append(all, g...)
	}
	if len(all) == 0 {
		return 0
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return all[len(all)*99/100]
}

// newDialer is the driver of o.PBX with its playout clock; close ends both (and the client under it). The memory
// baseline is taken before it, so the per-call figures carry the driver's share.
func newDialer(ctx context.Context, o options) (call.Dialer, *audio.Clock, func(), error) {
	if o.PBX == "freeswitch" {
		c, err := esl.Dial(ctx, esl.Config{Addr: o.ESLAddr, Password: o.ESLPass})
		if err != nil {
			return nil, nil, nil, err
		}
		clock := audio.NewClock(audio.ClockConfig{})
		cctx, stop := context.WithCancel(ctx)
		go func() { _ = clock.Run(cctx) }()
		d, err := esl.NewDriver(c, esl.DriverConfig{Format: audio.Narrowband, Clock: clock})
		if err != nil {
			stop()
			_ = c.Close()
			return nil, nil, nil, err
		}
		return d, clock, func() { _ = d.Close(); stop(); _ = c.Close() }, nil
	}
	cl, err := ari.New(ari.Config{URL: o.URL, Username: o.User, Password: o.Pass, App: o.App})
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cl.Start(ctx); err != nil {
		return nil, nil, nil, err
	}
	d, err := driver.New(cl, driver.Config{Transport: o.Transport})
	if err != nil {
		_ = cl.Close()
		return nil, nil, nil, err
	}
	return d, d.Clock(), func() { _ = d.Close(); _ = cl.Close() }, nil
}

func dialAll(ctx context.Context, d call.Dialer, o options, n int) ([]call.Call, []string) {
	var (
		mu    sync.Mutex
		calls []call.Call
		errs  []string
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, o.DialConc)
	var pace <-chan time.Time
	if o.DialRate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / o.DialRate))
		defer t.Stop()
		pace = t.C
	}
	for i := range n {
		if pace != nil {
			<-pace
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			c, err := d.Dial(dctx, call.Request{Endpoint: o.Endpoint, Timeout: 10 * time.Second})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if len(errs) < 5 {
					errs = append(errs, fmt.Sprintf("call %d: %v", i, err))
				}
				return
			}
			calls = append(calls, c)
		}()
	}
	wg.Wait()
	return calls, errs
}

func hangupAll(ctx context.Context, calls []call.Call, conc int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, conc)
	for _, c := range calls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			hctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			_ = c.Hangup(hctx, call.CauseNormal)
			for range c.Events() {
			}
		}()
	}
	wg.Wait()
}

// toneFrame is 20 ms of a 1 kHz tone; at 8 and 16 kHz every frame of it is the same, so one frame is played over
// and over.
func toneFrame(rate int) audio.Frame {
	f := audio.Frame{Rate: rate, Samples: make([]int16, rate/50)}
	for i := range f.Samples {
		f.Samples[i] = int16(6000 * math.Sin(2*math.Pi*1000*float64(i)/float64(rate)))
	}
	return f
}

// isTone reports whether most of the frame's energy is at 1 kHz (Goertzel), i.e. the echo of toneFrame.
func isTone(s []int16, rate int) bool {
	if len(s) == 0 {
		return false
	}
	coeff := 2 * math.Cos(2*math.Pi*1000/float64(rate))
	var s1, s2, total float64
	for _, v := range s {
		x := float64(v)
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
		total += x * x
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2 // |X(1 kHz)|²
	if total < 1e3*float64(len(s)) {     // silence or near it
		return false
	}
	return power/(total*float64(len(s))/2) > 0.5
}

func printTable(w io.Writer, rs []result) {
	fmt.Fprintln(w, "| transport | calls (answered) | set-up | our CPU µs / call-s (cores) | PBX µs / call-s (cores) | frames lost / expected | playout jitter p50 / p99 (skipped ticks) | read gap p99 | goroutines / heap / RSS per call | load 1 min |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %d (%d) | %.1f s | %.0f (%.2f) | %.0f (%.2f) | %d / %d (%.2f %%) | %.2f / %.2f ms (%d) | %.1f ms | %.1f / %.0f KiB / %.0f KiB | %.2f |\n",
			r.Transport, r.Calls, r.Answered, r.SetupS, r.CPUUsPerCallS, r.CPUCores, r.PBXUsPerCallS, r.PBXCores,
			r.Lost, r.Expected, r.LostPct, r.JitterP50Ms, r.JitterP99Ms, r.SkippedTicks, r.ReadGapP99Ms,
			r.GoroutinesCall, r.HeapKiBCall, r.RSSKiBCall, r.Load1)
	}
}
