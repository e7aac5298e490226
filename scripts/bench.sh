#!/usr/bin/env bash
# `make bench`: measures printmeter's ingest beside its peers (nginx, Node-RED,
# a node:http + better-sqlite3 receiver) in one run, then `printmeter
# rebuild`, the start on a 1 M-session ledger and the Google Benchmark
# programs (decode, ledger, store, read), and writes docs/benchmarks.md with
# the machine beside every figure (bench/run.mjs does the measuring).
#
#   scripts/bench.sh [BUILD_DIR]                   the full run (~5 min)
#   scripts/bench.sh --printmeter BIN --out FILE   measures another binary
#   scripts/bench.sh --smoke [BUILD_DIR]           tiny sizes, report in a temp
#       folder, fails when a benchmark produced no figures (run by make test)
#
# The full run installs what it measures against on demand: nginx-light and
# wrk from Debian (scripts/install-deps.sh --bench), node-red and
# better-sqlite3 into bench/peers/node_modules (npm ci). The smoke run installs
# nothing and skips the peers that are missing. The read benchmarks' ledger
# (1 M sessions, 200 printers, 2 years) is generated once into BUILD_DIR/bench.db.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
printmeter=""
out=docs/benchmarks.md
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) smoke=1; shift ;;
    --printmeter) printmeter=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -*) echo "bench.sh: unknown flag $1 (see the top of $0)" >&2; exit 2 ;;
    *) break ;;
  esac
done
build_dir=${1:-build}
printmeter=${printmeter:-$build_dir/printmeter}

if (( smoke )); then
  if ! command -v wrk >/dev/null; then
    echo "bench.sh: wrk is not installed; make test-deps installs it" >&2
    exit 1
  fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  node bench/run.mjs --smoke --printmeter "$printmeter" --build "$build_dir" \
    --out "$tmp/benchmarks.md"
  exit
fi

./scripts/install-deps.sh --bench
if [[ ! -d bench/peers/node_modules/node-red ||
      ! -d bench/peers/node_modules/better-sqlite3 ]]; then
  echo "== installing the npm peers into bench/peers/node_modules"
  (cd bench/peers && npm ci --no-audit --no-fund --loglevel=error)
fi

db="$build_dir/bench.db"
if [[ ! -f "$db" ]]; then
  echo "== generating the benchmark ledger in $db (once, about a minute)"
  "$build_dir/src/api/gen_db" --db "sqlite:$db"
fi

node bench/run.mjs --printmeter "$printmeter" --build "$build_dir" \
  --large-db "$db" --store-db "$build_dir/store_bench.db" --out "$out"
echo "== wrote $out"
