// Package sectortest runs the four sector scripts (examples/finance-overdue, ecommerce, healthcare, government) as
// whole calls on simulated call audio, over both PBX drivers: ari on the Asterisk simulator (ari/aritest) and esl
// on the FreeSWITCH fake (pkg/esl/esltest). The callee's words are rendered by tts/ttstest and recognised by
// asr/asrtest, so every path goes through real sockets on 127.0.0.1, RTP or WebSocket media, VAD, barge-in,
// DTMF, the dialog runtime, notifications and the PBX's hang-up or transfer.
//
// The package holds only tests.
package sectortest
