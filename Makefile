# printmeter: `make run`, `make test`, `make build` (see README.md).
BUILD_DIR ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: build test test-asan run deps test-deps web bench reliability clean configure

# The dashboard is built first: the binary embeds web/dist (see
# src/http/embedded_files.h), so `build/printmeter` is one file to copy.
# Everything: the binary, the tests and the benchmarks.
build: deps web configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

configure:
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then \
	  cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS); fi

deps:
	@./scripts/install-deps.sh

test-deps:
	@./scripts/install-deps.sh --test

# Every test: unit, integration and end-to-end tests (CTest), the fuzzers
# (under ASan and UBSan), the dashboard's browser tests.
test: test-deps build
	./scripts/test.sh $(BUILD_DIR)

# The unit and integration tests again under ASan and UBSan, in a build of
# their own (build-asan): a second full build, so not part of `make test`.
test-asan: test-deps
	./scripts/test-asan.sh

# Only what serving needs: the dashboard, then the binary that embeds it.
run: deps web configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target printmeter
	$(BUILD_DIR)/printmeter serve $(ARGS)

web:
	@./scripts/build-web.sh

# Measures printmeter beside its peers, writes docs/benchmarks.md (installs
# the peers on demand). Another binary: BENCH_ARGS="--printmeter BIN --out FILE".
bench: build
	./scripts/bench.sh $(BENCH_ARGS) $(BUILD_DIR)

# The tests labelled `reliability` (durability, faults, connection fairness),
# and docs/reliability.md regenerated from their figures.
reliability: test-deps build
	./scripts/reliability.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) build-fuzz build-asan
