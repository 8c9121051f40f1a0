// Command chat lets you play the callee of a call script in the terminal: type what the callee says and see the
// bot's reply with the node, intent, slots, sentiment and mood.
//
//	go run ./examples/chat -script examples/finance-overdue/script.yaml -var name=张三 -var overdue_days=5 -var amount=1000
//
// Special inputs: /silence (no input), /dtmf 1234 (key presses), /hangup, /quit.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/outcall/outcall/dialog"
)

type varFlags map[string]any

func (v varFlags) String() string { return fmt.Sprint(map[string]any(v)) }

func (v varFlags) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	v[k] = val // the script's declared type converts it
	return nil
}

func main() {
	vars := varFlags{}
	path := flag.String("script", "", "path of the YAML call script (required)")
	varsJSON := flag.String("vars", "", "contact record as a JSON object (merged with -var)")
	flag.Var(vars, "var", "contact record field name=value (repeatable)")
	flag.Parse()
	if err := run(*path, *varsJSON, vars, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

func run(path, varsJSON string, vars map[string]any, in io.Reader, out io.Writer) error {
	if path == "" {
		return fmt.Errorf("-script is required")
	}
	s, err := dialog.LoadFile(path)
	if err != nil {
		return err
	}
	if varsJSON != "" {
		m := map[string]any{}
		if err := json.Unmarshal([]byte(varsJSON), &m); err != nil {
			return fmt.Errorf("-vars: %w", err)
		}
		for k, v := range m {
			if _, set := vars[k]; !set {
				vars[k] = v
			}
		}
	}
	sim, err := dialog.NewSimulator(s, vars, dialog.Options{})
	if err != nil {
		return err
	}
	show(out, sim.Last())
	sc := bufio.NewScanner(in)
	for !sim.Done() {
		fmt.Fprint(out, "callee> ")
		if !sc.Scan() {
			break
		}
		line := strings.TrimSpace(sc.Text())
		var input dialog.Input
		switch {
		case line == "/quit":
			return nil
		case line == "/silence" || line == "":
			input = dialog.Silence()
		case line == "/hangup":
			input = dialog.HungUp()
		case strings.HasPrefix(line, "/dtmf "):
			input = dialog.Press(strings.TrimSpace(strings.TrimPrefix(line, "/dtmf ")))
		default:
			input = dialog.Say(line)
		}
		r, err := sim.Step(input)
		if err != nil {
			return err
		}
		show(out, r)
	}
	o := sim.Outcome()
	fmt.Fprintf(out, "\n== ended: %s at %s, tags %v", o.End, o.Node, o.Tags)
	if o.TransferReason != "" {
		fmt.Fprintf(out, ", transfer reason %s", o.TransferReason)
	}
	if !o.CallbackAt.IsZero() {
		fmt.Fprintf(out, ", call back at %s", o.CallbackAt.Format("2006-01-02 15:04"))
	}
	if o.OptOut {
		fmt.Fprint(out, ", opted out")
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "   slots %s\n", fmtMap(sim.Slots()))
	for _, n := range sim.Notifications() {
		fmt.Fprintf(out, "   notify %s %s: %s\n", n.Channel, n.To, n.Text)
	}
	return sc.Err()
}

func show(out io.Writer, r dialog.Reply) {
	meta := []string{"node=" + r.Node}
	if r.Intent != "" {
		meta = append(meta, fmt.Sprintf("intent=%s(%.2f)", r.Intent, r.Score))
	}
	if len(r.Slots) > 0 {
		meta = append(meta, "slots="+fmtMap(r.Slots))
	}
	if r.Sentiment != 0 {
		meta = append(meta, fmt.Sprintf("sentiment=%.2f", r.Sentiment))
	}
	if r.Mood != "" {
		meta = append(meta, "mood="+string(r.Mood))
	}
	if r.Speed != 0 && r.Speed != 1 {
		meta = append(meta, fmt.Sprintf("speed=%.2f", r.Speed))
	}
	if r.FAQ {
		meta = append(meta, "faq")
	}
	fmt.Fprintf(out, "  [%s]\nbot> %s\n", strings.Join(meta, " "), r.Prompt)
}

func fmtMap(m map[string]any) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	parts := make([]string, 0, len(ks))
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s=%v", k, m[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}
