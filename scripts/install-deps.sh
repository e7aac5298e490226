#!/usr/bin/env bash
# Installs the Debian packages printmeter needs to build, test and run
# (--test: and to test; --bench: and what `make bench` measures against).
# Idempotent: installs only what is missing and runs `apt-get update` at most
# once, only when something has to be installed. Safe to call on every build.
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev libpq-dev
  zlib1g-dev        # the SQLite log's request bodies, compressed
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libhowardhinnant-date-dev tzdata
  prometheus-cpp-dev
  libssl-dev        # HMAC-SHA256 signatures of forwarded events
  libmosquitto-dev  # publishing to an MQTT broker (Home Assistant)
  libgtest-dev libgmock-dev libbenchmark-dev
)
test_packages=(
  clang libclang-rt-14-dev
  postgresql
  mosquitto    # a real MQTT broker for the MQTT tests (started on a free port)
  chromium
  sqlite3
  # Debian's Node.js 18, which scripts/node18.sh unpacks for the dashboard's
  # tests, reads these from /usr/share/nodejs (already there where Debian's
  # nodejs is installed).
  node-acorn node-cjs-module-lexer node-undici
  wrk
  nginx-light  # the README's reverse proxy, in front of a farm's instances
  prometheus   # promtool: checks the /metrics exposition
)
# What `make bench` measures printmeter against (never installed by `make test`).
bench_packages=(
  nginx-light
  wrk
)

want=("${build_packages[@]}")
# The dashboard is built with npm: any Node.js from 18.19 on with npm will do
# (Debian 12's nodejs 18.20 and npm 9, or one already on the machine).
if ! command -v npm >/dev/null; then want+=(nodejs npm); fi
if [[ "${1:-}" == "--test" ]]; then
  want+=("${test_packages[@]}")
fi
if [[ "${1:-}" == "--bench" ]]; then
  want+=("${bench_packages[@]}")
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done

if (( ${#missing[@]} == 0 )); then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "printmeter needs these Debian packages: ${missing[*]}" >&2
    echo "Run this script as root, or install them with apt-get." >&2
    exit 1
  fi
fi

echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
