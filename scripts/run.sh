#!/usr/bin/env bash
# `make run`: the kiosk in simulator mode. Until the touchscreen app lands this starts every device
# simulator, checks every device through the real drivers, and then watches them, so a tester can
# drive the simulators from another terminal (`.venv/bin/kiosk simctl ...`) and see the effect.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pcscd.sh
sim_pid=""
cleanup() {
  [[ -n "$sim_pid" ]] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  stop_pcscd
}
trap cleanup EXIT INT TERM
start_pcscd var/log/pcscd.log
mkdir -p var/sim var/log
export KIVY_NO_ARGS=1
.venv/bin/kiosk sim all > var/log/simulators.log 2>&1 &
sim_pid=$!
for _ in $(seq 100); do grep -q '^ready' var/log/simulators.log 2>/dev/null && break; sleep 0.1; done
echo "Simulators running (ports and control socket):"
sed 's/^/  /' var/log/simulators.log
echo
.venv/bin/kiosk devices check || true
cat <<'TXT'

Drive the simulators from another terminal, for example:
  .venv/bin/kiosk simctl all list                          # every simulator action
  .venv/bin/kiosk simctl idcard insert card=resident        # put an ID card on the reader
  .venv/bin/kiosk simctl fingerprint unplug                 # pull the sensor's cable
Watching the devices (Ctrl-C to stop):
TXT
.venv/bin/kiosk devices watch
