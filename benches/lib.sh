# Shared helpers for benches/compare.sh and benches/memory.sh (sourced, not run).
#
# Every server these helpers start is recorded in STARTED and killed by `stop_all`, which the
# scripts run on exit, so an interrupted benchmark leaves nothing behind.

STARTED=()
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}"
LUAGATE_BIN="${LUAGATE_BIN:-$ROOT/target/release/luagate}"
WORKDIR="$(mktemp -d -t luagate-bench.XXXXXX)"

stop_all() {
  local p
  for p in "${STARTED[@]}"; do
    kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
  done
  STARTED=()
  rm -rf "$WORKDIR"
}

# Builds the release binary unless LUAGATE_BIN points at one already.
ensure_luagate() {
  if [ -z "${NO_BUILD:-}" ]; then
    (cd "$ROOT" && cargo build --release --bin luagate >&2)
  fi
  [ -x "$LUAGATE_BIN" ] || { echo "no luagate binary at $LUAGATE_BIN" >&2; exit 1; }
  [ -x "$REDIS_SERVER" ] || { echo "no redis-server (run scripts/deps.sh)" >&2; exit 1; }
}

# A loopback port nothing listens on, below the ephemeral range: benchmark clients open and
# close thousands of connections, and a listener cannot bind a port a live client socket uses.
free_port() {
  local low p
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  for _ in $(seq 1 200); do
    p=$((10000 + RANDOM % (low - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  echo "no free port" >&2
  exit 1
}

# start_server KIND [CPU_LIST] [SHARDS]: starts redis or luagate, empty, on a free port, in the
# foreground of a background job (never daemonized, so its pid is ours), and waits until it
# answers PING. Sets SERVER_PID and SERVER_PORT. Retries on another port if the server dies
# (another process may take the port between the check and the bind).
start_server() {
  local kind=$1 cpus=${2:-} shards=${3:-}
  local pin=() port
  [ -n "$cpus" ] && pin=(taskset -c "$cpus")
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    if [ "$kind" = redis ]; then
      "${pin[@]}" "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$WORKDIR" --daemonize no --logfile "" >/dev/null 2>&1 &
    else
      local extra=()
      [ -n "$shards" ] && extra=(--shards "$shards")
      # --metrics-port 0: the default fixed port may be taken by another luagate on the machine.
      # Without LUAGATE_BIN: luagate reads LUAGATE_* variables as configuration keys. Its own
      # data directory: the working directory may hold files it would load (a Redis dump.rdb).
      mkdir -p "$WORKDIR/luagate"
      LUAGATE_LOG=warn "${pin[@]}" env -u LUAGATE_BIN "$LUAGATE_BIN" --port "$port" --bind 127.0.0.1 --metrics-port 0 \
        --dir "$WORKDIR/luagate" \
        "${extra[@]}" >/dev/null 2>&1 &
    fi
    SERVER_PID=$!
    SERVER_PORT=$port
    STARTED+=("$SERVER_PID")
    for _ in $(seq 1 200); do
      if [ "$(redis-cli -p "$port" PING 2>/dev/null)" = "PONG" ]; then return 0; fi
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.05
    done
    stop_server "$SERVER_PID"
  done
  echo "$kind did not start" >&2
  exit 1
}

stop_server() {
  kill "$1" 2>/dev/null && wait "$1" 2>/dev/null || true
  local keep=() p
  for p in "${STARTED[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done
  STARTED=("${keep[@]}")
}

# CPU time (user + system, all threads) a process has used, in clock ticks.
cpu_ticks() {
  # Fields after the parenthesised command name: state is $1, so utime (14) is $12, stime $13.
  sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# Resident set size of a process in bytes.
rss_bytes() {
  awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status"
}

# Median of the numbers on stdin (one per line); empty input gives nothing.
median() {
  sort -g | awk '{a[NR] = $1} END {if (NR == 0) exit; if (NR % 2) print a[(NR + 1) / 2];
    else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
