package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/outcall/outcall/ari"
	aridriver "github.com/outcall/outcall/ari/driver"
	"github.com/outcall/outcall/asr/asrtest"
	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/store"
	"github.com/outcall/outcall/tts"
	"github.com/outcall/outcall/tts/ttstest"
)

// Config is one load run.
type Config struct {
	Calls  int           // concurrent calls to keep up; default: 100
	Rate   float64       // call starts per second; default: Calls/4, at least 20
	Turns  int           // callee utterances per call, one of them a barge-in; at least 2; default: 3
	For    time.Duration // measurement window, after the ramp to Calls and Settle; default: 15s
	Settle time.Duration // wait after the ramp before measuring; default: 1s
	// BargeInAfter is dialog.TurnConfig.BargeInAfter; default: 0 (the library's default, 400 ms)
	BargeInAfter time.Duration
	// NoGate feeds the recognizer every frame instead of only around the callee's speech (dialog.TurnConfig.GateASR)
	NoGate bool
	// ASRRate is the rate the recognizer is fed at. 0 (default): the call's own rate, 8 kHz, unresampled, as a
	// deployment streams telephony audio to an ASR service that takes 8 kHz (FunASR, Vosk and the cloud
	// recognisers do); 16000 resamples on the way as sessions 1-2 measured (audio.Resampler).
	ASRRate int
	// JitterDepth is aridriver.Config.JitterDepth; default: 0 (the driver's default, 3 frames = 60 ms)
	JitterDepth int
	RedisURL    string // Redis of the dialog store; required
	// Sim is the command that runs the simulator: this binary with -sim (a test binary intercepts it in TestMain).
	Sim []string
	// Floor is the rtpfloor binary to run for the same N after the run; empty: skipped.
	Floor      string
	FloorFor   time.Duration // default: 12s
	CPUProfile string        // write the controller's CPU profile over the window to this file; empty: none
	MemProfile string        // write the controller's heap profile at the window's end to this file; empty: none
	// WholeRun counts the latency samples of the whole run rather than only those of the window: for short runs
	// (tests) whose window is shorter than a call.
	WholeRun bool
	Progress io.Writer // one line per phase; default: io.Discard
	Logger   zerolog.Logger
}

func (c *Config) fill() {
	if c.Calls <= 0 {
		c.Calls = 100
	}
	if c.Rate <= 0 {
		c.Rate = max(20, float64(c.Calls)/4)
	}
	if c.Turns < 2 {
		c.Turns = 3
	}
	if c.For <= 0 {
		c.For = 15 * time.Second
	}
	if c.Settle <= 0 {
		c.Settle = time.Second
	}
	if c.FloorFor <= 0 {
		c.FloorFor = 12 * time.Second
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

// Result is what one run measured. Durations are in milliseconds or microseconds as their names say.
type Result struct {
	Calls    int     `json:"calls"`     // target concurrency N
	Turns    int     `json:"turns"`     // callee utterances per call
	Rate     float64 `json:"rate"`      // call starts per second
	WindowS  float64 `json:"window_s"`  // measurement window
	LiveMean float64 `json:"live_mean"` // live calls, mean over the window
	LiveMin  int     `json:"live_min"`  // live calls, least over the window

	Started   int      `json:"started"`   // dial attempts
	Completed int      `json:"completed"` // calls that went through every turn, barged in once and were hung up by the callee
	Errors    int      `json:"errors"`    // dials or dialogs that failed, calls that did not complete as scripted
	ErrorList []string `json:"error_list,omitempty"`

	CPUCores          float64 `json:"cpu_cores"`         // controller CPU over the window
	CPUPercent        float64 `json:"cpu_percent"`       // of all cores (nproc)
	CPUPerCallUs      float64 `json:"cpu_us_per_call_s"` // controller µs of CPU per call-second
	RSSMiB            float64 `json:"rss_mib"`           // controller resident set at the window's end
	RSSPerCallKiB     float64 `json:"rss_kib_per_call"`  // (RSS − RSS before the first call) / live calls
	HeapPerCallKiB    float64 `json:"heap_kib_per_call"` // (Go heap in use − before) / live calls
	GoroutinesPerCall float64 `json:"goroutines_per_call"`

	JitterP50Ms  float64 `json:"jitter_p50_ms"` // playout clock send lateness
	JitterP99Ms  float64 `json:"jitter_p99_ms"`
	JitterMaxMs  float64 `json:"jitter_max_ms"`
	ClockSkipped uint64  `json:"clock_skipped"`

	// Turn latency as the callee hears it: end of its last speech frame → first frame of the reply, on the
	// simulator's 20 ms clock, minus the configured delays (recognizer hangover 0, jitter buffer depth).
	TurnP50Ms    float64 `json:"turn_p50_ms"`
	TurnP99Ms    float64 `json:"turn_p99_ms"`
	TurnRawP99Ms float64 `json:"turn_raw_p99_ms"` // the same before subtracting the jitter buffer depth
	TurnN        int     `json:"turn_n"`
	// Turn processing in the controller: final transcript delivered → first reply frame queued for playout.
	ProcP50Us float64 `json:"proc_p50_us"`
	ProcP99Us float64 `json:"proc_p99_us"`
	ProcN     int     `json:"proc_n"`

	BargeP50Ms     float64 `json:"barge_p50_ms"` // callee onset → last bot frame heard
	BargeP99Ms     float64 `json:"barge_p99_ms"`
	BargeN         int     `json:"barge_n"`
	BargeLeaked    int     `json:"barge_leaked_frames"` // bot frames heard after the stop: must be 0
	BargeInAfterMs float64 `json:"barge_in_after_ms"`   // the configured threshold
	GateASR        bool    `json:"gate_asr"`            // the recognizer heard only the callee's speech

	RedisRoundTrips int64   `json:"redis_round_trips"` // commands and pipelines sent for the application
	RedisSetup      int64   `json:"redis_setup"`       // connection setup (HELLO, CLIENT SETINFO): once per pooled connection
	JournalTurns    int64   `json:"journal_turns"`
	RedisPerTurn    float64 `json:"redis_per_turn"`

	RTPInPerCallS  float64 `json:"rtp_in_per_call_s"` // packets received per live call per second
	RTPOutPerCallS float64 `json:"rtp_out_per_call_s"`

	SimCPUCores float64 `json:"sim_cpu_cores"`
	SimRSSMiB   float64 `json:"sim_rss_mib"`
	SimSkipped  int64   `json:"sim_skipped_ticks"`
	SimOverflow int64   `json:"sim_overflow"`

	FloorCores   float64 `json:"floor_cores,omitempty"` // rtpfloor batchbot for the same N
	FloorUs      float64 `json:"floor_us_per_call_s,omitempty"`
	FloorRatio   float64 `json:"floor_ratio,omitempty"` // CPUPerCallUs / FloorUs
	FloorCommand string  `json:"floor_command,omitempty"`
}

// maxErrorList bounds the error messages kept in a Result.
const maxErrorList = 10

// run is one load run in progress.
type run struct {
	cfg    Config
	log    zerolog.Logger
	script *dialog.Script
	drv    *aridriver.Driver
	store  dialog.Store
	rt     *roundTrips
	tts    tts.Synthesizer // the fake synthesizer behind the library's prompt cache, shared by every call

	measuring atomic.Bool
	proc      samples

	mu        sync.Mutex
	started   int
	completed int
	errs      int
	errList   []string
	journal   int64
}

func (r *run) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs++
	if len(r.errList) < maxErrorList {
		r.errList = append(r.errList, fmt.Sprintf(format, args...))
	}
}

// Run starts the simulator process, drives cfg.Calls concurrent calls through it and measures.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.fill()
	if cfg.RedisURL == "" {
		return nil, errors.New("loadtest: no Redis URL")
	}
	if len(cfg.Sim) == 0 {
		return nil, errors.New("loadtest: no simulator command")
	}
	script, err := botScript(cfg.Turns)
	if err != nil {
		return nil, err
	}
	sim, err := startSim(ctx, cfg.Sim, cfg.Turns)
	if err != nil {
		return nil, err
	}
	defer sim.stop()

	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("loadtest: REDIS_URL: %w", err)
	}
	opt.PoolSize = max(opt.PoolSize, 64)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	rt := &roundTrips{}
	rdb.AddHook(rt)

	// The default http.Transport keeps 2 idle connections per host; thousands of calls' REST requests need more.
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 90 * time.Second}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	client, err := ari.New(ari.Config{URL: sim.hello.URL, Username: sim.hello.Username, Password: sim.hello.Password,
		App: "loadtest", HTTPClient: hc, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	defer client.Close()
	if err := client.Start(ctx); err != nil {
		return nil, fmt.Errorf("loadtest: ARI events: %w", err)
	}
	drv, err := aridriver.New(client, aridriver.Config{JitterDepth: cfg.JitterDepth, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	defer drv.Close()

	r := &run{cfg: cfg, log: cfg.Logger, script: script, drv: drv, rt: rt,
		tts:   tts.NewCache(&ttstest.Synthesizer{}, tts.CacheConfig{}),
		store: dialog.NewStore(store.NewRedis(rdb, store.RedisConfig{TTL: 10 * time.Minute}))}
	return r.drive(ctx, sim)
}

// drive starts calls at the configured rate, keeping at most Calls live, measures a window once the ramp is done,
// then lets the live calls finish.
func (r *run) drive(ctx context.Context, sim *simProc) (*Result, error) {
	cfg := r.cfg
	res := &Result{Calls: cfg.Calls, Turns: cfg.Turns, Rate: cfg.Rate, BargeInAfterMs: ms(r.bargeInAfter()),
		GateASR: !cfg.NoGate}
	runtime.GC()
	g0, rss0, heap0 := runtime.NumGoroutine(), processRSS(), heapInUse()

	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	var wg sync.WaitGroup
	var live atomic.Int64
	stopStarting := make(chan struct{})
	launcherDone := make(chan struct{})
	go func() { // the launcher
		defer close(launcherDone)
		interval := time.Duration(float64(time.Second) / cfg.Rate)
		next := time.Now()
		for {
			select {
			case <-stopStarting:
				return
			case <-runCtx.Done():
				return
			default:
			}
			if live.Load() >= int64(cfg.Calls) {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			next = next.Add(interval)
			if behind := time.Since(next); behind > time.Second {
				next = time.Now() // do not burst to catch up after a stall
			}
			live.Add(1)
			wg.Add(1)
			r.mu.Lock()
			r.started++
			r.mu.Unlock()
			go func() {
				defer wg.Done()
				defer live.Add(-1)
				r.oneCall(runCtx)
			}()
		}
	}()

	// Ramp: wait until Calls are live (or long enough that the rate should have got there).
	fmt.Fprintf(cfg.Progress, "loadtest: n=%d ramping at %.0f calls/s\n", cfg.Calls, cfg.Rate)
	rampLimit := time.Now().Add(time.Duration(float64(cfg.Calls)/cfg.Rate*float64(time.Second)) + 10*time.Second)
	for int(live.Load()) < cfg.Calls && time.Now().Before(rampLimit) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	sleepCtx(ctx, cfg.Settle)

	// The window.
	fmt.Fprintf(cfg.Progress, "loadtest: n=%d measuring for %v (live %d)\n", cfg.Calls, cfg.For, live.Load())
	var prof *os.File
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return nil, err
		}
		prof = f
	}
	u0, err := sim.usage()
	if err != nil {
		return nil, err
	}
	r.drv.Clock().ResetStats()
	rtp0 := r.drv.RTPStats()
	c0, w0 := processCPU(), time.Now()
	r.measuring.Store(true)
	var liveSum float64
	var liveN int
	liveMin := cfg.Calls
	var gMid int
	var liveMid int
	end := w0.Add(cfg.For)
	for time.Now().Before(end) && ctx.Err() == nil {
		sleepCtx(ctx, 100*time.Millisecond)
		l := r.drv.ActiveCalls()
		liveSum += float64(l)
		liveN++
		liveMin = min(liveMin, l)
		if gMid == 0 && time.Since(w0) >= cfg.For/2 {
			gMid, liveMid = runtime.NumGoroutine(), l
		}
	}
	r.measuring.Store(false)
	c1, w1 := processCPU(), time.Now()
	cs := r.drv.Clock().Stats()
	rtp1 := r.drv.RTPStats()
	liveEnd := r.drv.ActiveCalls()
	rss1, heap1 := processRSS(), heapInUse()
	if cfg.MemProfile != "" {
		if err := writeHeapProfile(cfg.MemProfile); err != nil {
			return nil, err
		}
	}
	u1, err := sim.usage()
	if err != nil {
		return nil, err
	}
	if prof != nil {
		pprof.StopCPUProfile()
		_ = prof.Close()
	}
	close(stopStarting)
	<-launcherDone

	// Drain: every live call ends by itself once its callee hangs up.
	fmt.Fprintf(cfg.Progress, "loadtest: n=%d draining %d calls\n", cfg.Calls, live.Load())
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(90 * time.Second):
		r.fail("%d calls still live 90s after the window; cancelled", live.Load())
		cancelRun()
		<-drained
	case <-ctx.Done():
		cancelRun()
		<-drained
	}
	calls, err := sim.calls()
	if err != nil {
		return nil, err
	}

	window := w1.Sub(w0)
	res.WindowS = window.Seconds()
	if liveN > 0 {
		res.LiveMean = liveSum / float64(liveN)
	}
	res.LiveMin = liveMin
	res.CPUCores = (c1 - c0).Seconds() / window.Seconds()
	res.CPUPercent = 100 * res.CPUCores / float64(runtime.NumCPU())
	if res.LiveMean > 0 {
		res.CPUPerCallUs = float64((c1 - c0).Microseconds()) / (res.LiveMean * window.Seconds())
		res.RTPInPerCallS = float64(rtp1.Received-rtp0.Received) / (res.LiveMean * window.Seconds())
		res.RTPOutPerCallS = float64(rtp1.Sent-rtp0.Sent) / (res.LiveMean * window.Seconds())
	}
	res.RSSMiB = float64(rss1) / (1 << 20)
	if liveEnd > 0 {
		res.RSSPerCallKiB = float64(rss1-rss0) / 1024 / float64(liveEnd)
		res.HeapPerCallKiB = float64(heap1-heap0) / 1024 / float64(liveEnd)
	}
	if liveMid > 0 {
		res.GoroutinesPerCall = float64(gMid-g0) / float64(liveMid)
	}
	res.JitterP50Ms, res.JitterP99Ms, res.JitterMaxMs, res.ClockSkipped = ms(cs.P50), ms(cs.P99), ms(cs.Max), cs.Skipped
	res.SimCPUCores = (u1.CPU - u0.CPU).Seconds() / window.Seconds()
	res.SimRSSMiB = float64(u1.RSS) / (1 << 20)
	res.SimSkipped = u1.Stats.SkippedTicks - u0.Stats.SkippedTicks
	res.SimOverflow = u1.Stats.MediaOverflow

	r.calleeFigures(res, calls, w0, w1)
	r.proc.mu.Lock()
	p50, p99, n := quantiles(r.proc.d)
	r.proc.mu.Unlock()
	res.ProcP50Us, res.ProcP99Us, res.ProcN = us(p50), us(p99), n

	r.mu.Lock()
	res.Started, res.Completed, res.Errors, res.ErrorList = r.started, r.completed, r.errs, r.errList
	res.JournalTurns = r.journal
	r.mu.Unlock()
	res.RedisRoundTrips, res.RedisSetup = r.rt.n.Load(), r.rt.setup.Load()
	if res.JournalTurns > 0 {
		res.RedisPerTurn = float64(res.RedisRoundTrips) / float64(res.JournalTurns)
	}
	return res, nil
}

// calleeFigures fills the callee-side figures from the simulator's records: utterances that ended inside the
// window count toward turn and barge-in latency; every call is checked for completing its script.
func (r *run) calleeFigures(res *Result, calls []simCall, w0, w1 time.Time) {
	jitter := time.Duration(r.jitterDepth()) * frameDuration
	var turn, raw, barge []time.Duration
	for _, c := range calls {
		bargeIns := 0
		for _, u := range c.Utter {
			if u.BargeIn {
				bargeIns++
			}
			if !r.cfg.WholeRun && (u.End.Before(w0) || u.End.After(w1)) {
				continue
			}
			if u.Reply >= 0 {
				raw = append(raw, u.Reply)
				turn = append(turn, u.Reply-jitter)
			}
			if u.BargeIn {
				barge = append(barge, u.Stop)
				res.BargeLeaked += u.Leaked
			}
		}
		if len(c.Utter) != r.cfg.Turns || bargeIns != 1 || c.HungUpBy != "callee" {
			r.fail("callee of %s: %d utterances (want %d), %d barge-ins (want 1), hung up by %q", c.ID,
				len(c.Utter), r.cfg.Turns, bargeIns, c.HungUpBy)
		}
	}
	p50, p99, n := quantiles(turn)
	res.TurnP50Ms, res.TurnP99Ms, res.TurnN = ms(p50), ms(p99), n
	_, rawP99, _ := quantiles(raw)
	res.TurnRawP99Ms = ms(rawP99)
	p50, p99, n = quantiles(barge)
	res.BargeP50Ms, res.BargeP99Ms, res.BargeN = ms(p50), ms(p99), n
}

// oneCall dials the scripted callee and runs the dialog until the callee hangs up.
func (r *run) oneCall(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c, err := r.drv.Dial(ctx, call.Request{Endpoint: endpoint, Timeout: 10 * time.Second})
	if err != nil {
		r.fail("dial: %v", err)
		return
	}
	probe := &turnProbe{record: func(d time.Duration) {
		if r.measuring.Load() || r.cfg.WholeRun {
			r.proc.add(d)
		}
	}}
	res, err := dialog.Run(ctx, newProbedCall(c, probe), r.script, dialog.Deps{
		ASR:   &probedASR{inner: &asrtest.Recognizer{}, probe: probe, rate: r.cfg.ASRRate},
		TTS:   r.tts,
		Store: r.store,
		// The recognizer hears the callee's speech, not the bot's minutes (GateASR), as a deployment on a
		// recognizer billed per second of audio runs.
		Turn: dialog.TurnConfig{BargeInAfter: r.cfg.BargeInAfter, GateASR: !r.cfg.NoGate},
	})
	r.mu.Lock()
	r.journal += int64(len(res.Turns))
	r.mu.Unlock()
	if err != nil {
		r.fail("dialog %s: %v", c.ID(), err)
		_ = c.Hangup(context.WithoutCancel(ctx), call.CauseNormal)
		return
	}
	utter, barge := 0, 0
	for _, t := range res.Turns {
		if t.Input == dialog.Utterance.String() {
			utter++
		}
		if t.BargeIn {
			barge++
		}
	}
	last := ""
	if len(res.Turns) > 0 {
		last = res.Turns[len(res.Turns)-1].Input
	}
	if utter != r.cfg.Turns || barge != 1 || last != dialog.Hangup.String() {
		r.fail("dialog %s: %d utterance turns (want %d), %d barge-ins (want 1), last input %q (want hangup)",
			c.ID(), utter, r.cfg.Turns, barge, last)
		return
	}
	r.mu.Lock()
	r.completed++
	r.mu.Unlock()
}

func (r *run) bargeInAfter() time.Duration {
	if r.cfg.BargeInAfter > 0 {
		return r.cfg.BargeInAfter
	}
	return 400 * time.Millisecond // dialog.TurnConfig's default
}

func (r *run) jitterDepth() int {
	if r.cfg.JitterDepth > 0 {
		return r.cfg.JitterDepth
	}
	return 3 // aridriver.Config's default
}

// simProc is the simulator process.
type simProc struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	hello simHello
	mu    sync.Mutex
}

// startSim runs argv (this binary with -sim) and reads its hello.
func startSim(ctx context.Context, argv []string, turns int) (*simProc, error) {
	args := append(append([]string(nil), argv[1:]...), "-turns", strconv.Itoa(turns))
	cmd := exec.Command(argv[0], args...)
	cmd.Stderr = os.Stderr
	dieWithParent(cmd)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("loadtest: start simulator: %w", err)
	}
	p := &simProc{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}
	line, err := p.out.ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &p.hello)
	}
	if err != nil || p.hello.URL == "" {
		p.stop()
		return nil, fmt.Errorf("loadtest: simulator hello %q: %v", line, err)
	}
	return p, nil
}

func (p *simProc) ask(cmd string, v any) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := io.WriteString(p.in, cmd+"\n"); err != nil {
		return fmt.Errorf("loadtest: simulator %s: %w", cmd, err)
	}
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("loadtest: simulator %s: %w", cmd, err)
	}
	return json.Unmarshal(line, v)
}

func (p *simProc) usage() (simUsage, error) {
	var u simUsage
	return u, p.ask("usage", &u)
}

func (p *simProc) calls() ([]simCall, error) {
	var c []simCall
	return c, p.ask("calls", &c)
}

// stop closes the simulator's stdin (it exits) and waits; it kills it after 10 s.
func (p *simProc) stop() {
	_ = p.in.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func heapInUse() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// frameDuration is one media frame, 20 ms.
const frameDuration = 20 * time.Millisecond
