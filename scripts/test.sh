#!/usr/bin/env bash
# Run the whole test suite against the real PC/SC stack: starts pcscd (with vsmartcard's vpcd
# driver, installed by scripts/setup.sh) when none runs, and stops it again on every exit path.
# pcscd's output goes to a log file: a daemon holding this script's stdout would hang CI.
# The pcscd started here belongs to the test run: its pid is in artifacts/pcscd.pid (exported as
# KIOSK_TEST_PCSCD_PIDFILE) so that the PC/SC restart test may restart it; it then writes the new
# pid there, and the clean-up stops whichever pcscd the file names at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p artifacts
started_pcscd=""
pcscd_pidfile="$PWD/artifacts/pcscd.pid"
cleanup() {
  if [[ -n "$started_pcscd" ]]; then
    local current=""
    [[ -s "$pcscd_pidfile" ]] && current=$(cat "$pcscd_pidfile")
    if [[ -n "$current" && "$current" != "$started_pcscd" && "$(cat /proc/"$current"/comm 2>/dev/null)" == pcscd ]]; then
      kill "$current" 2>/dev/null || true
    fi
    kill "$started_pcscd" 2>/dev/null || true
    wait "$started_pcscd" 2>/dev/null || true
    rm -f "$pcscd_pidfile"
  fi
}
trap cleanup EXIT INT TERM
if ! pgrep -x pcscd >/dev/null; then
  # -f: foreground (no daemon, logs to stdout = the log file); -a: log APDUs too.
  pcscd -f -a > artifacts/pcscd.log 2>&1 < /dev/null &
  started_pcscd=$!
  echo "$started_pcscd" > "$pcscd_pidfile"
  export KIOSK_TEST_PCSCD_PIDFILE="$pcscd_pidfile"
  for _ in $(seq 50); do [[ -S /run/pcscd/pcscd.comm ]] && break; sleep 0.1; done
fi
export KIVY_NO_ARGS=1 KIVY_NO_FILELOG=1 KIVY_NO_CONSOLELOG=1 SDL_VIDEODRIVER=${SDL_VIDEODRIVER:-offscreen}
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
