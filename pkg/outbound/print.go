package outbound

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

// Print writes each call — how it was answered, then every turn's prompt, what was heard (transcript or keys),
// intent and sentiment, then the outcome — and a summary table with the count per outcome. Phone numbers are
// masked, key presses and the script's sensitive slots are starred, and a prompt the synthesizer failed to
// render is marked as not spoken.
func Print(w io.Writer, recs []Record) {
	for _, r := range recs {
		printCall(w, r)
	}
	printSummary(w, recs)
}

func printCall(w io.Writer, r Record) {
	fmt.Fprintf(w, "\n● %s  %s\n", r.Masked, dialLine(r))
	if r.Result == nil {
		fmt.Fprintf(w, "  → %s\n", r.Outcome)
		if r.DialErr != nil && r.Dial != call.Busy && r.Dial != call.NoAnswer {
			fmt.Fprintf(w, "  ! %s\n", redactor.Redact(r.DialErr.Error()))
		}
	} else {
		unspoken := map[int]string{} // turn seq → why its reply was not heard
		for _, in := range r.Result.Incidents {
			if in.Kind == dialog.IncidentTTS && in.Action != dialog.ActionRetried {
				unspoken[in.Turn] = in.Err
			}
		}
		for _, t := range r.Result.Turns {
			printTurn(w, t, r.sensitive, unspoken)
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
			line += "  slots: " + slotList(r.Result.Slots, r.sensitive)
		}
		fmt.Fprintln(w, line)
		for _, in := range r.Result.Incidents {
			if in.Kind != dialog.IncidentTTS {
				fmt.Fprintf(w, "  ! %s failed at turn %d (%s): %s\n", in.Kind, in.Turn, in.Action, redactor.Redact(in.Err))
			}
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

func printTurn(w io.Writer, t dialog.Turn, sensitive map[string]bool, unspoken map[int]string) {
	prompt := func(text string) {
		if text == "" {
			return
		}
		if why, ok := unspoken[t.Seq]; ok {
			fmt.Fprintf(w, "  prompt (not spoken, TTS failed: %s): %s\n", redactor.Redact(why), redactor.Redact(text))
			return
		}
		fmt.Fprintf(w, "  prompt: %s\n", redactor.Redact(text))
	}
	if t.Seq == 0 {
		prompt(t.Reply)
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
	default:
		for k := range t.Slots {
			if sensitive[k] {
				heard = "[" + k + ", masked]"
			}
		}
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
	prompt(t.Reply)
}

func slotList(m map[string]any, sensitive map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := fmt.Sprint(m[k])
		if sensitive[k] {
			v = strings.Repeat("*", len([]rune(v)))
		}
		parts = append(parts, k+"="+v)
	}
	return redactor.Redact(strings.Join(parts, " "))
}

func printSummary(w io.Writer, recs []Record) {
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
