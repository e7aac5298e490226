#!/usr/bin/env bash
# Runs every test of printmeter against the build in $1 (default: build):
#  1. every CTest test of the build (unit, integration over real HTTP and
#     SQLite, end to end on the binary, storage faults on a tmpfs);
#  2. under AddressSanitizer and UndefinedBehaviorSanitizer, in build-asan
#     (scripts/test-asan.sh says which test binaries: all but the end-to-end
#     ones on the binary);
#  3. the fuzzers, with ASan and UBSan (scripts/fuzz.sh): the decoder 60 s,
#     the receiver's request reading 60 s, the config file 30 s;
#  4. the dashboard in a real (headless) Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}

echo "== unit and integration tests (ctest)"
ctest --test-dir "$build_dir" --output-on-failure -j 2 --timeout 300

echo "== the tests under AddressSanitizer and UndefinedBehaviorSanitizer"
./scripts/test-asan.sh

if [[ -x scripts/fuzz.sh ]]; then
  echo "== fuzzers (decoder, request reading, config file)"
  ./scripts/fuzz.sh
fi

if [[ -f web/package.json ]]; then
  # The dashboard is built and tested on the Node.js a stock Debian 12
  # (Raspberry Pi OS bookworm) has, 18.20, whatever node this machine has:
  # every package in the lockfile must accept it, and the build and the
  # browser tests run on it.
  node18=$(./scripts/node18.sh)
  echo "== dashboard on Node.js $("$node18" --version): engines, build, browser"
  (cd web &&
    "$node18" scripts/check-engines.mjs "$("$node18" --version)" &&
    "$node18" node_modules/typescript/bin/tsc --noEmit &&
    "$node18" node_modules/vite/bin/vite.js build --logLevel warn &&
    "$node18" --test --test-concurrency=1 test/*.test.mjs)
fi
