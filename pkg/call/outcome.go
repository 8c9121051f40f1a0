package call

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Outcome is how a dial attempt ended.
type Outcome int

// Outcomes of a dial attempt.
const (
	Answered    Outcome = iota + 1 // the callee answered
	Busy                           // the callee's line was busy
	NoAnswer                       // it rang until the timeout
	Congestion                     // the network or trunk was congested
	Rejected                       // the callee or network refused the call
	Unallocated                    // the number does not exist
	Failed                         // any other failure: bad endpoint, PBX error, lost connection
	Cancelled                      // the caller's context ended the attempt
)

var outcomeNames = [...]string{"", "answered", "busy", "no-answer", "congestion", "rejected", "unallocated", "failed", "cancelled"}

// String returns the outcome's name, e.g. "no-answer".
func (o Outcome) String() string {
	if o > 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// ParseOutcome returns the outcome named s (as String prints it).
func ParseOutcome(s string) (Outcome, error) {
	for i, n := range outcomeNames {
		if i > 0 && n == s {
			return Outcome(i), nil
		}
	}
	return 0, fmt.Errorf("call: unknown outcome %q", s)
}

// Cause is a Q.850 / ISDN cause code, as Asterisk's hangup cause and FreeSWITCH's Hangup-Cause carry.
type Cause int

// Q.850 causes a voice bot meets.
const (
	CauseUnknown           Cause = 0
	CauseUnallocated       Cause = 1
	CauseNormal            Cause = 16
	CauseUserBusy          Cause = 17
	CauseNoUserResponse    Cause = 18
	CauseNoAnswer          Cause = 19
	CauseSubscriberAbsent  Cause = 20
	CauseCallRejected      Cause = 21
	CauseNumberChanged     Cause = 22
	CauseInvalidNumber     Cause = 28
	CauseNormalUnspec      Cause = 31
	CauseCongestion        Cause = 34
	CauseTempFailure       Cause = 41
	CauseSwitchCongestion  Cause = 42
	CauseBearerCapNotAvail Cause = 58
	CauseInterworking      Cause = 127
)

// String returns the cause's Q.850 name in the words Asterisk uses, e.g. "Normal Clearing".
func (c Cause) String() string {
	switch c {
	case CauseUnknown:
		return "Unknown"
	case CauseUnallocated:
		return "Unallocated (unassigned) number"
	case CauseNormal:
		return "Normal Clearing"
	case CauseUserBusy:
		return "User busy"
	case CauseNoUserResponse:
		return "No user responding"
	case CauseNoAnswer:
		return "User alerting, no answer"
	case CauseSubscriberAbsent:
		return "Subscriber absent"
	case CauseCallRejected:
		return "Call Rejected"
	case CauseNumberChanged:
		return "Number changed"
	case CauseInvalidNumber:
		return "Invalid number format (addr incomplete)"
	case CauseNormalUnspec:
		return "Normal, unspecified"
	case CauseCongestion:
		return "Circuit/channel congestion"
	case CauseTempFailure:
		return "Temporary failure"
	case CauseSwitchCongestion:
		return "Switching equipment congestion"
	case CauseInterworking:
		return "Interworking, unspecified"
	}
	return "cause " + strconv.Itoa(int(c))
}

// OutcomeOf maps a Q.850 cause of an unanswered attempt to an Outcome.
func OutcomeOf(c Cause) Outcome {
	switch c {
	case CauseUserBusy:
		return Busy
	case CauseNoAnswer, CauseNoUserResponse, CauseSubscriberAbsent:
		return NoAnswer
	case CauseCongestion, CauseSwitchCongestion, CauseTempFailure:
		return Congestion
	case CauseCallRejected:
		return Rejected
	case CauseUnallocated, CauseNumberChanged, CauseInvalidNumber:
		return Unallocated
	}
	return Failed
}

// Error reports a dial attempt that did not end in an answered call.
type Error struct {
	Outcome Outcome // why the attempt ended
	Cause   Cause   // Q.850 cause from the PBX, CauseUnknown when it gave none
	Detail  string  // the PBX's own words: a dial status, a job reply, a message
	Err     error   // underlying error, if any
}

// Error implements error.
func (e *Error) Error() string {
	s := "call: " + e.Outcome.String()
	if e.Cause != CauseUnknown {
		s += fmt.Sprintf(" (cause %d %s)", int(e.Cause), e.Cause)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// OutcomeOfError returns the Outcome a Dial error carries: Cancelled for a context error, the *Error's Outcome,
// else Failed. It returns Answered for a nil error.
func OutcomeOfError(err error) Outcome {
	var ce *Error
	switch {
	case err == nil:
		return Answered
	case errors.As(err, &ce):
		return ce.Outcome
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return Cancelled
	}
	return Failed
}

// ErrHungUp is returned by Media and Call methods after the call has ended.
var ErrHungUp = errors.New("call: hung up")
