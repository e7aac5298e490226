#!/usr/bin/env bash
# Runs every test of printmeter against the build in $1 (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}

echo "== unit and integration tests (ctest)"
ctest --test-dir "$build_dir" --output-on-failure -j 2 --timeout 300

if [[ -x scripts/fuzz.sh ]]; then
  echo "== decoder fuzzer"
  ./scripts/fuzz.sh
fi

if [[ -f web/package.json ]]; then
  echo "== dashboard in a browser"
  (cd web && npm test --silent)
fi
