#!/bin/sh
# Fill the queue with $JOBS jobs (each a number to square), written whole
# before they appear (tmp, then mv), and exit 0.
set -eu
mkdir -p /queue/new /queue/tmp /queue/claimed /queue/done
i=1
while [ "$i" -le "$JOBS" ]; do
  echo "$i" > "/queue/tmp/job-$i"
  mv "/queue/tmp/job-$i" "/queue/new/job-$i"
  i=$((i + 1))
done
echo "queued $JOBS jobs"
