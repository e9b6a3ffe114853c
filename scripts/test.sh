#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, builds once, runs all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --release --all-targets
cargo test --release --all-targets
