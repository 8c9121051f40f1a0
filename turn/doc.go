// Package turn decides who talks on a voice call: when the callee interrupts the bot (barge-in), when a cough or
// a backchannel (嗯, 好的) does not, when a reply is complete (end of speech, a digit string read in groups, DTMF
// keys), when nobody answered, and what a failed recogniser or synthesizer does to the turn.
//
// A Taker is the whole decision, frame-driven and explicit: each input is one method — Frame (20 ms of the
// callee's audio), Result (recognition), ASRLost, Digit (DTMF), SpeechDone (the prompt's writer finished),
// Stopped (a requested stop completed), Sent (the bot's frame as it went out, so that its echo in the callee's audio
// is not taken for the callee) — and returns an Action value: frames for the recogniser, hold, stop,
// release, end. It starts no goroutine and reads no clock: the call's audio is its clock (every threshold is
// measured in frames received, so a busy machine does not change behaviour) and wall time comes with the inputs
// that measure latency. Tests feed it frame by frame. The voice activity detector is behind the VAD interface.
//
// A Driver is the glue that feeds a Taker from a call's channels (frames, events, recognition results, the
// prompt's Player) and carries out its Actions on the call's media.
//
//	frames ─┐                     ┌─▶ Recognize → asr.Stream.Write
//	events ─┼─▶ Driver ─▶ Taker ──┼─▶ Hold / Release → call.Holder
//	results ┤     (select)        ├─▶ Stop → Player.Stop, Media.Flush → Taker.Stopped
//	Player ─┘                     └─▶ End → Outcome (utterance, keys, silence, played, failed)
//
// The package sits beside dialog at the module root rather than under pkg/: it is the listening half of the
// conversation runtime, above the media, recognition and synthesis it drives (pkg/audio, pkg/call, asr) and below
// the script engine that consumes its Outcomes (dialog). pkg/ holds the wire and media primitives under both.
package turn
