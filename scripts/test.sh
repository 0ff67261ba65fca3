#!/usr/bin/env bash
# Run the whole test suite against the real PC/SC stack: starts pcscd (with vsmartcard's vpcd
# driver, installed by scripts/setup.sh) when none runs, and stops it again on every exit path.
# pcscd's output goes to a log file: a daemon holding this script's stdout would hang CI.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p artifacts
started_pcscd=""
cleanup() {
  if [[ -n "$started_pcscd" ]]; then
    kill "$started_pcscd" 2>/dev/null || true
    wait "$started_pcscd" 2>/dev/null || true
  fi
}
trap cleanup EXIT INT TERM
if ! pgrep -x pcscd >/dev/null; then
  pcscd -f -a > artifacts/pcscd.log 2>&1 < /dev/null &
  started_pcscd=$!
  for _ in $(seq 50); do [[ -S /run/pcscd/pcscd.comm ]] && break; sleep 0.1; done
fi
export KIVY_NO_ARGS=1 KIVY_NO_FILELOG=1 KIVY_NO_CONSOLELOG=1 SDL_VIDEODRIVER=${SDL_VIDEODRIVER:-offscreen}
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
