#!/usr/bin/env bash
# Runs every benchmark built in $1 (default: build) and prints the machine it
# ran on first, so figures are always read next to the hardware.
set -euo pipefail
build_dir=${1:-build}
echo "== machine"
lscpu | grep -E 'Model name|^CPU\(s\)' || true
free -h | head -2
echo
for b in "$build_dir"/*_bench "$build_dir"/bench/*_bench "$build_dir"/src/*/*_bench; do
  [[ -x "$b" ]] || continue
  echo "== $(basename "$b")"
  "$b" --benchmark_min_time=0.5
done
