package exampleenv

import (
	"fmt"
	"testing"

	"github.com/outcall/outcall/dialog"
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
func Check(t testing.TB, recs []Record, want []Expect) {
	t.Helper()
	by := ByID(recs)
	for _, w := range want {
		r, ok := by[w.ID]
		if !ok || r.Result == nil {
			t.Errorf("%s: no dialog result: dial %s class %v err %v", w.ID, r.Dial, r.Class, firstErr(r.Err, r.DialErr))
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
