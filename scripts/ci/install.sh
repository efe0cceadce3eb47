#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine. Idempotent.
set -euo pipefail
need=()
command -v python3 >/dev/null || need+=(python3)
/usr/bin/python3 -c 'import xxhash' 2>/dev/null || need+=(python3-xxhash)
/usr/bin/python3 -c 'import redis' 2>/dev/null || need+=(python3-redis)   # the LMCache compatibility suite (redis-py, as LMCache uses)
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# Other components add their installs below.
# Remote tier (issue 6): Garnet, a Redis-protocol server in .NET, as a dotnet tool in a fixed tool path.
[ -x /opt/tierkv-tools/garnet-server ] || dotnet tool install garnet-server --version 2.2.8 --tool-path /opt/tierkv-tools
