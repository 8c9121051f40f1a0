// Package outcall is a Go library for AI outbound voice calls on Asterisk (ARI) and FreeSWITCH (ESL): it dials
// through a campaign's gates, classifies who answered, runs a scripted or LLM-driven conversation with barge-in over
// 20 ms PCM frames, and journals, records and reports every call. This package holds no code; it documents how the
// others fit. Start at pkg/outbound (environment, platform, campaign run) or the runnable templates in examples/.
//
// # Layers
//
// Imports run one way: a package imports only packages on a lower floor, or on its own floor within its own family
// (ari and ari/driver; asr and asr/openai). The test in this package parses every package's imports, build tags
// or not, test files aside, and fails on any other edge; it has no exceptions list, and a new package must be put on
// a floor there first.
//
//	5  campaign and application   pkg/outbound/outboundtest, examples/*, bench/*, internal/sectortest, internal/faulttest
//	                              pkg/outbound (environment, platform, run)
//	                              pkg/campaign, report, pkg/metrics (Prometheus, at the edge)
//	4  understanding and scripts  dialog (script engine, runtime, JSONStore, RedactingStore)
//	                              turn (turn-taking: VAD, hold, barge-in, ASR gating, frame by frame)
//	                              pkg/nlu
//	3  PBX drivers and providers  simulators: ari/aritest, pkg/esl/esltest, internal/mediatest
//	                              scripted callee: pkg/callee
//	                              drivers ari/driver, pkg/esl; providers asr/*, tts/* (fakes asrtest, ttstest too)
//	                              contracts and clients: ari (REST + events), asr, tts, pkg/store, pkg/secure
//	2  the call                   pkg/call
//	1  wire, media and text       voice activity detectors: pkg/audio/vad/... (webrtc, silero), internal/vadcorpus
//	                              pkg/rtp, pkg/audiosocket
//	                              pkg/audio, pkg/textnorm, internal/breaker, internal/openaiclient,
//	                              internal/redistest, tts/ttstest/modem
//	0  vocabulary                 pkg/nlu/numeral (the one number vocabulary of nlu and textnorm)
//
// Adapters live with their consumer: dialog.NewStore puts dialog's types on pkg/store's bytes, dialog.RedactingStore
// takes pkg/secure's Redact as a func, pkg/campaign counts through its own Metrics interface that pkg/metrics
// satisfies, tts.Cache's shared level is a tts.SharedCache that tts/rediscache keeps in Redis. Redis, Prometheus and
// OpenAI stay at the edges: go-redis in pkg/store, pkg/secure, pkg/campaign, tts/rediscache and the application;
// Prometheus in pkg/metrics; go-openai behind internal/openaiclient and the packages that speak to a model.
//
// Tests (_test.go files) are consumers like examples: a driver's test may run a dialog on its simulator.
package outcall
