#!/bin/sh
# A "database": PING -> PONG; AUTH password -> OK or DENIED (checked against
# the db_password secret); COUNT -> rows so far (kept on the db-data volume).
while read -r cmd arg; do
  case "$cmd" in
    PING) echo PONG ;;
    AUTH) if [ "$arg" = "$(cat /run/secrets/db_password)" ]; then echo OK; echo x >> /data/rows; else echo DENIED; fi ;;
    COUNT) wc -l < /data/rows 2>/dev/null || echo 0 ;;
    QUIT) exit 0 ;;
    *) echo "ERR unknown command" ;;
  esac
done
