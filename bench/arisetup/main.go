// Command arisetup compares ARI call set-up across clients in one run against one Asterisk (or the simulator,
// ari/aritest, served over HTTP in a child process): each client originates -n calls to -endpoint into its own
// Stasis application, -c at a time, waits for each call's StasisStart and hangs it up. It prints, per client and
// concurrency, calls/s, set-up latency p50/p99, the client's CPU per 100 calls and the server's (from
// /proc/<pid>/stat), with the load average beside each row.
//
// This project's client (package ari) runs in this binary re-executed with -client; other clients are programs
// named with -peer name=command, which take the same flags (-url -user -pass -app -endpoint -n -c) and print the
// same JSON line (see clientResult). BENCHMARKS.md gives the CyCoreSystems/ari and Node ari-client programs.
//
//	flock /tmp/asterisk.lock go run ./bench/arisetup -url http://127.0.0.1:8088 -user outcall -pass change-me \
//	    -peer cycore=/tmp/cycore-setup -peer 'node=node /work/peers/node/setup.js'
//	go run ./bench/arisetup -sim -peer cycore=/tmp/cycore-setup
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/outcall/outcall/ari/aritest"
)

type peerFlags []string

func (p *peerFlags) String() string     { return strings.Join(*p, ",") }
func (p *peerFlags) Set(v string) error { *p = append(*p, v); return nil }

func main() {
	var (
		w        workload
		client   = flag.Bool("client", false, "run this project's client on one workload and print its JSON line (used by the comparison)")
		serveSim = flag.Bool("serve-sim", false, "serve ari/aritest and print its URL line; exit when stdin closes (used by -sim)")
		sim      = flag.Bool("sim", false, "compare against the simulator (a child process) instead of -url")
		concs    = flag.String("conc", "10,50", "concurrencies")
		rounds   = flag.Int("rounds", 1, "times the whole list of clients × concurrencies is run, interleaved")
		pbxPID   = flag.Int("pbxpid", 0, "pid of the Asterisk whose CPU is measured (default: the process named asterisk)")
		jsonOut  = flag.String("json", "", "write every result as JSON to this file")
		apiDocs  = flag.String("apidocs", "", "with -sim: directory of Asterisk's rest-api JSON to serve in front of the simulator (Node's ari-client needs it), e.g. /var/lib/asterisk/rest-api")
		peers    peerFlags
	)
	flag.StringVar(&w.URL, "url", "http://127.0.0.1:8088", "ARI base URL")
	flag.StringVar(&w.User, "user", "outcall", "ARI user")
	flag.StringVar(&w.Pass, "pass", "change-me", "ARI password")
	flag.StringVar(&w.App, "app", "outcall-bench", "Stasis application (the comparison suffixes it per client)")
	flag.StringVar(&w.Endpoint, "endpoint", "Local/echo@outcall-test", "dial string")
	flag.IntVar(&w.N, "n", 200, "calls per client and concurrency")
	flag.IntVar(&w.C, "c", 10, "concurrency (-client)")
	flag.DurationVar(&w.CallTimeout, "timeout", 15*time.Second, "per-call bound")
	flag.Var(&peers, "peer", "name=command of another client (repeatable)")
	flag.Parse()
	ctx := context.Background()
	switch {
	case *serveSim:
		if err := serveSimulator(os.Stdin, os.Stdout, *apiDocs); err != nil {
			fail(err)
		}
		return
	case *client:
		res, err := runOurs(ctx, w)
		if err != nil {
			fail(err)
		}
		if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
			fail(err)
		}
		return
	}
	var cs []int
	for _, s := range strings.Split(*concs, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v <= 0 {
			fail(fmt.Errorf("bad concurrency %q", s))
		}
		cs = append(cs, v)
	}
	exe, err := os.Executable()
	if err != nil {
		fail(err)
	}
	clients := []clientSpec{{Name: "outcall/ari", Argv: []string{exe, "-client"}}}
	for _, p := range peers {
		name, cmd, ok := strings.Cut(p, "=")
		if !ok || name == "" || strings.TrimSpace(cmd) == "" {
			fail(fmt.Errorf("-peer %q: want name=command", p))
		}
		clients = append(clients, clientSpec{Name: name, Argv: strings.Fields(cmd)})
	}
	server := "asterisk"
	if *sim {
		stop, url, user, pass, pid, err := startSimulator(exe, *apiDocs)
		if err != nil {
			fail(err)
		}
		defer stop()
		w.URL, w.User, w.Pass, *pbxPID, server = url, user, pass, pid, "aritest"
	} else if *pbxPID == 0 {
		if *pbxPID = pidOf("asterisk"); *pbxPID == 0 {
			fail(fmt.Errorf("no process named asterisk; give -pbxpid"))
		}
	}
	var rows []row
	for r := range *rounds {
		for _, c := range cs {
			for _, cl := range clients {
				rw, err := runOne(ctx, cl, w, c, *pbxPID, r)
				if err != nil {
					fail(fmt.Errorf("%s c=%d: %w", cl.Name, c, err))
				}
				rw.Server = server
				fmt.Fprintf(os.Stderr, "arisetup: %s c=%d: %d/%d ok, %.1f calls/s\n", cl.Name, c, rw.OK, rw.N, rw.CallsPerS)
				rows = append(rows, rw)
			}
		}
	}
	printTable(os.Stdout, rows)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rows, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "arisetup:", err)
	os.Exit(1)
}

type clientSpec struct {
	Name string
	Argv []string
}

// row is one client at one concurrency, with the server's cost over the same span.
type row struct {
	clientResult
	Server       string  `json:"server"`
	Round        int     `json:"round"`
	CallsPerS    float64 `json:"calls_per_s"`
	P50Ms, P99Ms float64
	ClientCPUMs  float64 `json:"client_cpu_ms_per_100"` // the client's own CPU per 100 successful calls
	ServerCPUMs  float64 `json:"server_cpu_ms_per_100"` // the server process's CPU per 100 successful calls
	ServerCores  float64 `json:"server_cores"`          // the server's CPU ÷ wall time of the client's run
	ClientCores  float64 `json:"client_cores"`
	Load1        float64 `json:"load1"` // 1-minute load average when the row started
}

// runOne runs one client on one workload and measures the server process around it, until the server has no
// channel left (the teardown's cost is the server's too).
func runOne(ctx context.Context, cl clientSpec, w workload, c, pbxPID, round int) (row, error) {
	if err := waitNoChannels(w, 15*time.Second); err != nil {
		return row{}, err
	}
	rw := row{Round: round, Load1: loadAvg1()}
	args := append(append([]string(nil), cl.Argv[1:]...),
		"-url", w.URL, "-user", w.User, "-pass", w.Pass, "-app", fmt.Sprintf("%s-%s-%d", w.App, sanitize(cl.Name), c),
		"-endpoint", w.Endpoint, "-n", strconv.Itoa(w.N), "-c", strconv.Itoa(c))
	cmd := exec.CommandContext(ctx, cl.Argv[0], args...)
	cmd.Stderr = os.Stderr
	pbx0 := procCPU(pbxPID)
	out, err := cmd.Output()
	if err != nil {
		return row{}, fmt.Errorf("%v: %w", cl.Argv, err)
	}
	if err := waitNoChannels(w, 15*time.Second); err != nil {
		return row{}, err
	}
	pbx := procCPU(pbxPID) - pbx0
	if err := json.Unmarshal(lastLine(out), &rw.clientResult); err != nil {
		return row{}, fmt.Errorf("%s printed no result line: %w", cl.Name, err)
	}
	rw.Client = cl.Name
	if rw.OK > 0 {
		rw.CallsPerS = float64(rw.OK) / rw.WallS
		rw.P50Ms, rw.P99Ms = pct(rw.LatUs, 0.50)/1e3, pct(rw.LatUs, 0.99)/1e3
		rw.ClientCPUMs = rw.CPUS * 1e3 * 100 / float64(rw.OK)
		rw.ServerCPUMs = pbx.Seconds() * 1e3 * 100 / float64(rw.OK)
		rw.ServerCores = pbx.Seconds() / rw.WallS
		rw.ClientCores = rw.CPUS / rw.WallS
	}
	return rw, nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, s)
}

func lastLine(b []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return []byte(lines[len(lines)-1])
}

// pct is the q-quantile (nearest rank) of sorted values.
func pct(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i])
}

// waitNoChannels polls GET /ari/channels until the server lists no channel.
func waitNoChannels(w workload, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	for {
		req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(w.URL, "/")+"/ari/channels", nil)
		if err != nil {
			return err
		}
		req.SetBasicAuth(w.User, w.Pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var chans []json.RawMessage
		err = json.NewDecoder(resp.Body).Decode(&chans)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("GET /ari/channels: %w", err)
		}
		if len(chans) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d channels still up after %v", len(chans), bound)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func printTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| server | client | conc | ok / n | calls/s | set-up p50 / p99 | client CPU / 100 calls (cores) | server CPU / 100 calls (cores) | load 1 min |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %d | %d / %d | %.1f | %.1f / %.1f ms | %.0f ms (%.2f) | %.0f ms (%.2f) | %.2f |\n",
			r.Server, r.Client, r.C, r.OK, r.N, r.CallsPerS, r.P50Ms, r.P99Ms, r.ClientCPUMs, r.ClientCores,
			r.ServerCPUMs, r.ServerCores, r.Load1)
	}
}

// serveSimulator runs ari/aritest until in closes, after printing "url user pass". With apiDocs (a directory of
// Asterisk's rest-api/*.json, which Node's ari-client loads before anything else and aritest does not serve) the
// URL is a front in the same process that serves those files, with basePath rewritten to the front, and proxies
// everything else (REST and the events WebSocket) to the simulator; every client then goes through it.
func serveSimulator(in io.Reader, out io.Writer, apiDocs string) error {
	s, err := aritest.New(aritest.Config{})
	if err != nil {
		return err
	}
	defer s.Close()
	url := s.URL()
	if apiDocs != "" {
		front, err := startFront(s.URL(), apiDocs)
		if err != nil {
			return err
		}
		defer front.Close()
		url = "http://" + front.Addr
	}
	fmt.Fprintln(out, url, s.Username(), s.Password())
	_, err = io.Copy(io.Discard, in)
	return err
}

func startFront(target, apiDocs string) (*http.Server, error) {
	u, err := neturl.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	base := []byte(`"basePath": "http://` + ln.Addr().String() + `/ari"`)
	mux := http.NewServeMux()
	mux.Handle("/", httputil.NewSingleHostReverseProxy(u))
	mux.HandleFunc("/ari/api-docs/", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(filepath.Join(apiDocs, filepath.Base(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(basePathRE.ReplaceAll(b, base))
	})
	srv := &http.Server{Addr: ln.Addr().String(), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}

var basePathRE = regexp.MustCompile(`"basePath":\s*"[^"]*"`)

func startSimulator(exe, apiDocs string) (stop func(), url, user, pass string, pid int, err error) {
	cmd := exec.Command(exe, "-serve-sim", "-apidocs", apiDocs)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", "", "", 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", "", "", 0, err
	}
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, "", "", "", 0, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 3 {
		_ = cmd.Process.Kill()
		return nil, "", "", "", 0, fmt.Errorf("simulator: %q %v", line, err)
	}
	stop = func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}
	return stop, f[0], f[1], f[2], cmd.Process.Pid, nil
}
