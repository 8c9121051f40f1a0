# outcall — build and test. `make test` sets up a fresh Debian machine (as root) and runs every test.
GO ?= go
DEB_PACKAGES := redis-server espeak-ng sox pocketsphinx pocketsphinx-en-us libpocketsphinx-dev pkg-config
TEST_TIMEOUT ?= 20m

.PHONY: test deps vet fmt-check bench quickstart fuzz

test: deps fmt-check vet
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...

# deps installs the Debian packages the tests use (real redis-server, espeak-ng, sox, pocketsphinx) when missing.
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
	./ari:FuzzParseWSControl \
	./dialog:FuzzLoad \
	./pkg/campaign:FuzzImportCSV

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== $$pkg $$fn ($(FUZZ_TIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZ_TIME) -parallel $(FUZZ_PARALLEL) $$pkg; \
	done
