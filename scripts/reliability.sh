#!/usr/bin/env bash
# Runs the tests labelled `reliability` in the build $1 (default: build) and
# writes docs/reliability.md from docs/reliability.md.in with the figures
# they printed ("reliability-figure: TEST: WHAT: VALUE"), the machine and
# the commit. Fails when a test fails (the document is still written).
set -uo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
log=$build_dir/reliability.log

status=0
ctest --test-dir "$build_dir" -L reliability -V --timeout 600 >"$log" 2>&1 ||
  status=$?
grep -E '^[0-9]+: (\[  PASSED  \]|\[  FAILED  \]|\[  SKIPPED \])' "$log" | sed 's/^[0-9]*: //' | sort | uniq -c || true

figures=$(sed -n 's/^[0-9]*: reliability-figure: //p' "$log" | sort -u |
  awk -F': ' '{ printf "| `%s` | %s | %s |\n", $1, $2, $3 }')
skipped=$(sed -n 's/^[0-9]*: .*Skipped: *//p; s/^[0-9]*: \(.*cannot mount.*\)/\1/p' "$log" |
  sort -u | sed 's/^/- skipped: /')
passed=$(grep -cE '^[0-9]+: \[       OK \]' "$log" || true)
failed=$(grep -cE '^[0-9]+: \[  FAILED  \] [A-Za-z]' "$log" || true)

{
  echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC') on commit" \
       "\`$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\`" \
       "($(git rev-parse --abbrev-ref HEAD 2>/dev/null || echo '?')):" \
       "$passed test(s) passed, $failed failed."
  echo
  echo "Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
       "$(nproc) CPU(s), $(free -g | awk '/^Mem:/ {print $2}') GiB."
  echo
  if [[ -n $figures ]]; then
    echo "| test | what | value |"
    echo "|---|---|---|"
    echo "$figures"
  else
    echo "(no figures: no reliability test printed any)"
  fi
  if [[ -n $skipped ]]; then echo; echo "$skipped"; fi
} >"$build_dir/reliability-figures.md"

python3 - "$build_dir/reliability-figures.md" <<'PY'
import sys
figures = open(sys.argv[1]).read().rstrip("\n")
template = open("docs/reliability.md.in").read()
open("docs/reliability.md", "w").write(template.replace("@FIGURES@", figures))
PY
echo "wrote docs/reliability.md (test log: $log)"
exit "$status"
