#!/usr/bin/env bash
# Throughput and CPU cost of luagate against a real redis-server, measured in the same run.
#
#   bash benches/compare.sh [--pinned] [--rounds N] [--requests N] [--pipelined-requests N]
#                           [--clients N] [--keyspace N] [--rows NAME,NAME] [--timeout S]
#
# For every row and pipeline depth (1 and 16), each round runs redis-benchmark once against a
# fresh, empty redis-server and once against a fresh, empty luagate (release build), in
# alternating order (redis first in odd rounds, luagate first in even ones), so drifting
# background load hits both alike. Per row it prints the medians over the rounds and
#   thr ratio = luagate requests/s / redis requests/s              (higher is better for us)
#   cpu ratio = luagate CPU s per request / redis CPU s per request (lower is better for us)
# where a server's CPU time is utime+stime of all its threads (/proc/<pid>/stat) over the
# benchmark run, divided by the requests it served.
#
# --pinned: both servers on core 0 (taskset -c 0) and the client on core 1, luagate with
# --shards 1. On a 2-core machine the unpinned, unpipelined rows are bound by the single-
# threaded client; pinned rows compare per-core efficiency fairly. Unpinned, luagate runs with
# its default shard count (one per core).
#
# A row whose command the server rejects (redis-benchmark exits on "Error from server") prints
# n/a. Rows live in the ROWS table below: to add one, add a line
#   "NAME|redis-benchmark arguments|setup"
# where the arguments are either `-t test` or a command line with __rand_int__ placeholders
# (e.g. `EVALSHA <sha1> 1 key:__rand_int__`), and setup is a redis-cli command line run once
# against each fresh server before its run (e.g. `SCRIPT LOAD "return 1"`), or empty.
# A fourth field `durable` runs the row against a leader with one follower attached, both
# with `appendonly yes` and `appendfsync everysec` (Redis: a redis-server follower of a
# redis-server leader, configured the same way); the CPU column counts the leader only.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

sha1() { printf '%s' "$1" | sha1sum | cut -d' ' -f1; }
# Scripts for the scripting rows (no spaces in EVAL bodies: the row's arguments are words).
S_RET1="return 1"
S_INCR="return redis.call('INCR',KEYS[1])"
S_FIVE="redis.call('SET',KEYS[1],ARGV[1]);redis.call('GET',KEYS[1]);redis.call('INCR',KEYS[2]);redis.call('HSET',KEYS[3],'f',ARGV[1]);return redis.call('GET',KEYS[2])"
# The library has a newline after its shebang; rows name the variable, so `cut` sees one line
# and the setup's eval expands it.
FLIB=$'#!lua name=bench\nredis.register_function(\'zincr\', function(k, a) return redis.call(\'ZINCRBY\', k[1], 1, a[1]) end)\nredis.register_function{function_name=\'zsum\', callback=function(k) local s = 0 local r = redis.call(\'ZRANGE\', k[1], 0, 9, \'WITHSCORES\') for i = 2, #r, 2 do s = s + tonumber(r[i]) end return s end, flags={\'no-writes\'}}'

ROWS=(
  "PING|-t ping_mbulk|"
  "SET|-t set|"
  "GET|-t get|"
  "INCR|-t incr|"
  "LPUSH|-t lpush|"
  "MSET (10 keys)|-t mset|"
  "EVALSHA return 1|EVALSHA $(sha1 "$S_RET1") 0|SCRIPT LOAD \"$S_RET1\""
  "EVALSHA INCR|EVALSHA $(sha1 "$S_INCR") 1 key:__rand_int__|SCRIPT LOAD \"$S_INCR\""
  "EVALSHA 5 calls|EVALSHA $(sha1 "$S_FIVE") 3 {t}a:__rand_int__ {t}b:__rand_int__ {t}c:__rand_int__ v|SCRIPT LOAD \"$S_FIVE\""
  "EVAL return(1)|EVAL return(1) 0|"
  "FCALL zincr|FCALL zincr 1 zbench m:__rand_int__|FUNCTION LOAD \"\$FLIB\""
  "FCALL_RO zsum|FCALL_RO zsum 1 zbench|FUNCTION LOAD \"\$FLIB\""
  "SET +follower+aof|-t set||durable"
)

PINNED=0
ROUNDS=3
REQUESTS=200000
PREQUESTS=2000000
CLIENTS=50
KEYSPACE=100000
ONLY=""
TIMEOUT=120
while [ $# -gt 0 ]; do
  case "$1" in
    --pinned) PINNED=1 ;;
    --rounds) ROUNDS=$2; shift ;;
    --requests) REQUESTS=$2; shift ;;
    --pipelined-requests) PREQUESTS=$2; shift ;;
    --clients) CLIENTS=$2; shift ;;
    --keyspace) KEYSPACE=$2; shift ;;
    --rows) ONLY=$2; shift ;;
    --timeout) TIMEOUT=$2; shift ;;
    -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$PINNED" = 1 ] && [ "$(nproc)" -lt 2 ]; then
  echo "--pinned needs at least 2 cores" >&2
  exit 2
fi
trap stop_all EXIT INT TERM
ensure_luagate
HZ=$(getconf CLK_TCK)

if [ "$PINNED" = 1 ]; then
  SERVER_CPUS=0; CLIENT=(taskset -c 1); SHARDS=1
  MODE="pinned: servers on core 0, client on core 1, luagate --shards 1"
else
  SERVER_CPUS=""; CLIENT=(); SHARDS=""
  MODE="unpinned: luagate with default shards ($(nproc) cores)"
fi

# start_durable KIND: a leader (SERVER_PID, SERVER_PORT) and one follower (FOLLOWER_PID), each
# with its own directory, appendonly yes, appendfsync everysec; returns once the follower's
# link is up.
start_durable() {
  local kind=$1 pin=() lport fport d1 d2 extra=()
  [ -n "$SERVER_CPUS" ] && pin=(taskset -c "$SERVER_CPUS")
  [ -n "$SHARDS" ] && extra=(--shards "$SHARDS")
  d1=$(mktemp -d -p "$WORKDIR"); d2=$(mktemp -d -p "$WORKDIR")
  lport=$(free_port)
  fport=$(free_port)
  while [ "$fport" = "$lport" ]; do fport=$(free_port); done
  if [ "$kind" = redis ]; then
    "${pin[@]}" "$REDIS_SERVER" --port "$lport" --bind 127.0.0.1 --save '' --appendonly yes \
      --appendfsync everysec --dir "$d1" --daemonize no --logfile "" >/dev/null 2>&1 &
    SERVER_PID=$!
    "${pin[@]}" "$REDIS_SERVER" --port "$fport" --bind 127.0.0.1 --save '' --appendonly yes \
      --appendfsync everysec --dir "$d2" --daemonize no --logfile "" \
      --replicaof 127.0.0.1 "$lport" >/dev/null 2>&1 &
    FOLLOWER_PID=$!
  else
    LUAGATE_LOG=warn "${pin[@]}" env -u LUAGATE_BIN "$LUAGATE_BIN" --port "$lport" \
      --bind 127.0.0.1 --metrics-port 0 --appendonly yes --appendfsync everysec --dir "$d1" \
      "${extra[@]}" >/dev/null 2>&1 &
    SERVER_PID=$!
    LUAGATE_LOG=warn "${pin[@]}" env -u LUAGATE_BIN "$LUAGATE_BIN" --port "$fport" \
      --bind 127.0.0.1 --metrics-port 0 --appendonly yes --appendfsync everysec --dir "$d2" \
      --replicaof "127.0.0.1:$lport" "${extra[@]}" >/dev/null 2>&1 &
    FOLLOWER_PID=$!
  fi
  STARTED+=("$SERVER_PID" "$FOLLOWER_PID")
  SERVER_PORT=$lport
  for _ in $(seq 1 400); do
    if redis-cli -p "$fport" INFO replication 2>/dev/null | grep -q '^master_link_status:up'; then
      return 0
    fi
    sleep 0.05
  done
  echo "$kind: the follower did not come up" >&2
  exit 1
}

# run_one KIND ROW_SPEC PIPELINE REQUESTS: sets RES to "rps cpu_seconds_per_request" or "n/a".
# (Not a $(subshell): the server it starts must stay in STARTED for the exit trap.)
run_one() {
  local kind=$1 spec=$2 pipe=$3 n=$4
  local args setup port pid before after out rps
  args=$(echo "$spec" | cut -d'|' -f2)
  setup=$(echo "$spec" | cut -d'|' -f3)
  FOLLOWER_PID=""
  if [ "$(echo "$spec" | cut -d'|' -f4)" = durable ]; then
    start_durable "$kind"
  else
    start_server "$kind" "$SERVER_CPUS" "$SHARDS"
  fi
  pid=$SERVER_PID
  port=$SERVER_PORT
  if [ -n "$setup" ]; then
    eval "redis-cli -p $port $setup" >/dev/null
  fi
  before=$(cpu_ticks "$pid")
  # shellcheck disable=SC2086 # the row's arguments are words on purpose
  if out=$(timeout "$TIMEOUT" "${CLIENT[@]}" redis-benchmark -h 127.0.0.1 -p "$port" \
    -c "$CLIENTS" -n "$n" -P "$pipe" -r "$KEYSPACE" --csv $args 2>&1) &&
    ! grep -q "Error from server" <<<"$out"; then
    after=$(cpu_ticks "$pid")
    rps=$(grep -v '^"test"' <<<"$out" | tail -1 | cut -d, -f2 | tr -d '"')
    RES=$(awk -v r="$rps" -v t=$((after - before)) -v hz="$HZ" -v n="$n" \
      'BEGIN {printf "%s %.9f", r, t / hz / n}')
  else
    RES="n/a"
    echo "    $kind: $(grep -m1 -iE 'error' <<<"$out" || echo "redis-benchmark failed or timed out")" >&2
  fi
  stop_server "$pid"
  [ -n "$FOLLOWER_PID" ] && stop_server "$FOLLOWER_PID"
  return 0
}

declare -A RPS CPU NA
START=$(date +%s)
echo "compare.sh: $MODE; rounds $ROUNDS, -c $CLIENTS, -r $KEYSPACE," \
  "-n $REQUESTS (P1) / $PREQUESTS (P16)"
echo "compare.sh: load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then ORDER=(redis luagate); else ORDER=(luagate redis); fi
  for spec in "${ROWS[@]}"; do
    name=${spec%%|*}
    if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$name,"* ]]; then continue; fi
    for pipe in 1 16; do
      n=$REQUESTS
      [ "$pipe" -gt 1 ] && n=$PREQUESTS
      for kind in "${ORDER[@]}"; do
        key="$name|$pipe|$kind"
        [ -n "${NA[$key]:-}" ] && continue
        run_one "$kind" "$spec" "$pipe" "$n"
        res=$RES
        echo "  round $round  $(printf '%-16s P%-3s %-8s' "$name" "$pipe" "$kind") $res" >&2
        if [ "$res" = "n/a" ]; then
          NA[$key]=1
        else
          RPS[$key]+="${res% *} "
          CPU[$key]+="${res#* } "
        fi
      done
    done
  done
done

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
echo
echo "compare.sh: $MODE"
printf '%-16s %3s %12s %12s %9s %12s %12s %9s\n' row P "redis rps" "luagate rps" "thr ratio" \
  "redis us/req" "lg us/req" "cpu ratio"
for spec in "${ROWS[@]}"; do
  name=${spec%%|*}
  if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$name,"* ]]; then continue; fi
  for pipe in 1 16; do
    r="$name|$pipe|redis"; l="$name|$pipe|luagate"
    if [ -n "${NA[$r]:-}" ] || [ -n "${NA[$l]:-}" ]; then
      rr=n/a; lr=n/a
      [ -z "${NA[$r]:-}" ] && rr=$(med "${RPS[$r]}" | awk '{printf "%.0f", $1}')
      [ -z "${NA[$l]:-}" ] && lr=$(med "${RPS[$l]}" | awk '{printf "%.0f", $1}')
      printf '%-16s %3s %12s %12s %9s %12s %12s %9s\n' "$name" "$pipe" "$rr" "$lr" n/a n/a n/a n/a
      continue
    fi
    rr=$(med "${RPS[$r]}"); lr=$(med "${RPS[$l]}")
    rc=$(med "${CPU[$r]}"); lc=$(med "${CPU[$l]}")
    awk -v name="$name" -v p="$pipe" -v rr="$rr" -v lr="$lr" -v rc="$rc" -v lc="$lc" 'BEGIN {
      printf "%-16s %3s %12.0f %12.0f %9.2f %12.2f %12.2f %9s\n", name, p, rr, lr, lr / rr,
        rc * 1e6, lc * 1e6, (rc > 0 ? sprintf("%.2f", lc / rc) : "n/a") }'
  done
done
echo "compare.sh: load average at end: $(cut -d' ' -f1-3 /proc/loadavg);" \
  "took $(($(date +%s) - START))s"
if [ -n "${NA[*]:-}" ]; then
  echo "n/a: the server answered the row's command with an error (not implemented there)."
fi
