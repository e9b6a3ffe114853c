#!/usr/bin/env bash
# Installs what the tests need and a fresh Debian machine may lack. Idempotent: a machine that
# has everything runs no package manager at all (so the common case costs nothing and needs no
# network).
#
# Hooks, in order; each is a function below that decides for itself whether it has work:
#   1. apt_packages  - Debian's redis-server (the reference for differential tests) and
#                      redis-tools (redis-cli, redis-benchmark for benches/compare.sh).
#   2. npm_packages  - client-interop tests (tests/interop/package.json), once they exist.
#   3. promtool      - checks /metrics output and deploy/'s alert rules (Debian: prometheus).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
APT_UPDATED=0

apt_install() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

apt_packages() {
  local need=()
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
  { command -v redis-cli >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1; } ||
    need+=(redis-tools)
  command -v taskset >/dev/null 2>&1 || need+=(util-linux)
  command -v ss >/dev/null 2>&1 || need+=(iproute2)
  if [ ${#need[@]} -eq 0 ]; then return; fi
  echo "deps: installing ${need[*]}"
  apt_install "${need[@]}"
  # The package starts a system redis on 6379 as a service; the tests start their own servers,
  # and 6379 is where `cargo run --release` listens. Stop only the one we just installed.
  if [[ " ${need[*]} " == *" redis-server "* ]]; then
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
      $SUDO systemctl stop redis-server || true
    elif [ -x /etc/init.d/redis-server ]; then
      $SUDO /etc/init.d/redis-server stop >/dev/null 2>&1 || true
    fi
  fi
}

npm_packages() {
  # Hook for the interop issue: Node clients (ioredis, node-redis, BullMQ) tested against us.
  local dir=tests/interop
  [ -f "$dir/package.json" ] || return 0
  [ -d "$dir/node_modules" ] && [ "$dir/node_modules" -nt "$dir/package.json" ] && return 0
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  echo "deps: npm packages in $dir"
  if [ -f "$dir/package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  else
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
  fi
}

promtool_package() {
  # The metrics tests run `promtool check metrics` and `promtool check rules` on deploy/.
  # (`type -P`, not `command -v`: the latter also finds shell functions of that name.)
  type -P promtool >/dev/null 2>&1 && return 0
  echo "deps: installing promtool (Debian package prometheus)"
  apt_install prometheus
  # Like redis-server, the package starts a service we do not want.
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl stop prometheus >/dev/null 2>&1 || true; fi
  [ -x /etc/init.d/prometheus ] && { $SUDO /etc/init.d/prometheus stop >/dev/null 2>&1 || true; }
  return 0
}

shopt -s globstar nullglob
apt_packages
npm_packages
promtool_package
