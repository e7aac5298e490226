#!/usr/bin/env bash
# Builds the tests with AddressSanitizer and UndefinedBehaviorSanitizer (g++:
# -fsanitize=address,undefined -fno-sanitize-recover=undefined) in
# build-asan, and runs them there. Any invalid memory access, leak or
# undefined behaviour fails the run.
#
#   scripts/test-asan.sh                       # the test binaries below
#   ASAN_TARGETS="http_test" scripts/test-asan.sh  # a chosen few
#   ASAN_BUILD_DIR=/tmp/asan scripts/test-asan.sh  # another build folder
#
# `make test-asan` runs this; `make test` does not (a second full build:
# about 12 minutes on two cores, and 5 of tests).
#
# What runs sanitized: every test of the binaries in `targets` -- the
# decoder and the masking of secrets, the ledger (fold, sessions, usage,
# properties), the store on real SQLite files, the API, the config file, the
# registration limiter, the single writer and its projector (ingest_test,
# projector_test), the receiver over real HTTP on loopback (http_test) and
# against hostile clients (hostile_input_test), the storage faults
# (fault_test), the MQTT publisher against a real mosquitto
# (mqtt_unit_test, mqtt_test) and forwarding (forward_test); the suites
# that run on both stores run on both here too. Left out, to keep
# this run shorter: the end-to-end tests of the built binary
# (the same code, run as a child process), the two-instance farm_test (its
# PostgreSQL code runs here in the postgresql/ suites), the dashboard and
# the benchmarks. Line tables only (-g1): a report still names file and
# line, and the build takes a fifth less.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${ASAN_BUILD_DIR:-build-asan}

if [[ ! -f $build/build.ninja ]]; then
  launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
  flags+=" -fno-omit-frame-pointer"
  cmake -S . -B "$build" -G Ninja "${launcher[@]}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DPRINTMETER_BENCH=OFF >/dev/null
fi
default_targets="decode_test common_test ledger_test ledger_seed_test
  store_test api_test
  cli_config_test registration_limit_test static_files_test http_test
  ingest_test projector_test http_status_test
  hostile_input_test fault_test forward_test pg_test_server
  mqtt_unit_test mqtt_test maintenance_test maintenance_fleet_test"
read -r -a targets <<<"$(echo ${ASAN_TARGETS:-$default_targets})"
ninja -C "$build" -j "${JOBS:-2}" "${targets[@]}"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Tests of the binaries not built here are listed by CTest as *_NOT_BUILT.
ctest --test-dir "$build" --output-on-failure -j 2 --timeout 600 \
  -E '_NOT_BUILT'

