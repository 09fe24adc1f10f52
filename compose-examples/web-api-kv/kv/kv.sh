#!/bin/sh
# A line-oriented key-value protocol over one connection (a tiny Redis):
# PING -> PONG; SET k v -> OK; GET k -> value or (nil); INCR k -> new value.
while read -r cmd key value; do
  case "$key" in *[!a-zA-Z0-9_-]*) echo "ERR bad key"; continue ;; esac
  case "$cmd" in
    PING) echo PONG ;;
    SET) printf '%s' "$value" > "/data/$key.tmp" && mv "/data/$key.tmp" "/data/$key" && echo OK ;;
    GET) if [ -f "/data/$key" ]; then cat "/data/$key"; echo; else echo "(nil)"; fi ;;
    INCR)
      # mkdir is atomic: a lock shared by concurrent connections.
      until mkdir "/data/.lock-$key" 2>/dev/null; do usleep 1000; done
      n=$(( $(cat "/data/$key" 2>/dev/null || echo 0) + 1 ))
      printf '%s' "$n" > "/data/$key"
      rmdir "/data/.lock-$key"
      echo "$n" ;;
    QUIT) exit 0 ;;
    *) echo "ERR unknown command" ;;
  esac
done
