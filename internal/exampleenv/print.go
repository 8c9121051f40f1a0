package exampleenv

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/secure"
)

// redactor masks digit runs that look like phone or ID numbers in printed transcripts.
var redactor = secure.NewRedactor()

// PrintCall prints one call: how it was answered, then each turn's prompt, what was heard (transcript or keys),
// intent and sentiment, then the outcome.
func PrintCall(w io.Writer, r Record) {
	fmt.Fprintf(w, "\n● %s  %s\n", r.Masked, dialLine(r))
	if r.Result != nil {
		for _, t := range r.Result.Turns {
			printTurn(w, t)
		}
		o := r.Result.Outcome
		line := fmt.Sprintf("  → %s", r.Outcome)
		if len(o.Tags) > 0 {
			line += "  tags: " + strings.Join(o.Tags, ", ")
		}
		if r.Result.TransferReason != "" {
			line += "  transfer reason: " + r.Result.TransferReason
		}
		if len(r.Result.Slots) > 0 {
			line += "  slots: " + slotList(r.Result.Slots)
		}
		fmt.Fprintln(w, line)
	} else {
		fmt.Fprintf(w, "  → %s\n", r.Outcome)
		if r.DialErr != nil && r.Dial != call.Busy && r.Dial != call.NoAnswer {
			fmt.Fprintf(w, "  ! %s\n", redactor.Redact(r.DialErr.Error()))
		}
	}
	if r.Err != nil {
		fmt.Fprintf(w, "  ! %s\n", redactor.Redact(r.Err.Error()))
	}
}

func dialLine(r Record) string {
	if r.Dial != call.Answered {
		return "not answered: " + r.Dial.String()
	}
	if r.Class == nil {
		return "answered"
	}
	return fmt.Sprintf("answered · %s (%s)", r.Class.Class, r.Class.Reason)
}

func printTurn(w io.Writer, t dialog.Turn) {
	if t.Seq == 0 {
		if t.Reply != "" {
			fmt.Fprintf(w, "  prompt: %s\n", redactor.Redact(t.Reply))
		}
		return
	}
	if t.BargeIn && t.Heard != t.Prompt {
		fmt.Fprintf(w, "          (barged in; the callee heard only %q)\n", redactor.Redact(t.Heard))
	}
	heard := t.Transcript
	switch {
	case t.DTMF != "":
		heard = "[keys " + strings.Repeat("*", len(t.DTMF)) + "]"
	case t.Input != "utterance":
		heard = "[" + t.Input + "]"
	}
	meta := ""
	if t.Intent != "" {
		meta += "  intent=" + t.Intent
	}
	if t.Input == "utterance" {
		meta += fmt.Sprintf("  sentiment=%+.2f", t.Sentiment)
	}
	if t.Mood != "" {
		meta += "  mood=" + string(t.Mood)
	}
	fmt.Fprintf(w, "  heard:  %s%s\n", redactor.Redact(heard), meta)
	if t.Reply != "" {
		fmt.Fprintf(w, "  prompt: %s\n", redactor.Redact(t.Reply))
	}
}

func slotList(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, m[k]))
	}
	return redactor.Redact(strings.Join(parts, " "))
}

// PrintSummary prints a table of every call and the count per outcome.
func PrintSummary(w io.Writer, recs []Record) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONTACT\tDIAL\tANSWERED BY\tOUTCOME\tTURNS\tSECONDS")
	counts := map[string]int{}
	for _, r := range recs {
		class, turns := "-", 0
		if r.Class != nil {
			class = string(r.Class.Class)
		}
		if r.Result != nil {
			turns = len(r.Result.Turns)
		}
		secs := "-"
		if !r.Start.IsZero() && !r.End.IsZero() {
			secs = fmt.Sprintf("%.1f", r.End.Sub(r.Start).Seconds())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", r.Masked, r.Dial, class, r.Outcome, turns, secs)
		counts[r.Outcome]++
	}
	_ = tw.Flush()
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	fmt.Fprintf(w, "%d calls: %s\n", len(recs), strings.Join(parts, ", "))
}
