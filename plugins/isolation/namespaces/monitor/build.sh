#!/bin/sh
# Build berth-monitor: build.sh OUT [SOURCE.c] (another static helper, such
# as berth-init, with SOURCE). Installs gcc and glibc's static libc
# (Debian's gcc and libc6-dev) when missing; OUT appears atomically.
set -eu
out=${1:?usage: build.sh OUT [SOURCE.c]}
src=${2:-$(cd "$(dirname "$0")" && pwd)/monitor.c}

if ! command -v gcc >/dev/null 2>&1 || [ ! -e "$(gcc -print-file-name=libc.a 2>/dev/null)" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends gcc libc6-dev >&2 ||
    { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends gcc libc6-dev >&2; }
fi

tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
gcc -Os -static -Wall -Wextra -Werror -o "$tmp" "$src"
mv -f "$tmp" "$out"
trap - EXIT
