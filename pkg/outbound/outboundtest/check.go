// Package outboundtest helps test programs built on package outbound: run an App on the simulator with the
// default environment, check each contact's call against what the script should have done, and take turns with
// the other call-running tests of the machine.
package outboundtest

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/outbound"
)

// Expect is what an example's test requires of one contact's call.
type Expect struct {
	ID     string           // contact id
	Tags   []string         // outcome tags that must be present
	End    dialog.EndAction // how the dialog must end; default EndHangup
	Reason string           // transfer reason, when End is EndTransfer
	Slots  map[string]any   // slot values that must have been captured (compared as printed)
	Turns  int              // journal length (opening included); 0: not checked
}

// Check fails t for every record that does not meet its expectation, logging that call's turns.
func Check(t testing.TB, recs []outbound.Record, want []Expect) {
	t.Helper()
	by := ByID(recs)
	for _, w := range want {
		r, ok := by[w.ID]
		if !ok || r.Result == nil {
			t.Errorf("%s: no dialog result: dial %s class %v err %v dial err %v", w.ID, r.Dial, r.Class, r.Err, r.DialErr)
			continue
		}
		bad := false
		errf := func(format string, a ...any) {
			t.Helper()
			bad = true
			t.Errorf(w.ID+": "+format, a...)
		}
		o := r.Result.Outcome
		for _, tag := range w.Tags {
			if !o.Has(tag) {
				errf("tags %v lack %q", o.Tags, tag)
			}
		}
		end := w.End
		if end == "" {
			end = dialog.EndHangup
		}
		if o.End != end || r.Result.TransferReason != w.Reason {
			errf("end %q reason %q, want %q %q", o.End, r.Result.TransferReason, end, w.Reason)
		}
		for k, v := range w.Slots {
			if got, ok := r.Result.Slots[k]; !ok || fmt.Sprint(got) != fmt.Sprint(v) {
				errf("slot %s = %v, want %v", k, got, v)
			}
		}
		if w.Turns > 0 && len(r.Result.Turns) != w.Turns {
			errf("%d turns, want %d", len(r.Result.Turns), w.Turns)
		}
		if r.Err != nil {
			errf("%v", r.Err)
		}
		if bad {
			for _, tr := range r.Result.Turns {
				t.Logf("%s turn %d: node %s input %s heard %q intent %q barge-in %v", w.ID, tr.Seq, tr.Node, tr.Input,
					tr.Transcript, tr.Intent, tr.BargeIn)
			}
		}
	}
}

// ByID indexes records by contact id.
func ByID(recs []outbound.Record) map[string]outbound.Record {
	m := make(map[string]outbound.Record, len(recs))
	for _, r := range recs {
		m[r.Contact.ID] = r
	}
	return m
}

// Timeout bounds one Run.
const Timeout = 50 * time.Second

// Run runs app on the simulator of pbx (outbound.Asterisk or outbound.FreeSWITCH) with nothing else set, its
// output in dir and its program output to stdout (logs are discarded). It takes its turn (Lock) and gets Timeout
// from then on; ctx still cancels it.
func Run(ctx context.Context, app outbound.App, pbx, dir string, stdout io.Writer) (outbound.Result, error) {
	return RunEnv(ctx, app, outbound.Simulated(pbx), dir, stdout)
}

// RunEnv is Run in env.
func RunEnv(ctx context.Context, app outbound.App, env outbound.Env, dir string, stdout io.Writer) (outbound.Result, error) {
	defer Lock()()
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	return app.Run(ctx, env, outbound.Options{Out: dir}, stdout, io.Discard)
}
