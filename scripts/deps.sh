#!/usr/bin/env bash
# Installs what the tests need and the machine may lack: Debian's redis-server (the reference
# server for differential tests) and promtool (Debian's `prometheus` package: the metrics test
# runs `promtool check metrics`).
set -euo pipefail
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-benchmark >/dev/null 2>&1 || need+=(redis-tools)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # Packaged daemons must not start: the tests start their own servers. A policy-rc.d that
  # denies service starts is put in place only for this install, unless one already exists.
  policy=/usr/sbin/policy-rc.d; added_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"; added_policy=1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if [ -n "$added_policy" ]; then $SUDO rm -f "$policy"; fi
fi
# Where a service manager runs anyway, stop what the packages started.
if command -v systemctl >/dev/null 2>&1; then
  systemctl stop redis-server >/dev/null 2>&1 || true
  systemctl stop prometheus >/dev/null 2>&1 || true
fi
