#!/usr/bin/env bash
# Bytes of resident memory per small string key, luagate against redis-server, in one run.
#
#   bash benches/memory.sh [--keys N] [--shards N]
#
# Each server starts empty; its RSS (VmRSS) is read, N keys `key:0` … `key:N-1` are loaded with
# 10-byte values (`v000000042`: not numeric, so Redis cannot store them as integers) through
# `redis-cli --pipe`, DBSIZE is checked, and RSS is read again once it settles. The figure is
# (RSS after - RSS before) / N. luagate runs with its default shard count unless --shards says.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

KEYS=1000000
SHARDS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) KEYS=$2; shift ;;
    --shards) SHARDS=$2; shift ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
trap stop_all EXIT INT TERM
ensure_luagate

# The load, generated once: RESP multibulks, so the servers parse no inline commands.
LOAD="$WORKDIR/load.resp"
awk -v n="$KEYS" 'BEGIN {
  for (i = 0; i < n; i++) {
    k = "key:" i; v = sprintf("v%09d", i)
    printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$10\r\n%s\r\n", length(k), k, v
  }
}' >"$LOAD"

# RSS once it stops moving (allocators return or settle memory shortly after a burst).
settled_rss() {
  local last=0 now
  for _ in $(seq 1 20); do
    now=$(rss_bytes "$1")
    [ "$now" = "$last" ] && break
    last=$now
    sleep 0.25
  done
  echo "$now"
}

measure() {
  local kind=$1 port before after n
  start_server "$kind" "" "$SHARDS"
  port=$SERVER_PORT
  sleep 0.5
  before=$(settled_rss "$SERVER_PID")
  redis-cli -p "$port" --pipe <"$LOAD" >/dev/null
  n=$(redis-cli -p "$port" DBSIZE)
  if [ "$n" != "$KEYS" ]; then
    echo "$kind: DBSIZE is $n after loading $KEYS keys" >&2
    exit 1
  fi
  after=$(settled_rss "$SERVER_PID")
  awk -v k="$kind" -v b="$before" -v a="$after" -v n="$KEYS" 'BEGIN {
    printf "%-8s rss before %7.1f MiB, after %7.1f MiB: %6.1f bytes/key\n", k, b / 1048576,
      a / 1048576, (a - b) / n }'
  stop_server "$SERVER_PID"
}

echo "memory.sh: $KEYS keys key:N -> 10-byte values; luagate shards: ${SHARDS:-default ($(nproc))}"
measure redis
measure luagate
