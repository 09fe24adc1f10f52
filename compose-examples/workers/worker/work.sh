#!/bin/sh
# Claim jobs one at a time (mv is atomic: one worker wins each job), do
# them, record who did what; stop cleanly on SIGTERM.
trap 'echo "$(hostname) stopping"; exit 0' TERM
me=$(hostname)
echo "$me ready"
while :; do
  for job in /queue/new/job-*; do
    [ -e "$job" ] || break
    name=${job##*/}
    mv "$job" "/queue/claimed/$name.$me" 2>/dev/null || continue
    n=$(cat "/queue/claimed/$name.$me")
    echo "$((n * n)) $me" > "/queue/done/$name"
    echo "$me did $name: $n^2 = $((n * n))"
  done
  sleep 0.2 &
  wait $!
done
