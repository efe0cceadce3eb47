#!/usr/bin/env bash
# start|stop the servers that integration tests use (loopback only). Components add their servers here.
set -uo pipefail
cmd=${1:-}

# --- remote tier (issue 6): a 3-node Redis cluster and a 3-node Garnet cluster on loopback ---------------------
# Tests find them through $TIERKV_CI_DIR/env (KEY=VALUE lines; tests read the variables from the environment first,
# then from this file, since this script runs as its own process).
TIERKV_CI_DIR=${TIERKV_CI_DIR:-/tmp/tierkv-ci}
REMOTE_REDIS_PORTS="7111 7112 7113"
REMOTE_GARNET_PORTS="7121 7122 7123"
GARNET_SERVER=${GARNET_SERVER:-/opt/tierkv-tools/garnet-server}

remote_wait_ok() { # port...: wait until every node pings and the cluster says ok (at most ~30 s)
  for _ in $(seq 1 150); do
    local ok=1
    for p in "$@"; do
      redis-cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || { ok=0; break; }
    done
    [ $ok = 1 ] && return 0
    sleep 0.2
  done
  return 1
}

remote_wait_ping() {
  for _ in $(seq 1 150); do
    local ok=1
    for p in "$@"; do redis-cli -p "$p" ping 2>/dev/null | grep -q PONG || { ok=0; break; }; done
    [ $ok = 1 ] && return 0
    sleep 0.2
  done
  return 1
}

remote_create() { # port...
  local args=()
  for p in "$@"; do args+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${args[@]}" --cluster-yes >"$TIERKV_CI_DIR/remote/create-$1.log" 2>&1
}

remote_start() {
  remote_stop # leftovers of an earlier run of ours
  mkdir -p "$TIERKV_CI_DIR/remote"
  local d=$TIERKV_CI_DIR/remote
  for p in $REMOTE_REDIS_PORTS $REMOTE_GARNET_PORTS; do
    if redis-cli -p "$p" ping >/dev/null 2>&1 || (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "remote: port $p is already in use by another process; stop it (the test clusters need 7111-7113 and 7121-7123)"
      return 1
    fi
  done
  command -v redis-server >/dev/null || { echo "remote: redis-server missing (scripts/ci/install.sh installs it)"; return 1; }
  for p in $REMOTE_REDIS_PORTS; do
    rm -rf "$d/redis-$p"; mkdir -p "$d/redis-$p"
    # No persistence, LRU eviction like a cache, and the rest of the cluster keeps serving while one node is down.
    redis-server --port "$p" --bind 127.0.0.1 --dir "$d/redis-$p" --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-require-full-coverage no --cluster-node-timeout 2000 --save '' --appendonly no \
      --maxmemory 1gb --maxmemory-policy allkeys-lru --daemonize yes --pidfile "$d/redis-$p.pid" \
      --logfile "$d/redis-$p/log" || { echo "remote: redis-server on port $p did not start"; return 1; }
  done
  remote_wait_ping $REMOTE_REDIS_PORTS || { echo "remote: redis nodes do not answer"; return 1; }
  remote_create $REMOTE_REDIS_PORTS || { echo "remote: redis cluster create failed: $(tail -3 $d/create-7111.log)"; return 1; }
  remote_wait_ok $REMOTE_REDIS_PORTS || { echo "remote: redis cluster not ok"; return 1; }

  [ -x "$GARNET_SERVER" ] || { echo "remote: $GARNET_SERVER missing (scripts/ci/install.sh installs it)"; return 1; }
  for p in $REMOTE_GARNET_PORTS; do
    rm -rf "$d/garnet-$p"; mkdir -p "$d/garnet-$p"
    # RandomAccess: this machine has no libaio. The page holds the largest value (a 32 MiB chunk plus header).
    nohup "$GARNET_SERVER" --port "$p" --bind 127.0.0.1 --cluster --device-type RandomAccess --memory 512m --page 64m \
      --index 16m --no-obj -q --checkpointdir "$d/garnet-$p/cp" >"$d/garnet-$p/log" 2>&1 </dev/null &
    echo $! >"$d/garnet-$p.pid"
  done
  remote_wait_ping $REMOTE_GARNET_PORTS || { echo "remote: garnet nodes do not answer: $(tail -3 $d/garnet-7121/log)"; return 1; }
  remote_create $REMOTE_GARNET_PORTS || { echo "remote: garnet cluster create failed: $(tail -3 $d/create-7121.log)"; return 1; }
  remote_wait_ok $REMOTE_GARNET_PORTS || { echo "remote: garnet cluster not ok"; return 1; }

  local env=$TIERKV_CI_DIR/env
  touch "$env"; sed -i '/^TIERKV_\(REDIS\|GARNET\)_/d' "$env"
  {
    echo "TIERKV_REDIS_CLUSTER=$(echo $REMOTE_REDIS_PORTS | sed 's/\([0-9]*\)/127.0.0.1:\1/g; s/ /,/g')"
    echo "TIERKV_GARNET_CLUSTER=$(echo $REMOTE_GARNET_PORTS | sed 's/\([0-9]*\)/127.0.0.1:\1/g; s/ /,/g')"
    echo "TIERKV_REDIS_SERVER=$(command -v redis-server)"
    echo "TIERKV_GARNET_SERVER=$GARNET_SERVER"
  } >>"$env"
  echo "remote: redis cluster on $REMOTE_REDIS_PORTS, garnet cluster on $REMOTE_GARNET_PORTS (see $env)"
}

remote_stop() {
  local d=$TIERKV_CI_DIR/remote
  for f in "$d"/*.pid; do
    [ -f "$f" ] || continue
    local pid; pid=$(cat "$f" 2>/dev/null)
    # Only our own servers: the pid must still be a redis-server or garnet-server process.
    if [ -n "$pid" ] && grep -qaE 'redis-server|garnet-server' "/proc/$pid/cmdline" 2>/dev/null; then
      kill -CONT "$pid" 2>/dev/null; kill "$pid" 2>/dev/null
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null
    fi
    rm -f "$f"
  done
  rm -rf "$d"
  [ -f "$TIERKV_CI_DIR/env" ] && sed -i '/^TIERKV_\(REDIS\|GARNET\)_/d' "$TIERKV_CI_DIR/env"
  return 0
}
# --- end remote tier ----------------------------------------------------------------------------------------------

case "$cmd" in
  start) remote_start || { remote_stop; exit 1; } ;;
  stop) remote_stop ;;
  *) echo "usage: $0 start|stop"; exit 2 ;;
esac
exit 0
