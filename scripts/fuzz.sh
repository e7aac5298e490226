#!/usr/bin/env bash
# Runs every fuzzer with libFuzzer (ASan, UBSan, LSan) for a bounded time,
# the first two side by side (one core each); exits non-zero on any crash,
# leak, undefined behaviour, broken promise or timeout:
#   decode_fuzz        the webhook decoder and the masking of secrets: 60 s
#   http_request_fuzz  the receiver's request reading (the server's own
#                      ReadRequest with its default limits, pipelined
#                      requests included) into the decoder and the
#                      masking: 60 s
#   config_fuzz        the config file (config.cc and toml++): 30 s
#   journal_fuzz       the append journal and its records as the next
#                      writer reads them after a crash (damaged, cut
#                      short): 30 s, beside config_fuzz
#
#   scripts/fuzz.sh
#   FUZZ_SECONDS=600 FUZZ_CONFIG_SECONDS=600 scripts/fuzz.sh
#
# Builds in build-fuzz with clang (configured once), seeds the corpus from
# every request in ../shared/fixtures, and keeps what the fuzzer finds in
# build-fuzz/corpus/<fuzzer> for the next run. Crashing inputs are written
# to build-fuzz/artifacts/<fuzzer>-*; replay one with
# build-fuzz/fuzz/<fuzzer> FILE.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build-fuzz
seconds=${FUZZ_SECONDS:-60}
fixtures=../shared/fixtures

if [[ ! -f $build/build.ninja ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja \
    -DPRINTMETER_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C "$build" -j "${FUZZ_JOBS:-2}" decode_fuzz http_request_fuzz config_fuzz \
  journal_fuzz

# The fuzz input format (fuzz/decode_fuzz.cc): Content-Type line, target
# line, body.
decode_corpus=$build/corpus/decode
mkdir -p "$decode_corpus" "$build/artifacts"
for f in "$fixtures"/seed/*.json "$fixtures"/plugin/*.json; do
  { printf 'application/json\n/webhook\n'; cat "$f"; } \
    >"$decode_corpus/fixture-$(basename "$f")"
done
for f in "$fixtures"/plugin/*.http; do
  head=$(sed '/^\r$/q' "$f" | tr -d '\r')
  target=$(sed -n '1s/^[A-Z]* \([^ ]*\) .*/\1/p' <<<"$head")
  type=$(sed -n 's/^[Cc]ontent-[Tt]ype: *//p' <<<"$head")
  { printf '%s\n%s\n' "$type" "$target"; sed '1,/^\r$/d' "$f"; } \
    >"$decode_corpus/fixture-$(basename "$f")"
done

# Runs fuzzer $1 on corpus $2 for $3 seconds; extra libFuzzer flags follow.
run() {
  local name=$1 corpus=$2 secs=$3
  shift 3
  echo "fuzzing $name for ${secs} s (libFuzzer's log: $build/$name.log)"
  local status=0
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$build/fuzz/$name" "$corpus" \
    -timeout=10 \
    -max_total_time="$secs" \
    -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$name-" "$@" >"$build/$name.log" 2>&1 ||
    status=$?
  if (( status != 0 )); then
    echo "the $name fuzzer found a problem (exit $status); the end of its log:"
    tail -n 60 "$build/$name.log"
    return "$status"
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' \
    "$build/$name.log" | sed "s/^/$name: /"
}

# The receiver's request reading: whole raw requests, the fixtures' .http
# files and the JSON ones wrapped as a POST.
http_corpus=$build/corpus/http_request
mkdir -p "$http_corpus"
cp "$fixtures"/plugin/*.http "$http_corpus/"
for f in "$fixtures"/seed/*.json "$fixtures"/plugin/*.json; do
  printf 'POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' \
    "$(wc -c <"$f")" >"$http_corpus/fixture-$(basename "$f")"
  cat "$f" >>"$http_corpus/fixture-$(basename "$f")"
done
# The decoder and the request reading at the same time, one core each.
run decode_fuzz "$decode_corpus" "$seconds" -dict=fuzz/decode.dict \
  -max_len=65536 &
decode_pid=$!
http_status=0
run http_request_fuzz "$http_corpus" "${FUZZ_HTTP_SECONDS:-$seconds}" \
  -dict=fuzz/decode.dict -max_len=65536 || http_status=$?
decode_status=0
wait "$decode_pid" || decode_status=$?
if (( decode_status != 0 || http_status != 0 )); then
  exit 1
fi

# The config file: the README's example and the test's.
config_corpus=$build/corpus/config
mkdir -p "$config_corpus"
sed -n '/^```toml$/,/^```$/p' README.md | sed '1d;$d' >"$config_corpus/readme.toml"
printf 'auth = "strict"\nmax_devices = 10\nregistrations_per_hour = 5\n[devices.delta]\nsecret = "x"\nrate_per_hour = 1.5\n' \
  >"$config_corpus/small.toml"
# Characters outside ASCII in every kind of string and in a comment, after
# a byte-order mark (cli/toml_text.h rewrites them before toml++ sees them).
{
  printf '\xef\xbb\xbf'
  cat <<'TOML'
# café
[devices."bär"]
name = 'Drücker \ "3"'
secret = """
ﳿ \u00e9 ""
"""
note = '''
　 x'''''
TOML
} >"$config_corpus/unicode.toml"
# Numbers of every kind where a count, a rate or a string is expected (toml++
# converts floats to integers with a cast undefined beyond int64's range).
printf 'max_devices = 1e300\nregistrations_per_hour = -3\nstale_after = 4.5\n[devices.a]\nrate_per_hour = inf\nrate_per_m = 0x10\nname = 12\nsecret = 1979-05-27\n' \
  >"$config_corpus/numbers.toml"
# The journal: a few appends of assorted sizes, undamaged and damaged (the
# input's format: fuzz/journal_fuzz.cc). Beside the config file, one core
# each.
journal_corpus=$build/corpus/journal
mkdir -p "$journal_corpus"
printf '\x05\x10\x00\x20\x03\xff\x0f\x00\x01\x30\x10' >"$journal_corpus/five-appends"
printf '\x05\x10\x00\x20\x03\xff\x0f\x00\x01\x30\x10\x00\x40\x00\x10\x00\x00' \
  >"$journal_corpus/damaged-then-cut"
run journal_fuzz "$journal_corpus" "${FUZZ_JOURNAL_SECONDS:-30}" \
  -max_len=4096 &
journal_pid=$!
config_status=0
run config_fuzz "$config_corpus" "${FUZZ_CONFIG_SECONDS:-30}" -max_len=4096 ||
  config_status=$?
journal_status=0
wait "$journal_pid" || journal_status=$?
if (( config_status != 0 || journal_status != 0 )); then
  exit 1
fi
