#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs the real servers the tests run
# against, then runs every test (unit, property, integration against real Prometheus).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cargo test --locked --all-targets "$@"
