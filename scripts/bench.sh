#!/usr/bin/env bash
# Runs every benchmark built in $1 (default: build) and prints the machine it
# ran on first, so figures are always read next to the hardware. The read
# benchmarks need a ledger of 1 M sessions over 200 printers and 2 years:
# it is generated once (about a minute) into $1/bench.db and reused.
set -euo pipefail
build_dir=${1:-build}
echo "== machine"
lscpu | grep -E 'Model name|^CPU\(s\)' || true
free -h | head -2
echo

db="$build_dir/bench.db"
if [[ ! -f "$db" ]]; then
  echo "== generating the benchmark ledger in $db (once)"
  "$build_dir/src/api/gen_db" --db "sqlite:$db"
fi
export PM_BENCH_DB="sqlite:$db"
export PM_STORE_BENCH_DB="$build_dir/store_bench.db"

for b in "$build_dir"/src/*/*_bench; do
  [[ -x "$b" ]] || continue
  echo "== $(basename "$b")"
  "$b" --benchmark_min_time=0.5
done
echo "== the receiver end to end: start printmeter serve, then"
echo "   $build_dir/src/http/http_load --port 8080 --clients 32 (see bench/http_load.cc)"
