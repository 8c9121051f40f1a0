// Package call is the PBX-agnostic outbound call: what the ari and esl drivers implement and what dialog and
// campaign consume.
package call

import (
	"context"
	"time"

	"github.com/outcall/outcall/pkg/audio"
)

// Dialer places outbound calls. Dial blocks until the callee answers (a live Call) or the attempt ends; an attempt
// that ends unanswered returns a *Error whose Outcome says why.
type Dialer interface {
	Dial(ctx context.Context, r Request) (Call, error)
}

// Request describes one outbound attempt.
type Request struct {
	Endpoint  string            // PBX dial string, e.g. "PJSIP/13800138000@trunk" or "Local/echo@outcall-test"
	CallerID  string            // presented caller ID, e.g. `"Bank" <4001234567>`; empty: the PBX default
	Timeout   time.Duration     // ring timeout; default 30 s
	Variables map[string]string // channel variables set on the outbound channel
	ID        string            // call id chosen by the caller; empty: the driver chooses one
}

// Call is a live, answered call.
type Call interface {
	// ID is the call's id, unique across PBXs and processes.
	ID() string
	// Media carries the callee's audio to the bot and the bot's audio to the callee.
	Media() Media
	// Events delivers DTMF, hangup and other call events in order; it is closed after the hangup event.
	Events() <-chan Event
	// Hangup ends the call with a Q.850 cause (CauseNormal for an ordinary end).
	Hangup(ctx context.Context, c Cause) error
	// Transfer hands the callee to a human agent or a dialplan location; the bot's media is detached.
	Transfer(ctx context.Context, to Target) error
	// SendDTMF sends digits to the callee.
	SendDTMF(ctx context.Context, digits string) error
}

// Media is a call's audio in both directions, as 20 ms PCM16 frames in Format().
type Media interface {
	// Format is the format of the frames Read returns and Write takes (8 or 16 kHz).
	Format() audio.Format
	// Read returns the callee's next 20 ms frame. A gap in the PBX's packets is returned as silence on time, so
	// timeouts and end-of-speech detection never stall. After hangup it returns ErrHungUp.
	Read(ctx context.Context) (audio.Frame, error)
	// Write queues a frame for the callee; frames go out paced at 20 ms by a shared playout clock. Write blocks
	// while the queue is full.
	Write(ctx context.Context, f audio.Frame) error
	// Flush drops every queued frame (barge-in) and reports how much of the audio written since the previous
	// Flush was actually sent to the callee.
	Flush() (played time.Duration)
	// Caps says what else the media can do: hold the bot's playout, deliver the callee's frames on a channel. It
	// is part of the contract, so a wrapper that embeds a Media passes the capabilities on; a wrapper that
	// changes what Read returns (a recorder) must return its own Caps, as Recorded does.
	Caps() Caps
}

// Caps are a Media's capabilities beyond Read, Write and Flush. A nil field is one the media lacks.
type Caps struct {
	// Holder holds the bot's playout. The dialog runtime holds the bot's speech at the callee's first voiced
	// frame, then flushes once the interruption is confirmed or releases if it was only a cough or a
	// backchannel, so the bot stops at once without dropping a prompt for every "嗯". Without it (nil: the
	// audio is already with the PBX, as in FreeSWITCH's broadcast mode) the bot talks until the interruption
	// is confirmed.
	Holder Holder
	// Frames delivers the callee's frames, paced as Read returns them, so a consumer can wait for audio, call
	// events and recognition results in one select with no goroutine of its own per call. It is closed when
	// the media ends (Read then says why). Frames and Read share one stream of frames: use one or the other.
	// Nil: the media delivers frames through Read only.
	Frames <-chan audio.Frame
	// Watch, set with Frames, registers a function called with every frame before it is sent on Frames, in
	// order, on the goroutine that paces it (it must be quick and must not block; a later Watch replaces an
	// earlier one). A wrapper that must see the callee's audio (a recorder) keeps Frames with it.
	Watch func(func(audio.Frame))
}

// Holder is a playout that can be held: Hold makes the bot fall silent within one frame with its queued audio
// kept, and Release carries on from the frame where it stopped. A Media offers one in its Caps.
type Holder interface {
	Hold()
	Release()
}

// Target is where Transfer sends the callee: either an endpoint dialed and bridged with the callee (an agent), or
// a dialplan location the callee continues in (a queue).
type Target struct {
	Endpoint  string        // dial string of a human agent; bridged with the callee
	CallerID  string        // caller ID presented to the agent
	Timeout   time.Duration // ring timeout for Endpoint; default 30 s
	Context   string        // dialplan context, used when Endpoint is empty
	Extension string        // dialplan extension
	Priority  int           // dialplan priority; default 1
}

// EventType says what an Event reports.
type EventType int

// Event types.
const (
	EventDTMF           EventType = iota + 1 // the callee pressed Digit
	EventHangup                              // the call ended; Cause says why; last event
	EventTalkingStarted                      // the PBX's talk detector heard the callee start
	EventTalkingStopped                      // the PBX's talk detector heard the callee stop
	EventTransferred                         // the callee was handed to a Target
	EventRecordingDone                       // a PBX-side recording finished; Detail names it
)

// String returns the event type's name.
func (t EventType) String() string {
	switch t {
	case EventDTMF:
		return "dtmf"
	case EventHangup:
		return "hangup"
	case EventTalkingStarted:
		return "talking-started"
	case EventTalkingStopped:
		return "talking-stopped"
	case EventTransferred:
		return "transferred"
	case EventRecordingDone:
		return "recording-done"
	}
	return "unknown"
}

// Event is something that happened on a call.
type Event struct {
	Type   EventType
	Time   time.Time     // when the PBX reported it
	Digit  rune          // EventDTMF: '0'-'9', '*', '#', 'A'-'D'
	Length time.Duration // EventDTMF: how long the key was held
	Cause  Cause         // EventHangup: Q.850 cause
	Remote bool          // EventHangup: the callee (not the bot) hung up
	Detail string        // free text: a recording name, a transfer target
}
