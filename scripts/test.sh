#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, builds once, runs
# every test, and fails if any test left a process behind. `.ci/run` runs exactly this.
#
# Build profile: `ci` (Cargo.toml): unoptimized like `dev`, with line tables only for our crate
# and no debug info for dependencies. Measured from a fresh clone on this 2-core machine
# (README, "Tests"): on a trial merge of seven helper branches (157 tests), optimized builds cost
# 2x the CPU to build and saved 3 s of a 11 s test run; release with thin LTO also pays ~6 s
# of link per test binary. Build time dominates, so the suite builds cheap. Speed is measured
# by benches/compare.sh on a release build, never in the tests.
# LUAGATE_TEST_PROFILE=dev (or release) overrides it.
#
# Other knobs: NEXTEST_TEST_THREADS (default in .config/nextest.toml), LUAGATE_NO_NEXTEST=1
# to use plain `cargo test`, and extra arguments are passed to the test runner as a filter.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${LUAGATE_TEST_PROFILE:-ci}"
T0=$(date +%s)
stamp() { echo "test.sh: $1 done at +$(($(date +%s) - T0))s"; }

# 1. What the tests need (reference redis-server, tools; hooks for npm and promtool).
bash scripts/deps.sh
stamp "deps"

# 2. Build everything once: library, binary, unit and integration tests, and the benches
#    (compiled only, never run here: they would measure a shared CI machine, not us).
cargo build --profile "$PROFILE" --lib --bins --tests --benches
stamp "build ($PROFILE)"

# 3. Doc tests, which nextest does not run: only when src/ has a Rust code block in its docs
#    (compiling doctests costs time, and most docs here use ```text).
if grep -rqE '^\s*//[/!] ```(rust)?\s*$' src; then
  cargo test --profile "$PROFILE" --doc
  stamp "doc tests"
fi

# 4. Run the tests in their own session, so that afterwards every process any test started
#    (servers included) can be found by session id, whatever became of its parent.
LOG=$(mktemp -t luagate-test.XXXXXX)
cleanup() { rm -f "$LOG"; }
trap cleanup EXIT
if [ -z "${LUAGATE_NO_NEXTEST:-}" ] && cargo nextest --version >/dev/null 2>&1; then
  RUNNER=(cargo nextest run --cargo-profile "$PROFILE" --lib --bins --tests --no-tests=warn)
else
  RUNNER=(cargo test --profile "$PROFILE" --lib --bins --tests)
fi
set +e
setsid -w "${RUNNER[@]}" "$@" >"$LOG" 2>&1 </dev/null &
RUN_PID=$!
# Show the output as it comes; tail exits once the runner has and the file is drained.
tail -n +1 -f --pid="$RUN_PID" "$LOG" &
TAIL_PID=$!
# setsid execs in place (the runner is the session leader, SID = its pid) unless it was a group
# leader itself, in which case it forks and waits: then the session is its child's.
SID=""
for _ in $(seq 1 50); do
  s=$(ps -o sid= -p "$RUN_PID" 2>/dev/null | tr -d ' ')
  if [ "$s" = "$RUN_PID" ]; then SID=$s; break; fi
  c=$(pgrep -P "$RUN_PID" 2>/dev/null | head -1)
  if [ -n "$c" ]; then SID=$(ps -o sid= -p "$c" 2>/dev/null | tr -d ' '); [ "$SID" = "$c" ] && break; SID=""; fi
  [ -z "$s" ] && break
  sleep 0.1
done
on_signal() {
  if [ -n "$SID" ]; then pkill -KILL -s "$SID" 2>/dev/null; fi
  kill "$TAIL_PID" 2>/dev/null
  exit 130
}
trap on_signal INT TERM
wait "$RUN_PID"
STATUS=$?
wait "$TAIL_PID" 2>/dev/null
set -e
stamp "tests"

# 5. Nothing may outlive the suite: list, kill and fail on leftovers of the test session.
if [ -n "$SID" ] && [ "$SID" != "0" ]; then
  LEFT=$(ps -o pid=,args= -s "$SID" 2>/dev/null || true)
  if [ -n "$LEFT" ]; then
    echo "test.sh: processes left behind by tests (killed now):"
    echo "$LEFT"
    pkill -KILL -s "$SID" 2>/dev/null || true
    [ "$STATUS" -eq 0 ] && STATUS=1
  fi
fi

# 6. One plain closing line with the counts, whichever runner ran.
count() { { grep -oE "[0-9]+ $1" || true; } | awk '{s+=$1} END {print s+0}'; }
if grep -qE 'tests? run:' "$LOG"; then
  LINE=$(grep -E 'tests? run:' "$LOG" | tail -1)
  PASSED=$(echo "$LINE" | count passed)
  FAILED=$(( $(echo "$LINE" | count failed) + $(echo "$LINE" | count 'timed out') ))
else
  RESULTS=$(grep '^test result:' "$LOG" || true)
  PASSED=$(echo "$RESULTS" | count passed)
  FAILED=$(echo "$RESULTS" | count failed)
fi
[ "$STATUS" -ne 0 ] && [ "${FAILED:-0}" -eq 0 ] && FAILED=1
echo "test.sh: total $(($(date +%s) - T0))s, profile $PROFILE"
echo "summary: ${PASSED:-0} passed, ${FAILED:-0} failed"
exit "$STATUS"
