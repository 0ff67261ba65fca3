#!/usr/bin/env bash
# `make run`: the kiosk in simulator mode — every device simulator, the touchscreen app and the
# simulator panel (a second window). On a machine with no display it runs itself under xvfb-run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" && -z "${KIOSK_RUN_HEADLESS:-}" ]]; then
  echo "run: no display — starting under xvfb-run (screen 1920x1920)"
  exec xvfb-run -a -s "-screen 0 1920x1920x24" bash "$0" "$@"
fi
source scripts/pcscd.sh
mkdir -p var/sim var/log
sim_pid="" panel_pid=""
cleanup() {
  [[ -n "$panel_pid" ]] && kill "$panel_pid" 2>/dev/null
  [[ -n "$sim_pid" ]] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  stop_pcscd
}
trap cleanup EXIT INT TERM
start_pcscd var/log/pcscd.log
export KIVY_NO_ARGS=1 KIVY_NO_FILELOG=1
.venv/bin/kiosk sim all > var/log/simulators.log 2>&1 &
sim_pid=$!
for _ in $(seq 100); do grep -q '^ready' var/log/simulators.log 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' var/log/simulators.log || { echo "run: simulators did not start:"; cat var/log/simulators.log; exit 1; }
echo "Simulators running (var/log/simulators.log); device check:"
.venv/bin/kiosk devices check || true
echo
echo "Opening the simulator panel and the kiosk (close the kiosk window or press Ctrl-C to stop)."
echo "The same simulator actions from a shell: .venv/bin/kiosk simctl all list"
.venv/bin/kiosk panel > var/log/panel.log 2>&1 &
panel_pid=$!
.venv/bin/kiosk app --windowed "$@"
