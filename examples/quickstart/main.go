// Command quickstart runs a mini-campaign of five calls — one confirms, one refuses, one asks for a human, one is
// busy, one is an answering machine — through the real ARI client and call driver, answer classification and the
// dialog runtime. With no settings it runs on the embedded Asterisk simulator with an in-memory store and fake
// speech; PBX=freeswitch runs it on the FreeSWITCH simulator (esltest) through the ESL client and driver instead.
// See the README for a real Asterisk (ARI_URL, DIAL_ENDPOINT, -contacts) or FreeSWITCH (FS_ESL_ADDR), Redis and
// speech providers.
//
//	go run ./examples/quickstart
//	PBX=freeswitch go run ./examples/quickstart
//	go run ./examples/quickstart -out /tmp/qs
//	ARI_URL=http://127.0.0.1:8088 ARI_USERNAME=outcall ARI_PASSWORD=secret DIAL_ENDPOINT='PJSIP/{number}@trunk' \
//	  go run ./examples/quickstart -contacts contacts.csv
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/internal/exampleenv"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/campaign"
	"github.com/outcall/outcall/report"
)

//go:embed script.yaml
var scriptYAML []byte

type config struct {
	Out      string // output directory: recordings and report
	Contacts string // CSV of contacts; required on a real Asterisk
	Verbose  bool   // debug logs on stderr
}

func main() {
	var cfg config
	flag.StringVar(&cfg.Out, "out", "out/quickstart", "directory for the recordings (WAV) and the report")
	flag.StringVar(&cfg.Contacts, "contacts", "", "contacts CSV (phone,name,...); required on a real PBX (ARI_URL or FS_ESL_ADDR)")
	flag.BoolVar(&cfg.Verbose, "v", false, "debug logs on stderr")
	flag.Parse()
	env, err := exampleenv.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart: configuration:\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, env, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// The five simulated callees: phone number, name and what the person does.
var people = []struct {
	phone, name string
	script      callee.Script
}{
	{"+8613800000001", "张三", exampleenv.Person("喂,你好", "可以,没问题")},
	{"+8613800000002", "李四", exampleenv.Person("喂?", "不用了,明天不方便")},
	{"+8613800000003", "王五", exampleenv.Person("喂,哪位", "我要转人工")},
	{"+8613800000004", "赵六", exampleenv.Busy()},
	{"+8613800000005", "钱七", exampleenv.Machine("您好,机主现在不方便接听电话,请在提示音后留言")},
}

// run places the calls, prints transcripts and the summary, and writes the report. It returns the records.
func run(ctx context.Context, env exampleenv.Env, cfg config, stdout, stderr io.Writer) ([]exampleenv.Record, error) {
	t0 := time.Now()
	level := zerolog.ErrorLevel
	if cfg.Verbose {
		level = zerolog.DebugLevel
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true}).Level(level).With().Timestamp().Logger()

	script, err := dialog.Load(scriptYAML, "quickstart/script.yaml")
	if err != nil {
		return nil, err
	}
	if env.AgentEnd != "" {
		script.Settings.Transfer.Endpoint = env.AgentEnd
	}
	var contacts []campaign.Contact
	switch {
	case cfg.Contacts != "":
		if contacts, err = exampleenv.LoadContacts(cfg.Contacts); err != nil {
			return nil, err
		}
	case !env.Simulated():
		return nil, errors.New("a real PBX is set (ARI_URL or FS_ESL_ADDR): give the numbers to call with -contacts file.csv (columns phone,name)")
	default:
		for _, p := range people {
			contacts = append(contacts, campaign.Contact{Phone: p.phone, Name: p.name})
		}
	}

	p, err := exampleenv.Open(ctx, env, log)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	for _, pp := range people {
		if err := p.AddCallee(pp.phone, pp.script); err != nil {
			return nil, err
		}
	}
	// On the simulator an agent answers transfers (at sofia/gateway/trunk/agent on FreeSWITCH).
	if err := exampleenv.TransferTarget(script, p); err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "outcall quickstart: %d calls on the %s\n", len(contacts), p.Where())

	recs, err := exampleenv.RunCampaign(ctx, p, exampleenv.Campaign{
		ID: "quickstart", Script: script, Contacts: contacts, OutDir: cfg.Out, Progress: stderr,
	})
	if err != nil {
		return recs, err
	}
	for _, r := range recs {
		exampleenv.PrintCall(stdout, r)
	}
	exampleenv.PrintSummary(stdout, recs)
	htmlPath, csvPath, err := report.Write(cfg.Out, exampleenv.Report("quickstart", "outcall quickstart", recs))
	if err != nil {
		return recs, err
	}
	fmt.Fprintf(stdout, "\nrecordings (stereo WAV: callee left, bot right): %s\n", recordingsDir(cfg.Out, recs))
	fmt.Fprintf(stdout, "report: %s\ncsv:    %s\n", htmlPath, csvPath)
	fmt.Fprintf(stdout, "done in %.1f s\n", time.Since(t0).Seconds())
	return recs, nil
}

func recordingsDir(out string, recs []exampleenv.Record) string {
	n := 0
	for _, r := range recs {
		if r.Recording != "" {
			n++
		}
	}
	return fmt.Sprintf("%s/recordings (%d files)", out, n)
}
