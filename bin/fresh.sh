# Sourced by bin/berth and bin/berthd with $top set: rebuild .build/ when it
# is missing or stale. One stat on every run: a pull, checkout or commit
# touches .git/index. Comparing every source file costs a few ms a command,
# so only with BERTH_DEV=1 (an edit loop; bin/test and bin/build build anyway).
bundle=$top/.build/cli/main.js
fresh=yes
[ -f "$bundle" ] && [ -x "$top/.build/berth-monitor" ] && [ -x "$top/.build/berth-init" ] || fresh=no
[ $fresh = yes ] && [ "$top/.git/index" -nt "$bundle" ] && fresh=no
if [ $fresh = yes ] && [ -n "${BERTH_DEV:-}" ]; then
  for f in "$top"/package.json "$top"/core/*.ts "$top"/core/*/*.ts "$top"/core/*/*/*.ts "$top"/plugins/*.ts "$top"/plugins/*/*.ts "$top"/plugins/*/*/*.ts "$top"/plugins/*/*/*/*.c; do
    [ "$f" -nt "$bundle" ] && { fresh=no; break; }
  done
fi
if [ $fresh = no ] && ! "$top/bin/build" >&2; then
  echo "berth: building .build/ failed (see above)" >&2
  exit 125
fi
