package exampleenv

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/campaign"
	"github.com/outcall/outcall/report"
)

// Example is a campaign example: a script, the contacts to call and, on the simulator, how each callee behaves.
type Example struct {
	Name       string                   // short name: output directory, campaign id
	Title      string                   // report title
	Script     []byte                   // the script YAML
	ScriptFile string                   // its file name, for error messages
	Contacts   []campaign.Contact       // called on the simulator (and on a real PBX unless -contacts is given)
	Callees    map[string]callee.Script // simulated callees by phone number
	Outcome    func(dialog.Result) string
	Success    func(dialog.Result) bool
	// Prepare may adjust the loaded script (e.g. the transfer target from AGENT_ENDPOINT is applied already).
	Prepare func(*dialog.Script, *Platform) error
}

// Options are the flags every example takes.
type Options struct {
	Out      string // output directory; default out/<name>
	Contacts string // contacts CSV; required on a real Asterisk
	Verbose  bool
}

// Outcome is what an example run produced.
type Outcome struct {
	Records       []Record
	Notifications []dialog.Notification // every notification the scripts asked for
	Webhooks      []Received            // webhooks the in-process receiver verified (none with WEBHOOK_URL)
	HTML, CSV     string                // the report files
}

// Main parses the example's flags, reads the environment, runs it and exits non-zero on failure.
func Main(ex Example) {
	var o Options
	flag.StringVar(&o.Out, "out", filepath.Join("out", ex.Name), "directory for the recordings (WAV) and the report")
	flag.StringVar(&o.Contacts, "contacts", "", "contacts CSV (phone,name,<script variables>...); required on a real PBX (ARI_URL or FS_ESL_ADDR)")
	flag.BoolVar(&o.Verbose, "v", false, "debug logs on stderr")
	flag.Parse()
	env, err := FromEnv()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: configuration:\n%v\n", ex.Name, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := ex.Run(ctx, env, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", ex.Name, err)
		os.Exit(1)
	}
}

// Run places the example's calls, prints each transcript, the notifications and a summary, and writes the report.
func (ex Example) Run(ctx context.Context, env Env, o Options, stdout, stderr io.Writer) (Outcome, error) {
	t0 := time.Now()
	level := zerolog.ErrorLevel
	if o.Verbose {
		level = zerolog.DebugLevel
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true}).Level(level).With().Timestamp().Logger()
	if o.Out == "" {
		o.Out = filepath.Join("out", ex.Name)
	}
	script, err := dialog.Load(ex.Script, ex.ScriptFile)
	if err != nil {
		return Outcome{}, err
	}
	if env.AgentEnd != "" {
		script.Settings.Transfer.Endpoint = env.AgentEnd
	}
	if needsLLM(script) && !env.LLMConfigured() {
		return Outcome{}, fmt.Errorf("%w: the script has LLM nodes and no model endpoint is configured: set LLM_MODEL and "+
			"OPENAI_BASE_URL (e.g. http://127.0.0.1:11434/v1 for Ollama) or OPENAI_API_KEY", ErrConfig)
	}
	contacts := append([]campaign.Contact(nil), ex.Contacts...)
	switch {
	case o.Contacts != "":
		if contacts, err = LoadContacts(o.Contacts); err != nil {
			return Outcome{}, err
		}
	case !env.Simulated():
		return Outcome{}, errors.New("a real PBX is set (ARI_URL or FS_ESL_ADDR): give the numbers to call with -contacts file.csv")
	}
	notifier, rcv, err := NewNotifier(stdout)
	if err != nil {
		return Outcome{}, err
	}
	defer rcv.Close()

	p, err := Open(ctx, env, log)
	if err != nil {
		return Outcome{}, err
	}
	defer p.Close()
	for number, s := range ex.Callees {
		if err := p.AddCallee(number, s); err != nil {
			return Outcome{}, fmt.Errorf("callee %s: %w", number, err)
		}
	}
	if err := TransferTarget(script, p); err != nil {
		return Outcome{}, err
	}
	if ex.Prepare != nil {
		if err := ex.Prepare(script, p); err != nil {
			return Outcome{}, err
		}
	}
	fmt.Fprintf(stdout, "outcall %s: %d calls on the %s\n", ex.Name, len(contacts), p.Where())
	recs, err := RunCampaign(ctx, p, Campaign{ID: ex.Name, Script: script, Contacts: contacts, OutDir: o.Out,
		Notifier: notifier, Outcome: ex.Outcome, Success: ex.Success, Progress: stderr})
	res := Outcome{Records: recs, Notifications: notifier.Sent()}
	if rcv != nil {
		// Webhooks are sent before the call ends; the receiver has them all by now.
		res.Webhooks = rcv.Received()
	}
	if err != nil {
		return res, err
	}
	for _, r := range recs {
		PrintCall(stdout, r)
	}
	PrintSummary(stdout, recs)
	res.HTML, res.CSV, err = report.Write(o.Out, Report(ex.Name, ex.Title, recs))
	if err != nil {
		return res, err
	}
	fmt.Fprintf(stdout, "\nnotifications: %d (webhooks verified by the local receiver: %d)\n", len(res.Notifications), len(res.Webhooks))
	fmt.Fprintf(stdout, "recordings: %s\nreport: %s\ncsv:    %s\ndone in %.1f s\n", filepath.Join(o.Out, "recordings"),
		res.HTML, res.CSV, time.Since(t0).Seconds())
	return res, nil
}

func needsLLM(s *dialog.Script) bool {
	for _, n := range s.Nodes {
		if n.LLM != nil {
			return true
		}
	}
	return false
}

// TransferTarget makes sure a script that hands callees to a human has somewhere to send them: on the simulator an
// agent answers at the script's transfer endpoint (PJSIP/agent@trunk when the script names none), which is
// rewritten to a dial string of the simulated PBX (sofia/gateway/trunk/agent on FreeSWITCH); on a real PBX a script
// without one needs AGENT_ENDPOINT.
func TransferTarget(s *dialog.Script, p *Platform) error {
	t := &s.Settings.Transfer
	if p.Sim == nil {
		if t.Endpoint == "" && t.Context == "" && t.Extension == "" {
			return errors.New("the script transfers callees to a human but names no transfer target: set AGENT_ENDPOINT (e.g. PJSIP/agents@trunk)")
		}
		return nil
	}
	if t.Endpoint == "" && t.Context == "" {
		t.Endpoint = "PJSIP/agent@trunk"
	}
	if t.Endpoint == "" {
		return nil
	}
	t.Endpoint = p.Sim.Endpoint(t.Endpoint)
	return p.AddCallee(EndpointNumber(t.Endpoint), Agent())
}

// EndpointNumber returns the number (or name) a dial string reaches, as the simulators read it:
// PJSIP/collections-queue → collections-queue, PJSIP/8001@trunk → 8001, Local/agent@ctx → agent,
// sofia/gateway/trunk/agent → agent.
func EndpointNumber(ep string) string {
	_, res, _ := strings.Cut(ep, "/")
	num, _, _ := strings.Cut(res, "@")
	if i := strings.LastIndexByte(num, '/'); i >= 0 {
		num = num[i+1:]
	}
	return strings.TrimPrefix(num, "sip:")
}

// ByID indexes records by contact id.
func ByID(recs []Record) map[string]Record {
	m := make(map[string]Record, len(recs))
	for _, r := range recs {
		m[r.Contact.ID] = r
	}
	return m
}

// RunForTest runs ex on the simulator with the default environment, output in dir and no console output, as the
// examples' tests do.
// Tests of different examples take turns (see testLock).
func (ex Example) RunForTest(ctx context.Context, dir string, stdout io.Writer) (Outcome, error) {
	return ex.RunForTestEnv(ctx, Default(), dir, stdout)
}

// RunForTestEnv is RunForTest in env. The run gets TestTimeout from when its turn comes (ctx still cancels it).
func (ex Example) RunForTestEnv(ctx context.Context, env Env, dir string, stdout io.Writer) (Outcome, error) {
	defer testLock()()
	ctx, cancel := context.WithTimeout(ctx, TestTimeout)
	defer cancel()
	return ex.Run(ctx, env, Options{Out: dir}, stdout, io.Discard)
}

// TestTimeout bounds one example run in tests.
const TestTimeout = 50 * time.Second

// TestLock makes a test that runs calls on the simulator take its turn with the examples' tests; call the returned
// function when done.
func TestLock() (unlock func()) { return testLock() }
