package outbound

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

// App is a campaign program: a script, the contacts to call and, on the simulator, how each callee behaves. Main
// turns it into a command; Run runs it.
type App struct {
	Name       string                   // short name: output directory, campaign id, messages
	Title      string                   // report title; default Name
	Script     []byte                   // the script YAML
	ScriptFile string                   // its file name, for error messages
	Contacts   []campaign.Contact       // called on the simulator, and on a real PBX unless -contacts is given
	Callees    map[string]callee.Script // the simulator's callees by phone number
	// Outcome names a dialog result in one word for the summary and report; default DefaultOutcome.
	Outcome func(dialog.Result) string
	// Success says whether a call reached the campaign's goal; default: its outcome is "confirmed" or "promised".
	Success func(dialog.Result) bool
}

// Options are the command-line flags of Main: -out, -contacts, -skip-bad, -v.
type Options struct {
	Out      string // output directory for recordings and the report; default out/<name>
	Contacts string // contacts CSV or JSONL file; required on a real PBX
	SkipBad  bool   // call the good contacts when some rows are bad (they are listed); default: refuse to start
	Verbose  bool   // debug logs on stderr; default: warnings and errors only
}

// Result is what Run produced.
type Result struct {
	Records       []Record
	Notifications []dialog.Notification // every notification the script asked for
	Webhooks      []Received            // webhooks the in-process receiver verified (none with WEBHOOK_URL)
	HTML, CSV     string                // the report files
}

// ErrInterrupted is returned by App.Run when its context ends (Ctrl-C) during the calls; the live ones have been
// hung up.
var ErrInterrupted = errors.New("outbound: interrupted")

// Main parses the flags, reads the environment (FromEnv), runs the app and exits: status 2 for a bad
// configuration, 1 for a failure, 130 after Ctrl-C (live calls are hung up first; a second Ctrl-C exits at once).
func (a App) Main() {
	var o Options
	flag.StringVar(&o.Out, "out", filepath.Join("out", a.Name), "directory for the recordings (WAV) and the report")
	flag.StringVar(&o.Contacts, "contacts", "", "contacts file, CSV (phone,name,<script variables>...) or .jsonl; required on a real PBX (ARI_URL or FS_ESL_ADDR)")
	flag.BoolVar(&o.SkipBad, "skip-bad", false, "skip the contacts that cannot be called (they are listed) instead of refusing to start")
	flag.BoolVar(&o.Verbose, "v", false, "debug logs on stderr")
	flag.Parse()
	env, err := FromEnv()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", a.Name, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	context.AfterFunc(ctx, stop) // a second Ctrl-C kills the process
	defer stop()
	_, err = a.Run(ctx, env, o, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, ErrInterrupted):
		fmt.Fprintf(os.Stderr, "%s: %v\n", a.Name, err)
		os.Exit(130)
	case errors.Is(err, ErrConfig):
		fmt.Fprintf(os.Stderr, "%s: %v\n", a.Name, err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintf(os.Stderr, "%s: %v\n", a.Name, err)
		os.Exit(1)
	}
}

// Run checks the script and every contact, opens the Platform, places the calls (Run), prints each transcript, the
// notifications and a summary, and writes the report into o.Out. Program output goes to stdout, logs and progress
// to stderr.
func (a App) Run(ctx context.Context, env Env, o Options, stdout, stderr io.Writer) (Result, error) {
	t0 := time.Now()
	// The calls' goroutines, the webhook receiver and the logger write concurrently: one lock per stream.
	out, errOut := lock(stdout), lock(stderr)
	level := zerolog.WarnLevel
	if o.Verbose {
		level = zerolog.DebugLevel
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: errOut, NoColor: true}).Level(level).With().Timestamp().Logger()
	if o.Out == "" {
		o.Out = filepath.Join("out", a.Name)
	}
	script, err := dialog.Load(a.Script, a.ScriptFile)
	if err != nil {
		return Result{}, err
	}
	if env.TTS == "flite" && !strings.HasPrefix(script.Language, "en") {
		return Result{}, fmt.Errorf("%w: TTS=flite speaks English only and the script's language is %q: use TTS=espeak", ErrConfig, script.Language)
	}
	if env.AgentEnd != "" {
		script.Settings.Transfer.Endpoint = env.AgentEnd
	}
	if needsLLM(script) && !env.LLMConfigured() {
		return Result{}, fmt.Errorf("%w: the script has LLM nodes and no model endpoint is configured: set LLM_MODEL and "+
			"OPENAI_BASE_URL (e.g. http://127.0.0.1:11434/v1 for Ollama) or OPENAI_API_KEY", ErrConfig)
	}
	contacts, err := a.contacts(script, env, o, errOut)
	if err != nil {
		return Result{}, err
	}
	notifier, err := NewNotifier(out)
	if err != nil {
		return Result{}, err
	}
	defer notifier.Close()

	p, err := Open(ctx, env, log)
	if err != nil {
		return Result{}, err
	}
	defer p.Close()
	for number, s := range a.Callees {
		if err := p.AddCallee(number, s); err != nil {
			return Result{}, fmt.Errorf("callee %s: %w", campaign.MaskPhone(number), err)
		}
	}
	if err := TransferTarget(script, p); err != nil {
		return Result{}, err
	}
	fmt.Fprintf(out, "outcall %s: %d calls on the %s\n", a.Name, len(contacts), p.Where())
	recs, err := Run(ctx, p, Campaign{ID: a.Name, Script: script, Contacts: contacts, OutDir: o.Out,
		Notifier: notifier, Outcome: a.Outcome, Success: a.Success, Progress: errOut})
	// Webhooks are sent before their call ends: the receiver has them all by now.
	res := Result{Records: recs, Notifications: notifier.Sent(), Webhooks: notifier.Received()}
	if ctx.Err() != nil {
		return res, fmt.Errorf("%w: %d call(s) were live and have been hung up", ErrInterrupted, live(recs))
	}
	if err != nil {
		return res, err
	}
	Print(out, recs)
	title := a.Title
	if title == "" {
		title = a.Name
	}
	res.HTML, res.CSV, err = report.Write(o.Out, Report(a.Name, title, recs))
	if err != nil {
		return res, err
	}
	fmt.Fprintf(out, "\nnotifications: %d (webhooks verified by the local receiver: %d)\n", len(res.Notifications), len(res.Webhooks))
	fmt.Fprintf(out, "recordings: %s\nreport: %s\ncsv:    %s\ndone in %.1f s\n", filepath.Join(o.Out, "recordings"),
		res.HTML, res.CSV, time.Since(t0).Seconds())
	return res, nil
}

// contacts are the app's own contacts, or those of o.Contacts, each checked against the script: bad rows are
// listed and refused, or skipped with o.SkipBad.
func (a App) contacts(script *dialog.Script, env Env, o Options, stderr io.Writer) ([]campaign.Contact, error) {
	if o.Contacts == "" {
		if !env.Simulated() {
			return nil, fmt.Errorf("%w: a real PBX is set (ARI_URL or FS_ESL_ADDR): give the numbers to call with -contacts file.csv", ErrConfig)
		}
		for _, c := range a.Contacts {
			if err := script.CheckVars(scriptVars(c)); err != nil {
				return nil, fmt.Errorf("contact %s: %w", c.ID, err)
			}
		}
		return a.Contacts, nil
	}
	cs, bad, err := LoadContacts(o.Contacts, script)
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 && !o.SkipBad {
		return nil, fmt.Errorf("-contacts %s: %d row(s) cannot be called, nobody was dialed (fix them, or run with -skip-bad to call the other %d):\n%s",
			o.Contacts, len(bad), len(cs), rowList(bad))
	}
	if len(bad) > 0 {
		fmt.Fprintf(stderr, "%s: skipping %d row(s) of %s:\n%s\n", a.Name, len(bad), o.Contacts, rowList(bad))
	}
	return cs, nil
}

// live counts the records of calls that were answered and did not end on their own.
func live(recs []Record) int {
	n := 0
	for _, r := range recs {
		if r.Dial.String() == "answered" && (r.Result == nil || r.Result.Outcome.End == dialog.EndNone) {
			n++
		}
	}
	return n
}

func needsLLM(s *dialog.Script) bool {
	for _, n := range s.Nodes {
		if n.LLM != nil {
			return true
		}
	}
	return false
}

// TransferTarget makes sure a script that hands callees to a human has somewhere to send them: on the simulator
// an agent answers at the script's transfer endpoint (PJSIP/agent@trunk when the script names none), which is
// rewritten to a dial string of the simulated PBX (sofia/gateway/trunk/agent on FreeSWITCH); on a real PBX a
// script without one needs AGENT_ENDPOINT.
func TransferTarget(s *dialog.Script, p *Platform) error {
	t := &s.Settings.Transfer
	if p.Sim == nil {
		if t.Endpoint == "" && t.Context == "" && t.Extension == "" {
			return fmt.Errorf("%w: the script transfers callees to a human but names no transfer target: set AGENT_ENDPOINT (e.g. PJSIP/agents@trunk)", ErrConfig)
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
	return p.Sim.AddCallee(endpointNumber(t.Endpoint), agent())
}

// endpointNumber returns the number (or name) a dial string reaches, as the simulators read it:
// PJSIP/collections-queue → collections-queue, PJSIP/8001@trunk → 8001, Local/agent@ctx → agent,
// sofia/gateway/trunk/agent → agent.
func endpointNumber(ep string) string {
	_, res, _ := strings.Cut(ep, "/")
	num, _, _ := strings.Cut(res, "@")
	if i := strings.LastIndexByte(num, '/'); i >= 0 {
		num = num[i+1:]
	}
	return strings.TrimPrefix(num, "sip:")
}
