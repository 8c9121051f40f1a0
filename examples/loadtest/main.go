// Command loadtest drives many concurrent AI calls through the whole outcall stack and measures what the library
// costs: ARI REST and events, ExternalMedia RTP over real UDP on 127.0.0.1, G.711, the jitter buffer, VAD,
// resampling, an instant fake ASR and TTS (text round-trips through audio), the dialog runtime and the Redis store on
// a real redis-server. The Asterisk simulator (ari/aritest) runs in a second process — this binary re-executed
// with -sim — so each side's CPU is accounted separately. Each simulated callee answers, talks over the bot once
// (barge-in), answers the other prompts and hangs up after -turns utterances; calls start at -rate per second and
// at most -n are live.
//
//	go run ./examples/loadtest -n 500 -for 15s
//	go run ./examples/loadtest -sweep -json out/loadtest.json -rtpfloor /tmp/rtpfloor
//
// REDIS_URL selects the Redis server; when it is unset a redis-server is started for the run.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

func main() {
	var (
		simMode  = flag.Bool("sim", false, "run the simulator process (used by the controller; speaks JSON lines on stdin/stdout)")
		n        = flag.Int("n", 100, "concurrent calls")
		rate     = flag.Float64("rate", 0, "call starts per second (default n/4, at least 20)")
		turns    = flag.Int("turns", 3, "callee utterances per call, one of them a barge-in (>= 2)")
		window   = flag.Duration("for", 15*time.Second, "measurement window per size, after the ramp")
		settle   = flag.Duration("settle", time.Second, "wait between the ramp and the window")
		noGate   = flag.Bool("nogate", false, "feed the recognizer every frame (default: only around the callee's speech, dialog.TurnConfig.GateASR)")
		bargeIn  = flag.Duration("bargein", 0, "dialog TurnConfig.BargeInAfter (default: the library's 400ms)")
		jitter   = flag.Int("jitter", 0, "driver JitterDepth in frames (default: the driver's 3)")
		asrRate  = flag.Int("asrrate", 0, "rate the recognizer is fed at (default: the call's 8 kHz, as a deployment streams it; 16000: resampled, the session 1-2 path)")
		sweep    = flag.Bool("sweep", false, "run every size of -sizes")
		sizes    = flag.String("sizes", "100,500,1000,2000", "sweep sizes")
		jsonOut  = flag.String("json", "", "write the results as JSON to this file")
		cpuProf  = flag.String("cpuprofile", "", "write the controller's CPU profile over the window (sweep: file.N)")
		memProf  = flag.String("memprofile", "", "write the controller's heap profile at the window's end (sweep: file.N)")
		floorBin = flag.String("rtpfloor", "", "rtpfloor binary: measure the bare RTP floor for the same N after each run")
		simProf  = flag.String("simcpuprofile", "", "write the simulator process's CPU profile over its whole run to this file")
		verbose  = flag.Bool("v", false, "warnings of the library on stderr")
	)
	flag.Parse()
	log := zerolog.Nop()
	if *verbose {
		log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	}
	if *simMode {
		if *cpuProf != "" { // the controller passes -simcpuprofile on as -cpuprofile
			f, err := os.Create(*cpuProf)
			if err == nil && pprof.StartCPUProfile(f) == nil {
				defer func() {
					pprof.StopCPUProfile()
					_ = f.Close()
				}()
			}
		}
		if err := serveSim(os.Stdin, os.Stdout, *turns, log); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest -sim:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
	list := []int{*n}
	if *sweep {
		list = nil
		for _, s := range strings.Split(*sizes, ",") {
			v, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || v <= 0 {
				fmt.Fprintf(os.Stderr, "loadtest: bad size %q in -sizes\n", s)
				os.Exit(2)
			}
			list = append(list, v)
		}
	}
	base := Config{Rate: *rate, Turns: *turns, For: *window, Settle: *settle, BargeInAfter: *bargeIn,
		NoGate: *noGate, ASRRate: *asrRate, JitterDepth: *jitter, Floor: *floorBin, Progress: os.Stderr, Logger: log,
		Sim: []string{exe, "-sim"}}
	if *verbose {
		base.Sim = append(base.Sim, "-v")
	}
	if *simProf != "" {
		base.Sim = append(base.Sim, "-cpuprofile", *simProf)
	}
	results, err := sweepSizes(ctx, base, list, *cpuProf, *memProf, os.Stdout)
	if *jsonOut != "" && len(results) > 0 {
		if werr := writeJSON(*jsonOut, results); werr != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", werr)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// sweepSizes runs base for each size, with a redis-server of its own unless REDIS_URL is set, and prints the
// table to w. Profiles named by cpuProf and memProf get the size as a suffix when there are several sizes.
func sweepSizes(ctx context.Context, base Config, sizes []int, cpuProf, memProf string, w io.Writer) ([]*Result, error) {
	if base.RedisURL == "" {
		base.RedisURL = os.Getenv("REDIS_URL")
	}
	if base.RedisURL == "" {
		rs, err := startRedis(ctx)
		if err != nil {
			return nil, err
		}
		defer rs.stop()
		base.RedisURL = rs.url
	}
	var results []*Result
	for _, size := range sizes {
		cfg := base
		cfg.Calls = size
		cfg.fill()
		cfg.CPUProfile, cfg.MemProfile = profilePath(cpuProf, size, len(sizes)), profilePath(memProf, size, len(sizes))
		res, err := Run(ctx, cfg)
		if err != nil {
			return results, err
		}
		if cfg.Floor != "" {
			fr, err := runFloor(ctx, cfg.Floor, size, cfg.FloorFor)
			if err != nil {
				return results, err
			}
			res.FloorCores, res.FloorUs, res.FloorCommand = fr.Cores, fr.UsPerCall, fr.Command
			if fr.UsPerCall > 0 {
				res.FloorRatio = res.CPUPerCallUs / fr.UsPerCall
			}
		}
		results = append(results, res)
		for _, e := range res.ErrorList {
			fmt.Fprintln(os.Stderr, "loadtest: n="+strconv.Itoa(size)+":", e)
		}
	}
	printTable(w, results)
	return results, nil
}

// profilePath is path, suffixed with .size in a sweep; "" stays "".
func profilePath(path string, size, sizes int) string {
	if path == "" || sizes == 1 {
		return path
	}
	return path + "." + strconv.Itoa(size)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// printTable writes one row per size and marks each figure against issue 10's targets.
func printTable(w io.Writer, rs []*Result) {
	fmt.Fprintln(w, "| N | live (mean) | done / started | errors | ctl CPU | µs CPU / call-s | × floor | RSS / call | heap / call | goroutines / call | jitter p50 / p99 | turn p50 / p99 (callee, − jitter buf) | turn proc p50 / p99 | barge-in stop p50 / p99 (leaked) | Redis RT / turn | sim CPU |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		floor := "—"
		if r.FloorRatio > 0 {
			floor = fmt.Sprintf("%.1f× (%.0f µs)", r.FloorRatio, r.FloorUs)
		}
		fmt.Fprintf(w, "| %d | %.0f | %d / %d | %d | %.2f cores (%.0f %%)%s | %.0f | %s | %.0f KiB%s | %.0f KiB | %.1f | %.2f / %.2f ms%s | %.0f / %.0f ms | %.0f / %.0f µs%s | %.0f / %.0f ms (%d)%s | %.2f%s | %.2f cores |\n",
			r.Calls, r.LiveMean, r.Completed, r.Started, r.Errors,
			r.CPUCores, r.CPUPercent, mark(r.Calls >= 2000, r.CPUPercent < 60, "< 60 %"),
			r.CPUPerCallUs, floor,
			r.RSSPerCallKiB, mark(true, r.RSSPerCallKiB <= 256, "≤ 256 KiB"), r.HeapPerCallKiB, r.GoroutinesPerCall,
			r.JitterP50Ms, r.JitterP99Ms, mark(true, r.JitterP99Ms < 5, "p99 < 5 ms"),
			r.TurnP50Ms, r.TurnP99Ms, r.ProcP50Us, r.ProcP99Us, mark(r.Calls == 500, r.ProcP99Us < 5000, "p99 < 5,000 µs"),
			r.BargeP50Ms, r.BargeP99Ms, r.BargeLeaked, mark(true, r.BargeP99Ms <= 100 && r.BargeLeaked == 0, "p99 ≤ 100 ms, 0 leaked"),
			r.RedisPerTurn, mark(true, r.RedisPerTurn <= 1.0001, "≤ 1"), r.SimCPUCores)
	}
}

// mark returns " ✓" when the target applies and is met, " ✗ (target …)" when it is missed, else "": a miss says
// what it missed.
func mark(applies, met bool, target string) string {
	switch {
	case !applies:
		return ""
	case met:
		return " ✓"
	}
	return " ✗ (target " + target + ")"
}
