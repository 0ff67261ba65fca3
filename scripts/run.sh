#!/usr/bin/env bash
# `make run`: the kiosk in simulator mode — every device simulator, the touchscreen app and the
# simulator panel (a second window). On a machine with no display it starts Xvfb for them.
#
# Stopping: Ctrl-C (SIGINT to the whole process group), closing the kiosk window, or SIGTERM.
# Background children of a non-interactive shell ignore SIGINT, so nothing reacts to Ctrl-C on its
# own: this script stops what it started, newest first (the app before the panel before the
# simulators it talks to, pcscd last), each with SIGTERM, then SIGKILL after a grace period.
# Starting one more background process is one line: `start_bg NAME LOGFILE command…`.
set -euo pipefail
cd "$(dirname "$0")/.."
need_xvfb=""
[[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" && -z "${KIOSK_RUN_HEADLESS:-}" ]] && need_xvfb=1
source scripts/pcscd.sh
mkdir -p var/sim var/log
STOP_GRACE=${KIOSK_RUN_STOP_GRACE:-20}  # seconds each gets to close its devices and database (as TimeoutStopSec)

pids=() names=()
start_bg() {  # start_bg NAME LOGFILE COMMAND…: run in the background, remembered for the ordered stop
  local name=$1 logfile=$2
  shift 2
  "$@" > "$logfile" 2>&1 &
  pids+=("$!") names+=("$name")
}

stop_one() {  # stop_one PID NAME: SIGTERM, wait up to STOP_GRACE seconds, then SIGKILL
  local pid=$1 name=$2 i t0=${EPOCHREALTIME/[.,]/}
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_GRACE * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "run: $name did not stop within ${STOP_GRACE}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  local ms=$(( (${EPOCHREALTIME/[.,]/} - t0) / 1000 ))
  echo "run: stopped $name ($((ms / 1000)).$((ms % 1000 / 100)) s)"
}

stopping=""
cleanup() {
  [[ -n "$stopping" ]] && return 0
  stopping=1
  trap '' INT TERM  # a second Ctrl-C must not cut the ordered stop short
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    stop_one "${pids[i]}" "${names[i]}"
  done
  stop_pcscd
}
trap cleanup EXIT
trap 'echo; echo "run: stopping"; cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

if [[ -n $need_xvfb ]]; then
  # Our own Xvfb, not xvfb-run: in its own session (setsid) so a Ctrl-C cannot take the display away
  # before the windows on it are closed, and stopped last like everything else started here.
  n=99
  while [[ -e /tmp/.X$n-lock || -e /tmp/.X11-unix/X$n ]]; do n=$((n + 1)); done
  echo "run: no display — starting Xvfb :$n (screen 1920x1920)"
  start_bg Xvfb var/log/xvfb.log setsid Xvfb ":$n" -screen 0 1920x1920x24 -nolisten tcp
  for _ in $(seq 100); do [[ -S /tmp/.X11-unix/X$n ]] && break; sleep 0.1; done
  [[ -S /tmp/.X11-unix/X$n ]] || { echo "run: Xvfb did not start:"; cat var/log/xvfb.log; exit 1; }
  export DISPLAY=:$n
fi
start_pcscd var/log/pcscd.log
# The back office (Django on SQLite, var/backoffice.sqlite3): demo town, users, and this kiosk enrolled to it.
BO_URL=http://127.0.0.1:8765  # = [backoffice] url in config/kiosk.sim.toml
export BACKOFFICE_SQLITE_PATH=${BACKOFFICE_SQLITE_PATH:-$PWD/var/backoffice.sqlite3}
.venv/bin/python -m backoffice migrate --noinput > var/log/backoffice-setup.log 2>&1 \
  && demo=$(.venv/bin/python -m backoffice demo_setup 2>> var/log/backoffice-setup.log) \
  || { echo "run: back office set-up failed:"; tail -20 var/log/backoffice-setup.log; exit 1; }
# Texts to residents: the SMS gateway simulator plays the resident's phone (var/log/sms-phone.log, one
# line a text, number masked, whole text with the pickup code) and sms_send delivers the outbox to it.
start_bg "SMS gateway simulator" var/log/sms-gateway.log \
  .venv/bin/python -m backoffice sms_gateway_sim --port 0 --log var/log/sms-phone.log
for _ in $(seq 150); do grep -q '^ready' var/log/sms-gateway.log 2>/dev/null && break; sleep 0.1; done
BACKOFFICE_SMS_GATEWAY=$(sed -n 's/^ready: SMS gateway simulator at \(\S*\);.*/\1/p' var/log/sms-gateway.log)
[[ -n $BACKOFFICE_SMS_GATEWAY ]] || { echo "run: SMS gateway simulator did not start:"; cat var/log/sms-gateway.log; exit 1; }
export BACKOFFICE_SMS_GATEWAY
start_bg "back office" var/log/backoffice.log .venv/bin/python -m backoffice runserver --noreload --insecure "${BO_URL#http://}"
for _ in $(seq 150); do (exec 3<> "/dev/tcp/127.0.0.1/${BO_URL##*:}") 2> /dev/null && break; sleep 0.1; done
.venv/bin/kiosk enrol --if-needed "$BO_URL" "$(sed -n 's/^ENROL_CODE=//p' <<< "$demo")" \
  || echo "run: enrolment failed (see above): deposits wait in the kiosk's queue until \`kiosk enrol\` works"
start_bg "fleet check" var/log/fleet-check.log .venv/bin/python -m backoffice fleet_check --every 10
start_bg "SMS send" var/log/sms-send.log .venv/bin/python -m backoffice sms_send --loop 5
echo "Fleet dashboard: $BO_URL/fleet/ (log in as qidu-supervisor; unplug a device in the panel to see it there)"
echo "Texts to residents (the simulated phone, pickup codes included): var/log/sms-phone.log (tail -f it)"
echo "  (好差评 ratings are kept in the back office, not forwarded: make run simulates no provincial platform)"
echo "Back office: $BO_URL/ (inbox; log var/log/backoffice.log). Demo users and passwords:"
sed -n 's/^BACKOFFICE_USER=\(\S*\) BACKOFFICE_PASSWORD=\(\S*\) ROLE=\(\S*\).*/  \1  \2  (\3)/p' <<< "$demo"
export KIVY_NO_ARGS=1 KIVY_NO_FILELOG=1
start_bg simulators var/log/simulators.log .venv/bin/kiosk sim all
for _ in $(seq 100); do grep -q '^ready' var/log/simulators.log 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' var/log/simulators.log || { echo "run: simulators did not start:"; cat var/log/simulators.log; exit 1; }
echo "Simulators running (var/log/simulators.log); device check:"
.venv/bin/kiosk devices check || true
echo
echo "Opening the simulator panel and the kiosk (close the kiosk window or press Ctrl-C to stop)."
echo "The same simulator actions from a shell: .venv/bin/kiosk simctl all list"
start_bg panel var/log/panel.log .venv/bin/kiosk panel
# The app in the background too, so a Ctrl-C reaches the trap at once (bash runs traps only between
# commands, and `wait` is interruptible where a foreground command is not). Its log stays on the terminal.
.venv/bin/kiosk app --windowed "$@" &
pids+=("$!") names+=("kiosk app")
app_pid=$!
status=0
wait "$app_pid" || status=$?
exit "$status"
