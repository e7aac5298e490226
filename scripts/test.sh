#!/usr/bin/env bash
# Runs every test of printmeter against the build in $1 (default: build):
#  1. every CTest test of the build (unit, integration over real HTTP on
#     SQLite and PostgreSQL, end to end on the binary, storage faults on a
#     tmpfs);
#  2. the fuzzers, with ASan and UBSan (scripts/fuzz.sh): the decoder and
#     the receiver's request reading 60 s each, side by side, the config
#     file 30 s;
#  3. the dashboard in a real (headless) Chromium.
# The same suite under ASan and UBSan is `make test-asan`
# (scripts/test-asan.sh): a second full build, which would take `make test`
# from about 17 to over 30 minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}

# Each part's heading says how long the run has taken so far.
phase() { echo "== $1 ($(date -u +%T), ${SECONDS} s into the tests)"; }

phase "unit and integration tests (ctest)"
ctest --test-dir "$build_dir" --output-on-failure -j 2 --timeout 300

if [[ -x scripts/fuzz.sh ]]; then
  phase "fuzzers (decoder, request reading, config file)"
  ./scripts/fuzz.sh
fi

if [[ -f web/package.json ]]; then
  # The dashboard is built and tested on the Node.js a stock Debian 12
  # (Raspberry Pi OS bookworm) has, 18.20, whatever node this machine has:
  # every package in the lockfile must accept it, and the build and the
  # browser tests run on it.
  node18=$(./scripts/node18.sh)
  phase "dashboard on Node.js $("$node18" --version): engines, build, browser"
  (cd web &&
    "$node18" scripts/check-engines.mjs "$("$node18" --version)" &&
    "$node18" node_modules/typescript/bin/tsc --noEmit &&
    "$node18" node_modules/vite/bin/vite.js build --logLevel warn &&
    "$node18" --test --test-concurrency=1 test/*.test.mjs)
fi
phase "all passed"
