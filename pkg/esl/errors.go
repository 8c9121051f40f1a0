package esl

import (
	"errors"
	"strings"

	"github.com/outcall/outcall/pkg/call"
)

// Sentinel errors; compare with errors.Is.
var (
	ErrClosed       = errors.New("esl: closed")                               // Close was called
	ErrDisconnected = errors.New("esl: disconnected")                         // the connection dropped with the command in flight or before it
	ErrAuth         = errors.New("esl: authentication failed")                // FreeSWITCH refused the password
	ErrRejected     = errors.New("esl: connection rejected")                  // text/rude-rejection: the ACL refused us
	ErrMalformed    = errors.New("esl: malformed message")                    // a frame that breaks the wire format
	ErrTooLarge     = errors.New("esl: message too large")                    // a frame beyond the parser's limits
	ErrConfig       = errors.New("esl: invalid configuration")                // a Config that cannot work
	ErrNoAuth       = errors.New("esl: no auth/request")                      // the server sent something other than auth/request first
	ErrBadCommand   = errors.New("esl: command contains a newline")           // would inject a second command
	ErrFormat       = errors.New("esl: frame format does not match the call") // a Write at another sample rate
	// ErrUnicastSilent: FreeSWITCH sent no unicast audio for a call (no port it could bind, a channel without
	// media, UDP blocked between it and this process). The call was hung up.
	ErrUnicastSilent = errors.New("esl: no unicast audio from FreeSWITCH")
)

// Error is a `-ERR ...` answer from FreeSWITCH: a command/reply, an api/response body or a BACKGROUND_JOB result.
type Error struct {
	Command string // the command verb, e.g. "originate" or "auth"; passwords are never kept
	Reply   string // FreeSWITCH's words after "-ERR ", e.g. "NO_ANSWER" or "invalid"
}

// Error implements error.
func (e *Error) Error() string { return "esl: " + e.Command + ": -ERR " + e.Reply }

// Cause returns the Q.850 cause named by the reply (such as USER_BUSY), or call.CauseUnknown.
func (e *Error) Cause() call.Cause {
	f := strings.Fields(e.Reply)
	if len(f) == 0 {
		return call.CauseUnknown
	}
	c, _ := CauseFromName(f[0])
	return c
}

// causeNames are FreeSWITCH's names for Q.850 causes (switch_types.h, SWITCH_CAUSE_*).
var causeNames = map[string]call.Cause{
	"UNALLOCATED_NUMBER":        call.CauseUnallocated,
	"NO_ROUTE_DESTINATION":      3,
	"NORMAL_CLEARING":           call.CauseNormal,
	"USER_BUSY":                 call.CauseUserBusy,
	"NO_USER_RESPONSE":          call.CauseNoUserResponse,
	"NO_ANSWER":                 call.CauseNoAnswer,
	"SUBSCRIBER_ABSENT":         call.CauseSubscriberAbsent,
	"CALL_REJECTED":             call.CauseCallRejected,
	"NUMBER_CHANGED":            call.CauseNumberChanged,
	"DESTINATION_OUT_OF_ORDER":  27,
	"INVALID_NUMBER_FORMAT":     call.CauseInvalidNumber,
	"NORMAL_UNSPECIFIED":        call.CauseNormalUnspec,
	"NORMAL_CIRCUIT_CONGESTION": call.CauseCongestion,
	"NETWORK_OUT_OF_ORDER":      38,
	"NORMAL_TEMPORARY_FAILURE":  call.CauseTempFailure,
	"SWITCH_CONGESTION":         call.CauseSwitchCongestion,
	"BEARERCAPABILITY_NOTAVAIL": call.CauseBearerCapNotAvail,
	"RECOVERY_ON_TIMER_EXPIRE":  102,
	"INTERWORKING":              call.CauseInterworking,
	"ORIGINATOR_CANCEL":         487,
	"ALLOTTED_TIMEOUT":          602,
	"MEDIA_TIMEOUT":             604,
	"PROGRESS_TIMEOUT":          607,
	"GATEWAY_DOWN":              609,
}

// CauseFromName maps a FreeSWITCH hangup cause name (Hangup-Cause header, job reply) to its Q.850 code.
func CauseFromName(name string) (call.Cause, bool) {
	c, ok := causeNames[strings.ToUpper(strings.TrimSpace(name))]
	return c, ok
}

// CauseName returns FreeSWITCH's name for c, as uuid_kill takes it; NORMAL_CLEARING for an unknown cause.
func CauseName(c call.Cause) string {
	for n, v := range causeNames {
		if v == c {
			return n
		}
	}
	return "NORMAL_CLEARING"
}

// outcomeOfCause maps a cause to a call outcome, treating FreeSWITCH-specific codes call.OutcomeOf does not know.
func outcomeOfCause(c call.Cause) call.Outcome {
	switch c {
	case 3:
		return call.Unallocated
	case 487:
		return call.Cancelled
	case 602, 607:
		return call.NoAnswer
	case 609, 38, 27:
		return call.Congestion
	}
	return call.OutcomeOf(c)
}

func asError(err error, target **Error) bool { return errors.As(err, target) }

// OutcomeOfCause maps a FreeSWITCH hangup cause to a call outcome; it knows FreeSWITCH's own codes
// (ORIGINATOR_CANCEL, GATEWAY_DOWN...) besides the Q.850 ones call.OutcomeOf handles.
func OutcomeOfCause(c call.Cause) call.Outcome { return outcomeOfCause(c) }
