package call

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestOutcomes(t *testing.T) {
	for _, c := range []struct {
		cause Cause
		want  Outcome
	}{
		{CauseUserBusy, Busy}, {CauseNoAnswer, NoAnswer}, {CauseNoUserResponse, NoAnswer},
		{CauseCongestion, Congestion}, {CauseSwitchCongestion, Congestion}, {CauseCallRejected, Rejected},
		{CauseUnallocated, Unallocated}, {CauseNormal, Failed}, {CauseUnknown, Failed},
	} {
		if got := OutcomeOf(c.cause); got != c.want {
			t.Errorf("OutcomeOf(%d %s) = %s, want %s", int(c.cause), c.cause, got, c.want)
		}
	}
	busy := &Error{Outcome: Busy, Cause: CauseUserBusy, Detail: "BUSY"}
	for _, c := range []struct {
		err  error
		want Outcome
	}{
		{nil, Answered}, {busy, Busy}, {fmt.Errorf("dial: %w", busy), Busy},
		{context.Canceled, Cancelled}, {fmt.Errorf("x: %w", context.DeadlineExceeded), Cancelled},
		{errors.New("boom"), Failed},
	} {
		if got := OutcomeOfError(c.err); got != c.want {
			t.Errorf("OutcomeOfError(%v) = %s, want %s", c.err, got, c.want)
		}
	}
	if s := busy.Error(); s != "call: busy (cause 17 User busy): BUSY" {
		t.Errorf("Error() = %q", s)
	}
	for o := Answered; o <= Cancelled; o++ {
		if p, err := ParseOutcome(o.String()); err != nil || p != o {
			t.Errorf("ParseOutcome(%q) = %v, %v", o, p, err)
		}
	}
	if _, err := ParseOutcome("nope"); err == nil {
		t.Error("ParseOutcome accepted an unknown name")
	}
}
