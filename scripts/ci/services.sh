#!/usr/bin/env bash
# start|stop the servers that integration tests use (loopback only). Components add their servers here.
set -uo pipefail
cmd=${1:-}
case "$cmd" in
  start) ;;
  stop) ;;
  *) echo "usage: $0 start|stop"; exit 2 ;;
esac
exit 0
