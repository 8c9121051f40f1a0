// Package callee describes scripted callees: how a simulated phone answers and what its person does on the call.
// The same Script drives the Asterisk simulator (ari/aritest) and the FreeSWITCH fake (pkg/esl/esltest).
package callee

import "time"

// Answer says how the simulated phone responds to the call.
type Answer int

// Ways a phone responds.
const (
	Pickup      Answer = iota // answer after Script.AnswerAfter
	Busy                      // busy (Q.850 17)
	NoAnswer                  // ring until the caller's timeout (Q.850 19)
	Congestion                // network congestion (Q.850 34)
	Reject                    // call rejected (Q.850 21)
	Unallocated               // number does not exist (Q.850 1)
)

// Script is one simulated callee.
type Script struct {
	Name        string        // for logs and call records
	Answer      Answer        // how the phone responds; default Pickup
	AnswerAfter time.Duration // ring time before Pickup
	Steps       []Step        // what the person does once answered, in order
	// HangupAfterSteps ends the call from the callee side when the steps run out; otherwise the callee waits
	// silently until the bot hangs up.
	HangupAfterSteps bool
	// CarrySilence makes the line carry silent frames whenever the person makes no sound, as a phone line that
	// sends RTP all the time does (and Asterisk's Playtones(0) on a Local line); by default a silent callee sends
	// no packets. On Asterisk it matters for DTMF: a key's end that is held back by the minimum gap between
	// digits is read only with the channel's next frame (see ari/aritest Config.DTMFBeginLate).
	CarrySilence bool
}

// Action is what a Step does.
type Action int

// Step actions.
const (
	Say     Action = iota + 1 // play Audio (or Text rendered by a TTS)
	Press                     // press Digits as DTMF
	Silence                   // stay silent for Duration
	HangUp                    // hang up
	Echo                      // send back everything the bot sends for Duration (the `echo` test extension)
)

// Trigger says when a Step starts.
type Trigger int

// Step triggers.
const (
	AfterBot Trigger = iota // once the bot has stopped talking (no bot audio for Script-level quiet gap) — a turn
	At                      // at Offset after answer, whatever the bot is doing (talk over it: barge-in)
	Now                     // straight after the previous step
)

// Step is one thing the callee does.
type Step struct {
	Action    Action
	When      Trigger
	Offset    time.Duration // At: time since answer
	Audio     []int16       // Say: PCM16 mono at AudioRate
	AudioRate int           // Say: rate of Audio; default 8000
	Text      string        // Say: text for a TTS to render when Audio is empty; also the transcript tests expect
	Digits    string        // Press
	Duration  time.Duration // Silence, Echo
}
