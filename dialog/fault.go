package dialog

import (
	"errors"
	"fmt"
)

// Outcome tags and transfer reasons for calls a provider failure sent to a human.
const (
	TagASRFailed = "asr_failed" // speech recognition died and could not be restarted
	TagTTSFailed = "tts_failed" // a prompt could not be rendered
)

// Incident kinds and actions, in Incident.Kind and Incident.Action.
const (
	IncidentASR      = "asr"      // the recognition stream failed or ended early
	IncidentTTS      = "tts"      // a prompt's rendering failed
	IncidentTransfer = "transfer" // the transfer to a human could not be made (no target, agent unreachable)
	IncidentLLM      = "llm"      // the model of an LLM node failed (unreachable, error, refused answer)

	ActionRestarted = "restarted" // the ASR stream was restarted and the prompt asked again
	ActionRetried   = "retried"   // the rendering was retried and completed
	ActionEscalated = "escalated" // the call went the script's escalation way (escalate node or a human)
	ActionIgnored   = "ignored"   // the failure hit the closing prompt; the end action went ahead
	ActionHungUp    = "hung-up"   // the call was ended rather than left on an open line
	ActionFallback  = "fallback"  // the LLM node spoke its fallback prompt instead of the model's answer
)

// Incident is a provider failure the runtime handled during a call: what failed, where, and what it did about
// it. A call with incidents still ends with a valid Outcome.
type Incident struct {
	Turn   int    `json:"turn"`   // State.Turn when it happened
	Node   string `json:"node"`   // node the conversation was at
	Kind   string `json:"kind"`   // IncidentASR, IncidentTTS or IncidentTransfer
	Err    string `json:"err"`    // the provider's error
	Action string `json:"action"` // ActionRestarted, ActionRetried, ActionEscalated or ActionIgnored
}

// providerFailure is how runner.turn tells run that a provider, not the callee, ended the turn.
type providerFailure struct {
	kind string
	err  error
}

func (p *providerFailure) Error() string { return fmt.Sprintf("dialog: %s failed: %v", p.kind, p.err) }
func (p *providerFailure) Unwrap() error { return p.err }

func asProviderFailure(err error) *providerFailure {
	var pf *providerFailure
	if errors.As(err, &pf) {
		return pf
	}
	return nil
}

// escalate ends the conversation for a reason outside the script (a provider failure) the way the script
// escalates unresolved turns: the Escalate node, else a transfer to a human. It counts as a turn.
func (c *Conversation) escalate(reason, tag string) Reply {
	c.st.Turn++
	r := Reply{Node: c.st.Node, Mood: c.st.Mood}
	c.toHuman(&r, reason, tag)
	if !c.st.Done { // an Escalate node must end the call; make sure of it
		c.finish(&r, c.global("human"), EndTransfer, tag, TagHuman)
	}
	if c.st.Outcome.TransferReason == "" && c.st.Outcome.End == EndTransfer {
		c.st.Outcome.TransferReason = reason
	}
	return r
}

// askAgain is the reply after the callee's words were lost to a recognition failure: an apology and the prompt
// again, at the same node, without counting as a no-match.
func (c *Conversation) askAgain(prev Reply) Reply {
	r := Reply{Node: prev.Node, Listen: prev.Listen, Speed: prev.Speed, Mood: c.st.Mood}
	r.Prompt = c.global("no_match")
	if prev.Prompt != "" {
		r.Prompt += " " + prev.Prompt
	}
	return r
}
