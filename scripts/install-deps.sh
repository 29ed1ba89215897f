#!/usr/bin/env bash
# Installs what burnrate's tests need on a fresh Debian machine: the real Prometheus (with
# promtool), Alertmanager and VictoriaMetrics, Chromium (renders the backtest report in
# a test) and the openssl CLI (makes the TLS tests' throw-away CAs), all from Debian's
# packages.
# Idempotent: does nothing when everything is already there.
set -euo pipefail

need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v victoria-metrics >/dev/null 2>&1 || need+=(victoria-metrics)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v openssl >/dev/null 2>&1 || need+=(openssl)

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  echo "install-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends \
    prometheus prometheus-alertmanager victoria-metrics chromium openssl >/dev/null
fi

# The packages may start system services; the tests start their own instances on free
# loopback ports and never talk to these.
prometheus --version 2>&1 | head -1 >&2
