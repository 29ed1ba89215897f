#!/usr/bin/env bash
# The demo, live: the daemon and its web page over the demo's incident. The embedded demo
# history (demo/) is shifted so that "now" is DEMO_NOW of its timeline (default 13:57 on
# 2026-11-17, twelve minutes into the incident, four before latency reaches
# circuit_break), backfilled into a throw-away Prometheus on loopback, and
# `burnrate run` evaluates DEMO_SPECS on it every 10 s (default slo-specs/map-update.yaml)
# while real time moves the incident along. Open http://127.0.0.1:9464/ (LISTEN). Needs prometheus and promtool
# (scripts/install-deps.sh). Ctrl-C stops everything and removes the temporary directory.
#
#   --screenshots DIR   after MINUTES (default 6) minutes, screenshot the list and the SLO
#                       page with headless Chromium into DIR, then stop (README's images).
set -euo pipefail
cd "$(dirname "$0")/.."
LISTEN=${LISTEN:-127.0.0.1:9464}
PROM_PORT=${PROM_PORT:-19090}
DEMO_NOW=${DEMO_NOW:-2026-11-17T13:57:00Z}
MINUTES=${MINUTES:-6}
DEMO_SPECS=${DEMO_SPECS:-slo-specs/map-update.yaml}
shots=""
if [[ "${1:-}" == "--screenshots" ]]; then
  shots=$(realpath -m "${2:?--screenshots needs a directory}")
fi
if [[ -z "${BURNRATE:-}" ]]; then
  cargo build --release --locked --quiet
  BURNRATE=./target/release/burnrate
fi

work=$(mktemp -d)
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

now=$(date +%s)
demo_now=$(date -d "$DEMO_NOW" +%s)
offset=$((now - demo_now))
# An hour of the demo ahead of now is as far as the page will get.
cutoff=$((demo_now + 3600))
gzip -dc demo/map-update-history.om.gz |
  awk -v off="$offset" -v cut="$cutoff" '/^#/ { print; next } $NF + 0 <= cut { $NF = $NF + off; print }' \
    >"$work/history.om"
promtool tsdb create-blocks-from openmetrics --max-block-duration=24h "$work/history.om" "$work/data" >/dev/null
printf 'global: {}\n' >"$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$PROM_PORT" \
  >"$work/prometheus.log" 2>&1 &
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null 2>&1 && break
  sleep 0.2
done

# shellcheck disable=SC2086 # DEMO_SPECS is a list of paths
BURNRATE_LOG=${BURNRATE_LOG:-info} "$BURNRATE" run $DEMO_SPECS \
  --prometheus "http://127.0.0.1:$PROM_PORT" --interval 10s --listen "$LISTEN" \
  --ui-retention 1h --ui-backend-url "http://127.0.0.1:$PROM_PORT" &
echo "burnrate's web page: http://$LISTEN/ (demo time $DEMO_NOW is now; Prometheus on :$PROM_PORT)"

if [[ -z "$shots" ]]; then
  wait
  exit 0
fi
sleep $((MINUTES * 60))
mkdir -p "$shots"
shoot() {
  chromium --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
    --force-device-scale-factor=1 --window-size="$2" --user-data-dir="$work/chromium" \
    --screenshot="$shots/$3" "http://$LISTEN$1" >/dev/null 2>&1
}
shoot "/" 1280,${LIST_HEIGHT:-420} daemon-list.png
shoot "/slo/go-map/map-update" 1280,1500 daemon-slo-page.png
if command -v pngquant >/dev/null; then
  pngquant --quality 70-90 --strip --force --ext .png "$shots/daemon-list.png" "$shots/daemon-slo-page.png"
fi
echo "screenshots in $shots"
