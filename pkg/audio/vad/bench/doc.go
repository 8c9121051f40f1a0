// Package bench holds the side-by-side benchmark of the voice activity detectors on real speech in noise
// (internal/vadcorpus); BENCHMARKS.md has the method and the results. It runs only when asked:
//
//	make speech-models
//	go test -tags 'silero webrtcvad' -run VADBench -v ./pkg/audio/vad/bench -args -vadbench
//
// A detector not built in (no tag) is reported as such and left out of the table.
package bench
