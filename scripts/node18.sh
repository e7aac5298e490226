#!/usr/bin/env bash
# Prints the path of a Node.js 18 binary, the one Debian 12 (Raspberry Pi OS
# bookworm) ships, so that the dashboard's build and tests can run on it even
# where the machine's own node is newer. When the machine's node is 18, that
# is the one. Otherwise Debian's nodejs and libnode108 18.x are fetched with
# `apt-get download` into $PM_NODE18_CACHE (default ~/.cache/printmeter/node18)
# once, unpacked there with `dpkg -x`, and called through a small wrapper
# that points LD_LIBRARY_PATH at the unpacked libnode. Debian's node reads
# acorn, cjs-module-lexer and undici from /usr/share/nodejs: install-deps.sh
# --test installs those packages.
set -euo pipefail

if command -v node >/dev/null && [[ $(node --version) == v18.* ]]; then
  command -v node
  exit 0
fi

cache=${PM_NODE18_CACHE:-${HOME:-/tmp}/.cache/printmeter/node18}
wrapper="$cache/node"
if [[ -x "$wrapper" ]] && "$wrapper" --version >/dev/null 2>&1; then
  echo "$wrapper"
  exit 0
fi

version() { apt-cache madison "$1" 2>/dev/null | awk '$3 ~ /^18\./ { print $3; exit }'; }
v=$(version nodejs)
if [[ -z "$v" ]]; then
  echo "node18: refreshing the package lists to find Debian's nodejs 18" >&2
  apt-get update -qq >&2 || true
  v=$(version nodejs)
fi
if [[ -z "$v" ]]; then
  echo "node18: no nodejs 18.x in this machine's apt sources (Debian 12's main archive has it)" >&2
  exit 1
fi

rm -rf "$cache" && mkdir -p "$cache/debs"
(cd "$cache/debs" && apt-get download -q "nodejs=$v" "libnode108=$v" >&2) || {
  echo "node18: apt-get download nodejs=$v libnode108=$v failed" >&2
  exit 1
}
for deb in "$cache"/debs/*.deb; do dpkg -x "$deb" "$cache/root"; done
libnode=$(find "$cache/root" -name 'libnode.so.*' -print -quit)
cat > "$wrapper" <<WRAP
#!/bin/sh
LD_LIBRARY_PATH="$(dirname "$libnode")\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$cache/root/usr/bin/node" "\$@"
WRAP
chmod +x "$wrapper"
if ! out=$("$wrapper" --version 2>&1); then
  echo "node18: the unpacked node does not start: $out" >&2
  echo "node18: install-deps.sh --test installs the modules it needs (node-acorn, node-cjs-module-lexer, node-undici)" >&2
  exit 1
fi
echo "$wrapper"
