#!/usr/bin/env bash
# The embedded demo: replays slo-specs/map-update.yaml over three days of recorded history
# shipped in the repo (demo/), prints the decision timeline and the scores against the
# declared incident, and writes an HTML report. No server needed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
./target/release/burnrate backtest slo-specs/map-update.yaml \
  --history demo/map-update-history.om.gz \
  --incidents demo/incidents.yaml \
  --report demo-report.html "$@"
