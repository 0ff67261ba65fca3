# Sourced by scripts/test.sh and scripts/run.sh: start pcscd (which loads vsmartcard's vpcd
# driver) when none runs, and stop it again on every exit path (the caller traps stop_pcscd).
# Its output goes to a log file: a daemon holding the caller's stdout open would hang CI.
# The pid of the pcscd started here is kept in a pid file (exported as KIOSK_TEST_PCSCD_PIDFILE),
# so the PC/SC restart test may restart it and write the new pid back; stop_pcscd stops whichever
# pcscd the file names. No -a: APDU logging would put card UIDs in the log.
started_pcscd=""
pcscd_pidfile=""
stop_pcscd() {
  [[ -n "$started_pcscd" ]] || return 0
  local current=""
  [[ -s "$pcscd_pidfile" ]] && current=$(cat "$pcscd_pidfile")
  if [[ -n "$current" && "$current" != "$started_pcscd" && "$(cat /proc/"$current"/comm 2>/dev/null)" == pcscd ]]; then
    kill "$current" 2>/dev/null || true
  fi
  kill "$started_pcscd" 2>/dev/null || true
  wait "$started_pcscd" 2>/dev/null || true
  rm -f "$pcscd_pidfile"
  started_pcscd=""
}
start_pcscd() {  # start_pcscd LOGFILE
  local log=$1
  pgrep -x pcscd >/dev/null && return 0
  mkdir -p "$(dirname "$log")"
  # Its own session: a Ctrl-C to the caller's process group must not stop pcscd before the programs
  # that use it (pcscd handles SIGINT itself); the caller stops it last with stop_pcscd.
  setsid pcscd -f > "$log" 2>&1 < /dev/null &
  started_pcscd=$!
  pcscd_pidfile="$(cd "$(dirname "$log")" && pwd)/pcscd.pid"
  echo "$started_pcscd" > "$pcscd_pidfile"
  export KIOSK_TEST_PCSCD_PIDFILE="$pcscd_pidfile"
  for _ in $(seq 50); do [[ -S /run/pcscd/pcscd.comm ]] && break; sleep 0.1; done
}
