#!/usr/bin/env bash
# Installs what DeRVOS Studio needs into ./.venv. With --test, also the system packages the
# tests drive (Debian's chromium for the browser test, postgresql for the store tests).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt

if [ "${1:-}" = "--test" ]; then
  # The official BEiT-3 implementation, for the numerical-equality test only. --no-deps: its
  # metadata pins timm and fairscale (which would pull torchvision); the test supplies the three
  # names it imports from them.
  .venv/bin/pip install --quiet --disable-pip-version-check --no-deps torchscale==0.3.0
  need=()
  [ -x /usr/bin/chromium ] || need+=(chromium)
  command -v pg_ctlcluster >/dev/null 2>&1 || [ -d /usr/lib/postgresql ] || need+=(postgresql)
  command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
  if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    else
      echo "note: ${need[*]} not installed (needs root and apt-get); the tests that use them will skip" >&2
    fi
  fi
fi
