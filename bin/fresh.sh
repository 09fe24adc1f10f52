# Sourced by bin/berth and bin/berthd with $top set: rebuild .build/ when it
# is missing or a source file is newer than it (a few stat calls, no fork).
bundle=$top/.build/cli/main.js
fresh=yes
[ -f "$bundle" ] && [ -x "$top/.build/berth-monitor" ] || fresh=no
if [ $fresh = yes ]; then
  for f in "$top"/package.json "$top"/core/*.ts "$top"/core/*/*.ts "$top"/core/*/*/*.ts "$top"/plugins/*.ts "$top"/plugins/*/*.ts "$top"/plugins/*/*/*.ts "$top"/plugins/*/*/*/*.c; do
    [ "$f" -nt "$bundle" ] && { fresh=no; break; }
  done
fi
if [ $fresh = no ] && ! "$top/bin/build" >&2; then
  echo "berth: building .build/ failed (see above)" >&2
  exit 125
fi
