#!/usr/bin/env bash
# Builds the dashboard (web/) with npm when it has a package.json.
set -euo pipefail
cd "$(dirname "$0")/../web"
[[ -f package.json ]] || exit 0
if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
