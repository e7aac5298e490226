#!/usr/bin/env bash
# Fuzzes the webhook decoder with libFuzzer (ASan, UBSan, LSan) for a bounded
# time; exits non-zero on any crash, leak, undefined behaviour or timeout.
#
#   scripts/fuzz.sh                 # 60 s
#   FUZZ_SECONDS=600 scripts/fuzz.sh
#
# Builds in build-fuzz with clang (configured once), seeds the corpus from
# every request in ../shared/fixtures, and keeps what the fuzzer finds in
# build-fuzz/corpus/decode for the next run. Crashing inputs are written to
# build-fuzz/artifacts/; replay one with build-fuzz/fuzz/decode_fuzz FILE.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build-fuzz
seconds=${FUZZ_SECONDS:-60}
fixtures=../shared/fixtures

if [[ ! -f $build/build.ninja ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja \
    -DPRINTMETER_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C "$build" -j "${FUZZ_JOBS:-2}" decode_fuzz

# The fuzz input format (fuzz/decode_fuzz.cc): Content-Type line, target
# line, body.
corpus=$build/corpus/decode
mkdir -p "$corpus" "$build/artifacts"
for f in "$fixtures"/seed/*.json "$fixtures"/plugin/*.json; do
  { printf 'application/json\n/webhook\n'; cat "$f"; } \
    >"$corpus/fixture-$(basename "$f")"
done
for f in "$fixtures"/plugin/*.http; do
  head=$(sed '/^\r$/q' "$f" | tr -d '\r')
  target=$(sed -n '1s/^[A-Z]* \([^ ]*\) .*/\1/p' <<<"$head")
  type=$(sed -n 's/^[Cc]ontent-[Tt]ype: *//p' <<<"$head")
  { printf '%s\n%s\n' "$type" "$target"; sed '1,/^\r$/d' "$f"; } \
    >"$corpus/fixture-$(basename "$f")"
done

echo "fuzzing the decoder for ${seconds} s (libFuzzer's log: $build/fuzz.log)"
status=0
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  "$build/fuzz/decode_fuzz" "$corpus" \
  -dict=fuzz/decode.dict \
  -max_len=65536 \
  -timeout=10 \
  -max_total_time="$seconds" \
  -print_final_stats=1 \
  -artifact_prefix="$build/artifacts/" >"$build/fuzz.log" 2>&1 || status=$?
if (( status != 0 )); then
  echo "the decoder fuzzer found a problem (exit $status); the end of its log:"
  tail -n 60 "$build/fuzz.log"
  exit "$status"
fi
grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$build/fuzz.log"
