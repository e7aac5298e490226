# printmeter: `make run`, `make test`, `make build` (see README.md).
BUILD_DIR ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: build test run deps test-deps web bench clean

build: deps
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then \
	  cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS); fi
	cmake --build $(BUILD_DIR) -j $(JOBS)

deps:
	@./scripts/install-deps.sh

test-deps:
	@./scripts/install-deps.sh --test

# Every test: unit and integration tests (CTest), the decoder fuzzer, the
# dashboard's browser tests.
test: test-deps build web
	./scripts/test.sh $(BUILD_DIR)

run: build web
	$(BUILD_DIR)/printmeter serve $(ARGS)

web:
	@./scripts/build-web.sh

bench: build
	./scripts/bench.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) build-fuzz
